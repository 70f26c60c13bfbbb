"""``inv db.diff``, ``db.lint`` and ``db.test``: the checks around migrations.

Invoke has no variadic positionals, so file lists come as repeatable options
or after ``--`` (``inv db.lint -- a.sql b.sql``, which pre-commit uses).
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ops.tasks._base import ops_task

if TYPE_CHECKING:
    from ops.migrations.diff import DiffReport
    from ops.migrations.lint import LintReport
    from ops.migrations.pgtap import TestReport

JSON_HELP = "print one JSON document on stdout"


def _paths(c: Any, given: list[str] | None) -> list[str]:
    return [*(given or []), *shlex.split(getattr(c, "remainder", "") or "")]


@contextmanager
def _steps(out: Any) -> Iterator[Callable[[str], None]]:
    """A spinner naming the current step, on a terminal only (rich leaves a
    blank line behind on pipes and in CI logs)."""
    if not sys.stderr.isatty():
        yield lambda _text: None
        return
    with out.progress() as progress:
        task = progress.add_task("starting", total=None)
        yield lambda text: progress.update(task, description=text)


@ops_task(
    iterable=["schema"],
    help={
        "file": "write the SQL to supabase/migrations/<timestamp>_<FILE>.sql instead of printing it",
        "from_": "what the schema should start from: migrations (a shadow database, default), local, or a URL",
        "to": "the schema to reach: local (default), staging, production or a URL",
        "schema": "diff only this schema (repeatable)",
        "check": "exit 1 when there is any difference (CI: the database matches the migrations)",
        "json_": JSON_HELP,
    },
)
def diff(
    c: Any,
    file: str | None = None,
    from_: str = "migrations",
    to: str = "local",
    schema: list[str] | None = None,
    check: bool = False,
    json_: bool = False,
) -> DiffReport:
    """SQL that turns the migrations (or --from) into the target schema; self-checked."""
    from dataclasses import replace

    from ops.config import load
    from ops.console import Output
    from ops.migrations.diff import diff as run_diff
    from ops.migrations.diff import render

    out = Output(json_)
    with _steps(out) as step:
        report = run_diff(load(), source=from_, target=to, schemas=schema or [], name=file, step=step)
    report = replace(report, fail_on_changes=check)
    render(out, report)
    return report


@ops_task(
    iterable=["file"],
    help={
        "file": "a file to lint (repeatable; or list files after --)",
        "all_": "lint every migration, not only the pending and changed ones",
        "json_": JSON_HELP,
    },
)
def lint(c: Any, file: list[str] | None = None, all_: bool = False, json_: bool = False) -> LintReport:
    """squawk plus RLS/security rules on the pending and changed migrations; exit 1 on errors."""
    from ops.config import load
    from ops.console import Output
    from ops.migrations.lint import lint as run_lint
    from ops.migrations.lint import render

    out = Output(json_)
    report = run_lint(load(), _paths(c, file), include_all=all_)
    render(out, report)
    return report


@ops_task(
    iterable=["path"],
    help={
        "path": "a test file or directory (repeatable; or list them after --; default supabase/tests)",
        "keep": "keep the test database afterwards (its name is printed)",
        "env": "run against this environment's database instead (staging), each file rolled back; never production",
        "json_": JSON_HELP,
    },
)
def test(c: Any, path: list[str] | None = None, keep: bool = False, env: str = "", json_: bool = False) -> TestReport:
    """pgTAP tests with pg_prove on a fresh database built from the migrations and seeds (or --env staging)."""
    from ops.config import load
    from ops.console import Output
    from ops.migrations.pgtap import render, run_tests, run_tests_on_env

    out = Output(json_)
    with _steps(out) as step:
        if env:
            report = run_tests_on_env(load(), env, _paths(c, path), step=step)
        else:
            report = run_tests(load(), _paths(c, path), keep=keep, step=step)
    render(out, report)
    return report
