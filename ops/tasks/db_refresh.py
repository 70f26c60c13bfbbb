"""``inv db.refresh`` and ``db.anonymize``: staging with production's data, masked."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ops.tasks._base import number_option, ops_task

if TYPE_CHECKING:
    from ops.anonymize import CheckReport

JSON_HELP = "print one JSON document on stdout"


@ops_task(
    name="refresh",
    help={
        "from_": "where the data comes from (default production: its newest verified backup)",
        "to": "the environment whose data is replaced (default staging; never production)",
        "anonymize": "mask every personal value ([tool.ops.anonymize]); required",
        "fresh": "take a fresh export of --from instead of its newest verified backup",
        "yes": "confirm: every row of the target's copied tables is replaced",
        "jobs": "pg_dump / pg_restore jobs (default from [tool.ops.backup])",
        "json_": JSON_HELP,
    },
)
def refresh(
    c: Any,
    from_: str = "production",
    to: str = "staging",
    anonymize: bool = False,
    fresh: bool = False,
    yes: bool = False,
    jobs: str = "",
    json_: bool = False,
) -> dict[str, Any]:
    """Copy production's data into staging with every personal value masked (data only, one transaction)."""
    from ops.anonymize import refresh as run_refresh
    from ops.anonymize.render import render_refresh
    from ops.config import load
    from ops.console import Output

    out = Output(json_)
    with _progress(out) as progress:
        report = run_refresh(
            load(),
            from_env=from_,
            to_env=to,
            anonymize=anonymize,
            fresh=fresh,
            yes=yes,
            jobs=number_option(jobs, "--jobs", minimum=1),
            progress=progress,
        )
    render_refresh(out, report)
    return report


@ops_task(
    name="anonymize",
    help={
        "check": "list personal-looking columns without a rule and rules naming missing columns; exit 1 on either",
        "db": "the schema to check: migrations (a shadow built from them, default), local, staging or a URL",
        "json_": JSON_HELP,
    },
)
def anonymize(c: Any, check: bool = False, db: str = "migrations", json_: bool = False) -> CheckReport:
    """Lint the masking rules in [tool.ops.anonymize] against the migrated schema (--check)."""
    from ops.anonymize import check as run_check
    from ops.anonymize.render import render_check
    from ops.config import load
    from ops.console import Output
    from ops.errors import UsageError

    if not check:
        raise UsageError("db.anonymize only checks the rules", "pass --check (the refresh is: inv db.refresh)")
    out = Output(json_)
    with _progress(out) as progress:
        report = run_check(load(), db, step=progress)
    render_check(out, report)
    return report


class _progress:
    """A spinner naming the current step, on a terminal only."""

    def __init__(self, out: Any) -> None:
        self._out = out
        self._context: Any = None

    def __enter__(self) -> Any:
        if not sys.stderr.isatty():
            return lambda _text: None
        self._context = self._out.progress()
        progress = self._context.__enter__()
        task = progress.add_task("starting", total=None)
        return lambda text: progress.update(task, description=text)

    def __exit__(self, *exc: Any) -> None:
        if self._context is not None:
            self._context.__exit__(*exc)
