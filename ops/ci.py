"""The CI pipeline as one list of steps, run the same way locally and in GitHub Actions.

The steps come from ``[tool.ops.ci]``: the toolkit's own checks (``env-check``,
``env-example``, ``db-lint``, ``db-test``, ``db-types``) plus the project's own
commands (``[tool.ops.ci.commands.<name>]``: its lint, typecheck, tests). The
default suits a team's repository: the toolkit checks, then every configured
command. ``.github/workflows/ci.yml`` runs each step's ``workflow_run`` line in
this order (a test compares the two, and ``ops init`` renders it from the same
list), and ``run_pipeline`` runs the same commands here. Toolkit steps appear
in ci.yml as those tasks; commands as ``inv ci --step NAME``. Like Actions, the
pipeline stops at the first failing step.

``--fast`` runs the static steps only: no test suite and no database, so it
takes seconds and needs no services.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, field_validator

from ops.config import Config
from ops.console import Output
from ops.errors import CheckFailed, ConfigError, UsageError
from ops.settings import Section, did_you_mean, section


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    commands: tuple[tuple[str, ...], ...]
    workflow_run: str  # the `run:` line of ci.yml
    fast: bool
    ok_exit_codes: tuple[int, ...] = (0,)
    needs_stack: bool = False  # needs the local stack (inv dev.up) first

    def argv(self) -> list[list[str]]:
        """The commands with ``python`` replaced by this interpreter."""
        return [[sys.executable if part == "python" else part for part in command] for command in self.commands]


def _toolkit_task(name: str, title: str, *args: str, fast: bool = True, needs_stack: bool = False) -> Step:
    return Step(
        name=name,
        title=title,
        commands=(("python", "-m", "ops", *args),),
        workflow_run=shlex.join(["inv", *args]),
        fast=fast,
        needs_stack=needs_stack,
    )


# The toolkit's own checks, by step name.
TOOLKIT_STEPS: dict[str, Step] = {
    step.name: step
    for step in (
        _toolkit_task("env-check", "env files match the schema", "env.check"),
        _toolkit_task("env-example", ".env.example matches the schema", "env.example", "--check"),
        _toolkit_task("db-lint", "migration lint", "db.lint"),
        _toolkit_task("db-test", "pgTAP tests (RLS...)", "db.test", fast=False, needs_stack=True),
        _toolkit_task("db-types", "database types are up to date", "db.types", "--check", needs_stack=True),
    )
}
DEFAULT_TOOLKIT_STEPS = ("env-check", "env-example", "db-lint", "db-test")


class CommandStep(Section):
    """``[tool.ops.ci.commands.<name>]``: one of the project's own checks."""

    # Shell-style command lines, run in order from the project root ("python" is this interpreter).
    run: list[str] = Field(min_length=1)
    title: str = ""
    # Static: part of `inv ci --fast` (lint, typecheck). Test suites are not.
    fast: bool = False
    # Exit codes that count as passing (pytest's 5 = no test selected).
    ok_exit_codes: list[int] = Field(default_factory=lambda: [0], min_length=1)

    @field_validator("run", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("run")
    @classmethod
    def _shell_words(cls, value: list[str]) -> list[str]:
        for line in value:
            try:
                if not shlex.split(line):
                    raise ValueError("a command must not be empty")
            except ValueError as exc:
                raise ValueError(f"cannot parse {line!r}: {exc}") from None
        return value


class CiSettings(Section):
    section_name = "ci"

    # The pipeline, in order: toolkit step names and command names.
    # Default: the toolkit checks (env-check, env-example, db-lint, db-test), then every command.
    steps: list[str] | None = None
    commands: dict[str, CommandStep] = Field(default_factory=dict)


def ci_settings(cfg: Config) -> CiSettings:
    return section(cfg, CiSettings)


def pipeline(settings: CiSettings) -> list[Step]:
    """Every step of the pipeline, in order."""
    clash = sorted(set(settings.commands) & set(TOOLKIT_STEPS))
    if clash:
        raise ConfigError(
            f"[tool.ops.ci] commands.{clash[0]}: the name is a toolkit step",
            "rename the command (toolkit steps: " + ", ".join(TOOLKIT_STEPS) + ")",
        )
    names = settings.steps if settings.steps is not None else [*DEFAULT_TOOLKIT_STEPS, *settings.commands]
    steps: list[Step] = []
    for name in names:
        if name in TOOLKIT_STEPS:
            steps.append(TOOLKIT_STEPS[name])
        elif name in settings.commands:
            command = settings.commands[name]
            steps.append(
                Step(
                    name=name,
                    title=command.title or " && ".join(command.run),
                    commands=tuple(tuple(shlex.split(line)) for line in command.run),
                    workflow_run=f"inv ci --step {name}",
                    fast=command.fast,
                    ok_exit_codes=tuple(command.ok_exit_codes),
                )
            )
        else:
            known = [*TOOLKIT_STEPS, *settings.commands]
            suggestion = did_you_mean(name, known)
            hint = f"did you mean '{suggestion}'?" if suggestion else f"known steps: {', '.join(known)}"
            raise ConfigError(
                f"[tool.ops.ci] steps: unknown step '{name}'", f"{hint} (commands: [tool.ops.ci.commands])"
            )
    return steps


def step_names(cfg: Config) -> list[str]:
    return [step.name for step in pipeline(ci_settings(cfg))]


def select_steps(cfg: Config, *, fast: bool = False, only: str | None = None) -> list[Step]:
    """The steps a run executes, in pipeline order."""
    steps = pipeline(ci_settings(cfg))
    if only is not None:
        chosen = [step for step in steps if step.name == only]
        if not chosen:
            raise UsageError(f"unknown ci step '{only}'", f"steps: {', '.join(step.name for step in steps)}")
        return chosen
    return [step for step in steps if step.fast or not fast]


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

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else CheckFailed.exit_code

    def failure(self) -> CheckFailed | None:
        """The first failed step, as the one line the command ends with."""
        failed = next((step for step in self.steps if step.status == "failed"), None)
        if failed is None:
            return None
        return CheckFailed(
            f"ci step '{failed.name}' failed (exit {failed.exit_code})",
            f"fix it and rerun that step: inv ci --step {failed.name}",
        )


def run_pipeline(
    cfg: Config, *, fast: bool = False, only: str | None = None, out: Output | None = None
) -> PipelineReport:
    """Run the selected steps in ``cfg.root``, streaming their output; stop at the first failure."""
    out = out or Output()
    steps = select_steps(cfg, fast=fast, only=only)
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
    try:
        return subprocess.run(argv, cwd=cfg.root, env=env, stdout=stdout, stdin=subprocess.DEVNULL).returncode
    except FileNotFoundError:
        print(f"{argv[0]}: command not found", file=sys.stderr)
        return 127
    except PermissionError:
        print(f"{argv[0]}: permission denied", file=sys.stderr)
        return 126
