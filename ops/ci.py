"""The CI pipeline as one list of steps, run the same way locally and in GitHub Actions.

``STEPS`` is the single source of truth: ``.github/workflows/ci.yml`` runs each
step's ``workflow_run`` line in this order (a test compares the two), and
``run_pipeline`` runs the same commands here. Steps that are toolkit tasks
(``env.example --check``, ``db.lint``) appear in ci.yml as those tasks; the
others as ``inv ci --step NAME``. Like Actions, the pipeline stops at the first
failing step.

``--fast`` runs the static steps only (ruff, typecheck, env-example, db-lint):
no test suite, so it takes seconds and needs no services.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from ops.config import Config
from ops.console import Output
from ops.errors import BinaryNotFound, CheckFailed, UsageError

# pytest exits 5 when the marker selects no test: an empty suite is not a failure.
_PYTEST_NO_TESTS = 5


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    commands: tuple[tuple[str, ...], ...]
    workflow_run: str  # the `run:` line of ci.yml
    fast: bool
    requires: tuple[str, ...] = ()  # python modules the commands need
    ok_exit_codes: tuple[int, ...] = (0,)

    def argv(self) -> list[list[str]]:
        """The commands with ``python`` replaced by this interpreter."""
        return [[sys.executable if part == "python" else part for part in command] for command in self.commands]


def _toolkit_task(name: str, title: str, *args: str) -> Step:
    return Step(
        name=name,
        title=title,
        commands=(("python", "-m", "ops", *args),),
        workflow_run=shlex.join(["inv", *args]),
        fast=True,
    )


STEPS: tuple[Step, ...] = (
    Step(
        "ruff",
        "ruff lint and format check",
        (("python", "-m", "ruff", "check", "."), ("python", "-m", "ruff", "format", "--check", ".")),
        "inv ci --step ruff",
        fast=True,
        requires=("ruff",),
    ),
    Step(
        "typecheck",
        "mypy on ops/",
        (("python", "-m", "mypy", "ops"),),
        "inv ci --step typecheck",
        fast=True,
        requires=("mypy",),
    ),
    _toolkit_task("env-example", ".env.example matches the schema", "env.example", "--check"),
    _toolkit_task("db-lint", "migration lint", "db.lint"),
    Step(
        "unit",
        "unit tests (no services)",
        (("python", "-m", "pytest", "-m", "not integration", "-q"),),
        "inv ci --step unit",
        fast=False,
        requires=("pytest",),
        ok_exit_codes=(0, _PYTEST_NO_TESTS),
    ),
    Step(
        "integration",
        "integration tests (real postgres, caddy, app, k6)",
        (("python", "-m", "pytest", "-m", "integration", "-q"),),
        "inv ci --step integration",
        fast=False,
        requires=("pytest",),
        ok_exit_codes=(0, _PYTEST_NO_TESTS),
    ),
)


def step_names() -> list[str]:
    return [step.name for step in STEPS]


def select_steps(*, fast: bool = False, only: str | None = None) -> list[Step]:
    """The steps a run executes, in pipeline order."""
    if only is not None:
        chosen = [step for step in STEPS if step.name == only]
        if not chosen:
            raise UsageError(f"unknown ci step '{only}'", f"steps: {', '.join(step_names())}")
        return chosen
    return [step for step in STEPS if step.fast or not fast]


@dataclass
class StepResult:
    name: str
    title: str
    status: str  # passed, failed, not-run
    exit_code: int | None = None
    duration_s: float = 0.0
    commands: list[str] = field(default_factory=list)


@dataclass
class PipelineReport:
    steps: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(step.status == "passed" for step in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "steps": [step.__dict__ for step in self.steps],
        }

    def raise_for_status(self) -> None:
        failed = next((step for step in self.steps if step.status == "failed"), None)
        if failed is not None:
            raise CheckFailed(
                f"ci step '{failed.name}' failed (exit {failed.exit_code})",
                f"fix it and rerun that step: inv ci --step {failed.name}",
            )


def run_pipeline(
    cfg: Config, *, fast: bool = False, only: str | None = None, out: Output | None = None
) -> PipelineReport:
    """Run the selected steps in ``cfg.root``, streaming their output; stop at the first failure."""
    out = out or Output()
    steps = select_steps(fast=fast, only=only)
    _require_tools(steps)
    report = PipelineReport()
    failed = False
    for step in steps:
        result = StepResult(step.name, step.title, "not-run", commands=[shlex.join(c) for c in step.commands])
        report.steps.append(result)
        if failed:
            continue
        out.line(f"==> {step.name}: {step.title}", style="bold")
        started = time.monotonic()
        for shown, argv in zip(result.commands, step.argv(), strict=True):
            out.line(f"$ {shown}", style="dim")
            code = _run(argv, cfg, json_mode=out.json_mode)
            result.exit_code = code
            if code not in step.ok_exit_codes:
                failed = True
                break
        result.duration_s = round(time.monotonic() - started, 2)
        result.status = "failed" if failed else "passed"
        out.line(f"{'FAIL' if failed else 'ok'}   {step.name} ({result.duration_s:.1f}s)")
    passed = sum(step.status == "passed" for step in report.steps)
    out.line(f"ci: {passed}/{len(report.steps)} steps passed")
    return report


def _run(argv: list[str], cfg: Config, *, json_mode: bool) -> int:
    # cwd is the project root, which is where the toolkit finds it; OPS_PROJECT_ROOT is
    # not set here because tests in the suite resolve roots of their own temp projects.
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # In --json mode stdout carries one JSON document: the steps' own output goes to stderr.
    stdout = sys.stderr if json_mode else None
    sys.stdout.flush()
    sys.stderr.flush()
    return subprocess.run(argv, cwd=cfg.root, env=env, stdout=stdout, stdin=subprocess.DEVNULL).returncode


def _require_tools(steps: list[Step]) -> None:
    for step in steps:
        for module in step.requires:
            if importlib.util.find_spec(module) is None and shutil.which(module) is None:
                raise BinaryNotFound(
                    f"ci step '{step.name}' needs {module}, which is not installed",
                    "install the dev extra: pip install -e '.[dev]'",
                )
