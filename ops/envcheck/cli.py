"""The commit hook's own entry point: ``ops-env-check`` / ``python -m ops.envcheck``.

env.check runs on every commit, so this path loads only the standard library,
the config core and the checks: neither invoke, rich, pydantic nor psycopg
(tests/test_env_entry.py holds it to that; bench/env_check.py measures it).
``inv env.check`` renders through ``render`` below, so both print the same
lines and exit with the same codes.

    ops-env-check [--env local|staging|production] [--file F]... [--json]
    ops-env-check --example-check [--json]      # what `inv env.example --check` does
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ops.envcheck.runner import Report

USAGE = "usage: ops-env-check [--env local|staging|production] [--file PATH]... [--example-check] [--json]"


def render(report: Report, json_mode: bool) -> int:
    """Each finding and the summary as masked lines (stderr under --json), the JSON document,
    and the exit code: 0 clean (warnings allowed), 1 findings."""
    from ops.console import MaskingStream, Output

    stream = MaskingStream(sys.stderr if json_mode else sys.stdout)
    for line in [finding.render() for finding in report.findings] + [report.summary()]:
        stream.write(line + "\n")
    stream.flush()
    Output(json_mode).result(report.to_json())
    return 0 if report.ok else 1


class _Arguments:
    def __init__(self) -> None:
        self.env = "local"
        self.files: list[str] = []
        self.json = False
        self.example_check = False


def parse_arguments(argv: list[str]) -> _Arguments:
    """The few options the hook takes (argparse alone costs a tenth of the hook's budget)."""
    from ops.errors import UsageError

    parsed = _Arguments()
    queue = list(argv)
    while queue:
        option = queue.pop(0)
        name, has_value, inline = option.partition("=")
        if name in ("--env", "-e", "--file", "-f"):
            if not has_value:
                if not queue:
                    raise UsageError(f"{name} needs a value", USAGE)
                inline = queue.pop(0)
            if name in ("--env", "-e"):
                parsed.env = inline
            else:
                parsed.files.append(inline)
        elif option in ("--json", "-j"):
            parsed.json = True
        elif option == "--example-check":
            parsed.example_check = True
        elif option in ("-h", "--help"):
            print(USAGE)
            raise SystemExit(0)
        else:
            raise UsageError(f"unknown option '{option}'", USAGE)
    if parsed.example_check and (parsed.files or parsed.env != "local"):
        raise UsageError("--example-check takes no --env or --file", USAGE)
    return parsed


def main(argv: list[str] | None = None) -> int:
    """The console script: parse the options, then ``run``."""
    from ops.console import mask
    from ops.errors import OpsError

    try:
        arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    except OpsError as exc:
        print(mask(exc.one_line()), file=sys.stderr)
        return exc.exit_code
    return run(
        env=arguments.env, files=arguments.files, json_mode=arguments.json, example_check=arguments.example_check
    )


def run(*, env: str = "local", files: Sequence[str] = (), json_mode: bool = False, example_check: bool = False) -> int:
    """env.check (or env.example --check) on the project here, rendered; the exit code.

    Every failure is one masked line (and, under --json, still one JSON document) with a
    documented exit code; ``inv env.check`` calls this too.
    """
    from ops.console import mask
    from ops.errors import INTERNAL, INTERRUPTED, ConfigError, OpsError

    try:
        from ops import config
        from ops.envcheck.runner import check
        from ops.envcheck.runner import example_check as check_example

        if not config.is_project_root(config.find_root()):
            raise ConfigError("not an ops project here", "run ops init")
        cfg = config.load()
        report = check_example(cfg) if example_check else check(cfg, env, files=files)
        return render(report, json_mode)
    except OpsError as exc:
        _fail(mask(exc.one_line()), exc.document(), json_mode)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return INTERRUPTED
    except OSError as exc:  # the machine said no (a name too long, no permission): as the task layer says it
        from ops.errors import from_os_error

        error = from_os_error(exc)
        _fail(mask(error.one_line()), error.document(), json_mode)
        return error.exit_code
    except Exception as exc:  # a bug: one line and a crash log, never a traceback on the terminal
        log = _crash_log(exc)
        message = mask(f"internal error: {type(exc).__name__}: {exc}"[:200])
        line = f"error: {message} (fix: a bug in ops; the traceback is in {log}; OPS_DEBUG=1 prints it)"
        _fail(line, {"ok": False, "error": {"message": message, "crash_log": log, "exit_code": INTERNAL}}, json_mode)
        return INTERNAL


def _fail(line: str, document: dict[str, Any], json_mode: bool) -> None:
    print(line, file=sys.stderr)
    if json_mode:
        from ops.console import Output

        Output(True).result(document)


def _crash_log(exc: BaseException) -> str:
    import os
    import tempfile
    import traceback

    from ops.console import mask

    text = mask("".join(traceback.format_exception(exc)))
    if os.environ.get("OPS_DEBUG") == "1":
        sys.stderr.write(text)
    # The task layer's crash logs go under the state dir; the hook keeps to a private temp file.
    handle, path = tempfile.mkstemp(prefix="ops-env-check-crash-", suffix=".log")  # 0600
    with os.fdopen(handle, "w") as log:
        log.write(text)
    return path


if __name__ == "__main__":
    sys.exit(main())
