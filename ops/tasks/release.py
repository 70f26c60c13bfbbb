"""``inv release.check``: is HEAD a releasable commit?"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ops.tasks._base import ops_task

if TYPE_CHECKING:
    from ops.release import ReleaseReport


@ops_task(
    help={
        "env": "also check this environment's database for migration drift (deploy-prod passes production)",
        "fetch_tag": "re-fetch HEAD's tags from origin first (CI: actions/checkout makes them lightweight)",
        "json_": "print one JSON document on stdout",
    }
)
def check(c: Any, env: str | None = None, fetch_tag: bool = False, json_: bool = False) -> ReleaseReport:
    """HEAD on an annotated v* tag (signed when required), a clean tree, no migration drift."""
    from ops.config import load
    from ops.console import Output
    from ops.release import check_release, render

    out = Output(json_)
    report = check_release(load(), env=env, fetch_tag=fetch_tag)
    render(out, report)
    out.result(report.to_dict())
    return report
