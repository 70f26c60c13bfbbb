"""``load.run`` as a pipeline of small steps: plan, guard, target, run, parse, judge."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops.config import Config
from ops.errors import ConfigError, ExternalError, UsageError
from ops.load import artillery as artillery_engine
from ops.load import k6 as k6_engine
from ops.load.process import ProgressCallback, run_engine, tail
from ops.load.scenarios import available, scenario_script
from ops.load.settings import (
    ENGINES,
    SCRIPT_SUFFIXES,
    LoadSettings,
    check_caps,
    format_duration,
    load_settings,
    parse_count,
    parse_duration,
)
from ops.load.summary import LoadSummary, ThresholdResult, judge, parse_artillery, parse_k6, read_json
from ops.load.target import Target, guard, resolve_target, trust_bundle
from ops.targets import configured_url

if TYPE_CHECKING:
    from ops.console import Output

RUNS_KEPT = 20
# How long past its duration an engine may run before it is stopped: k6's gracefulStop (30 s),
# a setup() that waits out the rate limit (up to 90 s), start-up and the summary.
ENGINE_GRACE_SECONDS = 180.0


@dataclass(frozen=True)
class RunPlan:
    scenario: str
    engine: str
    script: Path
    vus: int
    duration_s: float
    iterations: int | None
    settings: LoadSettings


@dataclass
class LoadReport:
    plan: RunPlan
    target: Target
    summary: LoadSummary
    thresholds: list[ThresholdResult]
    engine_exit_code: int
    run_dir: Path
    log_file: Path
    summary_file: Path
    wall_seconds: float

    @property
    def failed_thresholds(self) -> list[ThresholdResult]:
        return [result for result in self.thresholds if not result.passed]

    @property
    def passed(self) -> bool:
        return not self.failed_thresholds and self.engine_exit_code == 0

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.plan.scenario,
            "engine": self.plan.engine,
            "env": self.target.env,
            "target": self.target.base_url,
            "script": str(self.plan.script),
            "vus": self.plan.vus,
            "duration_s": self.plan.duration_s,
            "iterations": self.plan.iterations,
            **self.summary.to_dict(),
            "thresholds": [vars(result) for result in self.thresholds],
            "passed": self.passed,
            "exit_code": self.exit_code,
            "engine_exit_code": self.engine_exit_code,
            "summary_file": str(self.summary_file),
            "log_file": str(self.log_file),
            "warnings": list(self.target.warnings),
        }


def run(
    cfg: Config,
    scenario: str | None = None,
    *,
    env: str = "staging",
    engine: str | None = None,
    vus: int | None = None,
    duration: str | None = None,
    script: str | Path | None = None,
    base_url: str | None = None,
    out: Output | None = None,
) -> LoadReport:
    """Run one bounded load test and return its normalised report.

    Production is refused (by name, then by URL) before anything starts. The
    report's ``exit_code`` is 0 when every threshold passed, else 1; engine
    failures raise ``ExternalError`` (exit 3).
    """
    guard(cfg, env)
    plan = plan_run(cfg, scenario, engine=engine, vus=vus, duration=duration, script=script)
    target = resolve_target(cfg, env, plan.settings, plan.scenario, base_url)
    # Refusals and checks that need no run: an Artillery script naming another host, the k6 release.
    if plan.engine == "artillery":
        artillery_engine.refuse_other_hosts(
            artillery_engine.read_script(plan.script), plan.script.name, target.base_url
        )
    else:
        k6_engine.check_version(k6_engine.find_k6(), cfg.state_dir / "cache")
    run_dir = new_run_dir(cfg, plan)
    if out is not None:
        for warning in target.warnings:
            out.warn(warning)
    started = time.monotonic()
    if plan.engine == "k6":
        code, summary, summary_file = _run_k6(cfg, plan, target, run_dir, out)
    else:
        code, summary, summary_file = _run_artillery(cfg, plan, target, run_dir, out)
    return LoadReport(
        plan=plan,
        target=target,
        summary=summary,
        thresholds=judge(summary, plan.settings.thresholds),
        engine_exit_code=code,
        run_dir=run_dir,
        log_file=run_dir / "engine.log",
        summary_file=summary_file,
        wall_seconds=round(time.monotonic() - started, 3),
    )


def plan_run(
    cfg: Config,
    scenario: str | None,
    *,
    engine: str | None = None,
    vus: int | None = None,
    duration: str | None = None,
    script: str | Path | None = None,
) -> RunPlan:
    """Everything decided before the run: engine, script, VUs, duration (capped)."""
    requested_vus = parse_count(vus, "--vus")
    if not scenario and not script:
        scenarios = ", ".join(available(load_settings(cfg, "").scripts_dir))
        raise UsageError("nothing to run", f"pass --scenario ({scenarios}) or --script PATH")
    script_path = _user_script(cfg, script) if script else None
    engine = engine or (_engine_for(script_path) if script_path else "k6")
    if engine not in ENGINES:
        raise UsageError(f"unknown engine '{engine}'", f"use one of: {', '.join(ENGINES)}")
    if script_path is not None and script_path.suffix not in SCRIPT_SUFFIXES[engine]:
        raise UsageError(
            f"{script_path.name} is not a {engine} script", f"{engine} runs {', '.join(SCRIPT_SUFFIXES[engine])} files"
        )
    name = scenario or (script_path.stem if script_path else "")
    settings = load_settings(cfg, name)
    if script_path is None:
        # The project's infra/tests/load/<name>, else the toolkit's packaged scenario of that name.
        script_path = scenario_script(settings.scripts_dir, name, engine)
    # Explicit values above the caps are refused; configured defaults are lowered to them.
    run_vus = requested_vus or min(settings.vus, settings.max_vus)
    run_duration = parse_duration(duration) if duration else min(settings.duration_s, settings.max_duration_s)
    check_caps(settings, run_vus, run_duration)
    return RunPlan(name, engine, script_path, run_vus, run_duration, settings.iterations, settings)


def new_run_dir(cfg: Config, plan: RunPlan) -> Path:
    """A fresh private directory for the run's files (engine logs may hold what the app
    answered); only the newest runs are kept."""
    root = cfg.state_dir / "load"
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    run_dir = root / f"{stamp}-{plan.scenario}-{plan.engine}-{os.getpid()}"
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        run_dir.mkdir(mode=0o700)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the run directory {run_dir}: {exc.strerror}",
            f"make {cfg.state_dir} writable, or set state_dir in [tool.ops]",
        ) from None
    for old in sorted(path for path in root.iterdir() if path.is_dir())[:-RUNS_KEPT]:
        shutil.rmtree(old, ignore_errors=True)
    return run_dir


def _run_k6(
    cfg: Config, plan: RunPlan, target: Target, run_dir: Path, out: Output | None
) -> tuple[int, LoadSummary, Path]:
    k6 = k6_engine.find_k6()
    expressions = k6_engine.k6_thresholds(plan.settings.thresholds)
    # Production's host is blocked inside k6 too: a script that ignores BASE_URL cannot reach it.
    blocked = k6_engine.blocked_targets(configured_url(cfg, "production", "base"), target.base_url)
    entry = k6_engine.write_entry(run_dir, plan.script, expressions, plan.settings.expected_statuses, blocked)
    summary_file = run_dir / "k6-summary.json"
    argv = k6_engine.k6_argv(
        k6, entry, summary_file, vus=plan.vus, duration=format_duration(plan.duration_s), iterations=plan.iterations
    )
    env = k6_engine.k6_env(dict(os.environ), target.variables, trust_bundle(target, run_dir))
    code = _execute(plan, target, argv, env, run_dir, out)
    if code not in (0, k6_engine.THRESHOLDS_FAILED_EXIT):
        reason = k6_engine.EXIT_REASONS.get(code, "k6 failed")
        raise ExternalError(
            f"k6 exited with {code} ({reason}): {tail(run_dir / 'engine.log')}", f"see {run_dir / 'engine.log'}"
        )
    summary = parse_k6(read_json(summary_file, "k6"), expressions)
    _require_traffic(summary, run_dir)
    return code, summary, summary_file


def _run_artillery(
    cfg: Config, plan: RunPlan, target: Target, run_dir: Path, out: Output | None
) -> tuple[int, LoadSummary, Path]:
    artillery = artillery_engine.find_artillery(cfg)
    script = artillery_engine.read_script(plan.script)
    report_file = run_dir / "artillery-report.json"
    override = artillery_engine.overrides(vus=plan.vus, duration_s=plan.duration_s, iterations=plan.iterations)
    argv = artillery_engine.artillery_argv(artillery, plan.script, report_file, target.base_url, override)
    env = artillery_engine.artillery_env(dict(os.environ), target.variables, target.ca_files, run_dir)
    code = _execute(plan, target, argv, env, run_dir, out)
    # Artillery exits 1 (or 21, a failed expectation) both when a check fails and when it could
    # not run at all; only a report with counters tells the first case apart.
    report = read_json(report_file, "artillery") if report_file.is_file() else {}
    if code not in artillery_engine.RAN_EXIT_CODES or not report.get("aggregate", {}).get("counters"):
        raise ExternalError(
            f"artillery exited with {code}: {tail(run_dir / 'engine.log')}", f"see {run_dir / 'engine.log'}"
        )
    summary = parse_artillery(report, plan.settings.expected_statuses)
    _require_traffic(summary, run_dir)
    checks = artillery_engine.script_ensure_checks(script)
    summary.script_thresholds = artillery_engine.judge_script_checks(artillery, checks, report_file, run_dir)
    return code, summary, report_file


def _execute(
    plan: RunPlan, target: Target, argv: list[str], env: dict[str, str], run_dir: Path, out: Output | None
) -> int:
    log = run_dir / "engine.log"
    cwd = plan.script.parent
    deadline = plan.duration_s + ENGINE_GRACE_SECONDS
    if out is None:
        return run_engine(argv, env=env, cwd=cwd, log_path=log, deadline_s=deadline)
    label = f"{plan.engine} {plan.scenario} -> {target.base_url}"

    @contextmanager
    def display() -> Iterator[ProgressCallback]:
        with out.progress() as progress:
            task = progress.add_task(label, total=plan.duration_s)
            yield lambda elapsed: progress.update(task, completed=elapsed)

    return run_engine(argv, env=env, cwd=cwd, log_path=log, deadline_s=deadline, progress=display)


def _require_traffic(summary: LoadSummary, run_dir: Path) -> None:
    if summary.requests == 0:
        raise ExternalError("the run sent no requests", f"see {run_dir / 'engine.log'}")


def _user_script(cfg: Config, script: str | Path) -> Path:
    path = Path(script).expanduser()
    candidates = [path] if path.is_absolute() else [Path.cwd() / path, cfg.root / path]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise UsageError(f"script {script} does not exist", "pass the path of a k6 .js or Artillery .yml file")


def _engine_for(script: Path) -> str:
    for engine, suffixes in SCRIPT_SUFFIXES.items():
        if script.suffix in suffixes:
            return engine
    raise UsageError(f"cannot tell the engine of {script.name}", "use a .js (k6) or .yml (Artillery) file")
