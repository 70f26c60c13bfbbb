"""The ``ops`` console script: an Invoke program over the same namespace as tasks.py.

It lives in the task layer because it is built on Invoke; the library (``ops/<domain>``) never imports it."""

from __future__ import annotations

import os
import sys

from invoke import Exit, Program
from invoke.parser import ParseError

from ops import __version__

_HINT = "(fix: see 'ops --list' and 'ops --help TASK')"


class OpsProgram(Program):
    """Like ``inv``, but a command-line parse error is a usage error (exit 2)."""

    def parse_core(self, argv: list[str] | None) -> None:
        try:
            super().parse_core(argv)
        except ParseError as exc:
            raise Exit(f"error: {exc} {_HINT}", 2) from None

    def parse_tasks(self) -> None:
        try:
            super().parse_tasks()
        except ParseError as exc:
            raise Exit(f"error: {exc} {_HINT}", 2) from None


def main(argv: list[str] | None = None) -> None:
    from ops.tasks import build_namespace, named_namespaces

    # A command line that starts with a task builds only the namespaces it names: the
    # others' modules and Invoke's parser contexts for their tasks cost every command.
    try:
        namespace = build_namespace(only=named_namespaces(list(sys.argv[1:] if argv is None else argv[1:])))
        OpsProgram(namespace=namespace, version=__version__, name="ops", binary="ops").run(argv)
    except KeyboardInterrupt:
        # A second Ctrl-C (or SIGTERM) while the first one's clean-up runs: the task layer
        # already said "interrupted"; exit as an interrupted command does, without a traceback.
        sys.exit(130)
    except BrokenPipeError:
        # The reader went away (``ops --list | head``): stop quietly, as a pipe expects.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)


if __name__ == "__main__":
    main()
