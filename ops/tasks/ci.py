"""``inv ci``: exactly what .github/workflows/ci.yml runs, in the same order ([tool.ops.ci])."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ops.tasks._base import ops_task

if TYPE_CHECKING:
    from ops.ci import PipelineReport


@ops_task(
    help={
        "fast": "only the static checks (no test suites, no database)",
        "step": "run only this step (what each ci.yml step calls)",
        "json_": "print one JSON document on stdout (step output goes to stderr)",
    }
)
def ci(c: Any, fast: bool = False, step: str | None = None, json_: bool = False) -> PipelineReport:
    """Run the CI pipeline locally: the steps of [tool.ops.ci], as ci.yml runs them."""
    from ops.ci import run_pipeline
    from ops.config import load
    from ops.console import Output

    out = Output(json_)
    report = run_pipeline(load(), fast=fast, only=step, out=out)
    out.result(report.to_dict())
    return report
