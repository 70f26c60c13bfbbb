"""Environment validation: .env parsing, the schema and its checks.

Public API (what ``inv env.check`` / ``inv env.example`` call)::

    from ops import config, envcheck
    report = envcheck.check(config.load(), "staging", files=["ci.env"])
    report.ok, report.findings, report.to_json()
    envcheck.write_example(config.load())
    envcheck.example_check(config.load())
"""

from __future__ import annotations

from ops.envcheck.runner import Report, check, example_check, write_example

__all__ = ["Report", "check", "example_check", "write_example"]
