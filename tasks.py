"""Invoke entry point: every task comes from the ops toolkit."""

from ops.tasks import ns

__all__ = ["ns"]
