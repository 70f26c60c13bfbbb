"""The one place where library errors become command-line exits.

``@ops_task`` wraps every task. A task parses its arguments, calls one ``ops``
function and renders what it returns; the wrapper then decides the exit:

- a returned report's ``exit_code`` (with ``failure()``, its one-line reason, on stderr);
- an ``OpsError``: one masked line and its code;
- an ``OSError`` (a full disk, a read-only state dir, a name too long): the
  machine, not a bug; one line naming the file, exit 3 (2 for a bad name);
- anything else is a bug: one masked line naming a crash log (0600) that holds
  the traceback, exit 70; ``OPS_DEBUG=1`` prints the traceback too.

With ``--json`` a failure still prints one JSON document on stdout when the
command wrote none. Outside a project, tasks refuse to run (exit 2), except
the ones that make or need no project (``init``, ``project=False``).

Number options are text options parsed by ``number_option``: Invoke would cast
them while parsing and let a bad value escape as a traceback.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from invoke import Exit, task
from invoke.exceptions import Failure

from ops import console
from ops.errors import INTERNAL, INTERRUPTED, ConfigError, OpsError, UsageError, failure_of, from_os_error

# Tasks in these modules build or need no project (``ops init`` makes one).
_PROJECTLESS_MODULES = frozenset({"ops.tasks.init"})


def ops_task(*args: Any, project: bool | None = None, **kwargs: Any) -> Any:
    """``@task`` whose body returns a report (or None) and may raise ``OpsError``.

    ``project=False`` lets the task run outside an ops project.
    """

    def decorate(body: Callable[..., Any]) -> Any:
        needs_project = project if project is not None else body.__module__ not in _PROJECTLESS_MODULES

        @functools.wraps(body)
        def wrapper(c: Any, *a: Any, **kw: Any) -> None:
            run(body, c, a, kw, needs_project=needs_project)

        return task(**kwargs)(wrapper)

    if len(args) == 1 and callable(args[0]) and not kwargs and project is None:
        return decorate(args[0])
    return decorate


def run(
    body: Callable[..., Any], c: Any, args: tuple[Any, ...], kwargs: dict[str, Any], *, needs_project: bool
) -> None:
    """Call a task body and turn whatever happens into one exit."""
    json_mode = bool(kwargs.get("json_"))
    documents_before = console.documents_written()
    try:
        if needs_project:
            require_project()
        result = body(c, *args, **kwargs)
        code = exit_code_of(result)
    except OpsError as exc:
        if json_mode and console.documents_written() == documents_before:
            console.Output(json_mode=True).result(exc.document())
        raise Exit(console.mask(exc.one_line()), exc.exit_code) from None
    except KeyboardInterrupt:
        raise Exit("error: interrupted", INTERRUPTED) from None
    except (Exit, Failure, SystemExit):
        raise  # already an exit: Invoke reports it
    except BrokenPipeError:
        # The reader went away (``ops env.check | head``): stop quietly, as a pipe expects.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise Exit(code=1) from None
    except OSError as exc:
        # The machine said no (a full disk, a read-only state dir, a name too long): the
        # environment, not a bug. One line naming the file and what to do.
        if os.environ.get("OPS_DEBUG") == "1":
            sys.stderr.write(console.mask("".join(traceback.format_exception(exc))))
        error = from_os_error(exc)
        if json_mode and console.documents_written() == documents_before:
            console.Output(json_mode=True).result(error.document())
        raise Exit(console.mask(error.one_line()), error.exit_code) from None
    except Exception as exc:  # the one place every bug is caught
        if _is_database_error(exc):
            # A database failure no domain code named (a server that went away mid-run,
            # a statement it refused): the outside world, not a bug. One line, exit 3.
            from ops.errors import ExternalError
            from ops.pg.connect import error_text

            error = ExternalError(f"the database said: {error_text(exc)}", "check the server and rerun")
            if json_mode and console.documents_written() == documents_before:
                console.Output(json_mode=True).result(error.document())
            raise Exit(console.mask(error.one_line()), error.exit_code) from None
        line, document = crash_report(exc)
        if json_mode and console.documents_written() == documents_before:
            console.Output(json_mode=True).result(document)
        raise Exit(line, INTERNAL) from None
    if code:
        failure = failure_of(result)
        raise Exit(console.mask(failure.one_line()) if failure else None, code)


def _is_database_error(exc: BaseException) -> bool:
    """A psycopg error, recognised without importing psycopg (tasks that never
    touch a database don't pay for it)."""
    return any(cls.__module__.split(".")[0] == "psycopg" and cls.__name__ == "Error" for cls in type(exc).__mro__)


def exit_code_of(result: object) -> int:
    """The exit a task's return value asks for: a report's ``exit_code``, 0 for None
    or a report that cannot fail."""
    if result is None:
        return 0
    if isinstance(result, bool | int):
        raise TypeError("a task returns a report (with .exit_code) or None, not an int")
    code = result.get("exit_code", 0) if isinstance(result, dict) else getattr(result, "exit_code", 0)
    if not isinstance(code, int) or isinstance(code, bool):
        raise TypeError(f"exit_code of {type(result).__name__} is {code!r}, not an int")
    return code


def require_project() -> None:
    """Refuse to run outside an ops project (no ops.toml, no ``[tool.ops]``)."""
    from ops.config import find_root, is_project_root

    if not is_project_root(find_root()):
        raise ConfigError("not an ops project here", "run ops init")


def number_option(value: str | None, option: str, *, whole: bool = True, minimum: float | None = 0) -> Any:
    """A number option's text as an int (``whole``) or float; None when not given.

    ``option`` is the flag (``--jobs``). A bad value is a one-line usage error.
    """
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    expected = "a whole number" if whole else "a number"
    if minimum is not None:
        expected += f" >= {minimum:g}"
    try:
        number: float = int(text) if whole else float(text)
    except ValueError:
        number = float("nan")
    if number != number or number in (float("inf"), float("-inf")) or (minimum is not None and number < minimum):
        example = max(int(minimum or 0), 1) * (4 if whole else 1)
        raise UsageError(f"{option} expects {expected}, got '{text}'", f"for example {option} {example}")
    return number


# -- crashes -------------------------------------------------------------------------------


def crash_report(exc: BaseException) -> tuple[str, dict[str, Any]]:
    """The one line (and JSON document) for an unexpected exception, after writing its crash log."""
    trace = console.mask("".join(traceback.format_exception(exc)))
    if os.environ.get("OPS_DEBUG") == "1":
        sys.stderr.write(trace)
    log = write_crash_log(trace)
    summary = " ".join(f"{type(exc).__name__}: {exc}".split())
    summary = console.mask(summary if len(summary) <= 200 else summary[:197] + "...")
    where = f"the traceback is in {log}" if log else "no crash log could be written"
    line = f"error: internal error: {summary} (fix: a bug in ops; {where}; OPS_DEBUG=1 prints it)"
    document = {
        "ok": False,
        "error": {
            "message": f"internal error: {summary}",
            "crash_log": str(log) if log else None,
            "exit_code": INTERNAL,
        },
    }
    return line, document


def write_crash_log(trace: str) -> Path | None:
    """Write ``trace`` to a new 0600 file under the state dir (else a private temp dir)."""
    from ops import __version__

    header = f"ops {__version__} · python {sys.version.split()[0]} · argv {console.mask(' '.join(sys.argv))}\n\n"
    name = f"crash-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.log"
    for directory in _crash_dirs():
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = directory / name
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(header + trace)
            return path
        except OSError:
            continue
    return None


def _crash_dirs() -> Iterator[Path]:
    """The state dir's ``crash/`` first, then (only if needed) a new private temp dir."""
    try:
        from ops.config import load

        yield load().state_dir / "crash"
    except Exception:  # the config itself may be what crashed
        pass
    try:
        yield Path(tempfile.mkdtemp(prefix="ops-crash-"))  # 0700, ours alone
    except OSError:
        return
