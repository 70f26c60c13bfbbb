"""``backup.drill``: prove that a backup restores and serves the app, and
measure RTO and RPO.

The drill is an explicit list of named steps (nox style). Guards run before
anything is touched; after that every step is timed and recorded, a failing
step stops the rest, and the report (JSON + Markdown under
``<backup root>/drills/``) is written whatever happened.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ops.backup import restore as restore_ops
from ops.backup.catalog import Backup, find
from ops.backup.content import database_settings
from ops.backup.crypto import identities
from ops.backup.manifest import iso, now_utc
from ops.backup.pgtools import target, with_database
from ops.backup.report import write_report
from ops.backup.settings import BackupSettings, load_settings
from ops.backup.smoke import SmokeCheck, smoke_checks
from ops.backup.verify import verify_backup
from ops.config import Config
from ops.console import register_secret
from ops.errors import CheckFailed, ConfigError, ExternalError, GuardRefused, OpsError
from ops.guards import refuse_production_target
from ops.targets import db_url

if TYPE_CHECKING:
    from ops.console import Output
    from ops.stack.app import AppProcess


@dataclass
class Drill:
    cfg: Config
    settings: BackupSettings
    from_env: str
    to_env: str
    server_url: str
    backup: Backup
    jobs: int
    database: str
    started: datetime = field(default_factory=now_utc)
    steps: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    app: AppProcess | None = None
    restore_started: float | None = None
    smoke_passed: float | None = None
    server_major: int | None = None

    @property
    def database_url(self) -> str:
        return with_database(self.server_url, self.database)

    def check(self, name: str, expected: Any, actual: Any) -> bool:
        passed = expected == actual
        self.checks.append(
            {"name": name, "status": "ok" if passed else "failed", "expected": expected, "actual": actual}
        )
        return passed


Step = tuple[str, Callable[[Drill], str]]


def drill(
    cfg: Config,
    *,
    from_env: str | None = None,
    to_env: str | None = None,
    backup_id: str | None = None,
    keep: bool = False,
    jobs: int | None = None,
    out: Output | None = None,
) -> dict[str, Any]:
    """Restore a backup of ``from_env`` into ``drill_<id>`` on ``to_env``'s server,
    check it and smoke-test the app on it. Returns the report; ``status`` is
    "ok" or "failed" (``exit_code`` 1 for failed checks, 3 for external failures)."""
    settings = load_settings(cfg)
    steps = drill_steps(cfg)
    from_env = from_env or settings.drill_from
    to_env = to_env or settings.drill_to
    cfg.env(from_env)
    server_url = guard_target(cfg, to_env)
    backup = find(settings, from_env, backup_id)
    state = Drill(
        cfg=cfg,
        settings=settings,
        from_env=from_env,
        to_env=to_env,
        server_url=server_url,
        backup=backup,
        jobs=settings.resolve_jobs(jobs),
        database=drill_database_name(backup.id),
    )
    refuse_production_target(cfg, to_env, "backup.drill", db_url=state.database_url, whole_server=True)
    if backup.encrypted:
        identities()  # a missing or bad OPS_BACKUP_IDENTITY is one line, before anything is touched
    try:
        if backup.manifest.get("storage"):
            steps.insert(
                steps.index(("check row counts", _check_counts)) + 1, ("check storage objects", _check_storage)
            )
        failure = _run_steps(state, steps, out)
    finally:
        # Also on Ctrl-C or a bug: never leave the app running or a stray database.
        _clean_up(state, keep, out)
    report = _report(state, failure, keep)
    paths = write_report(settings.drills_dir, report)
    return {**report, **paths}


def guard_target(cfg: Config, to_env: str) -> str:
    """The ``--to`` server's URL, refused when it is production by name or by URL."""
    cfg.env(to_env)
    if to_env == "production":
        raise GuardRefused("backup.drill never restores into production", "use --to staging or --to local")
    url = db_url(cfg, to_env)
    refuse_production_target(cfg, to_env, "backup.drill", db_url=url, whole_server=True)
    return url


def drill_database_name(backup_id: str) -> str:
    return "drill_" + "".join(ch if ch.isalnum() else "_" for ch in backup_id.lower())


# -- the steps ------------------------------------------------------------------


def _verify(state: Drill) -> str:
    result = verify_backup(state.backup)
    if result["status"] == "unknown":
        raise ExternalError(
            f"backup {state.backup.id} could not be verified: {'; '.join(result['problems'])}",
            "install the PostgreSQL client binaries (pg_restore)",
        )
    if result["status"] != "ok":
        raise CheckFailed(
            f"backup {state.backup.id} failed verification: {'; '.join(result['problems'])}",
            "drill an intact backup (--backup ID) and take a new export",
        )
    return f"{result['files_checked']} files, {result['toc_entries']} TOC entries"


def _create(state: Drill) -> str:
    state.restore_started = time.monotonic()
    settings = database_settings(state.backup)
    state.server_major = restore_ops.create_database(state.server_url, state.database, settings)
    return f"{state.database} on {target(state.server_url).display().rsplit('/', 1)[0]}"


def _restore(state: Drill) -> str:
    return restore_ops.restore(state.backup, state.database_url, state.jobs, server_major=state.server_major)


def _analyze(state: Drill) -> str:
    restore_ops.analyze(state.database_url, state.jobs)
    return f"vacuumdb --analyze-in-stages --jobs={state.jobs}"


def _check_head(state: Drill) -> str:
    expected = state.backup.migration_head
    actual = restore_ops.restored_migration_head(state.database_url)
    if not state.check("migration head", expected, actual):
        raise CheckFailed(f"migration head is {actual}, the manifest says {expected}", "inspect the restored database")
    return f"head {actual}"


def _check_counts(state: Drill) -> str:
    expected: dict[str, int] = state.backup.manifest.get("row_counts", {})
    actual = restore_ops.row_counts(state.database_url, list(expected))
    wrong = [table for table in expected if not state.check(f"rows {table}", expected[table], actual[table])]
    if wrong:
        first = wrong[0]
        raise CheckFailed(
            f"row counts differ in {len(wrong)} table(s), first {first}:"
            f" {actual[first]} restored, {expected[first]} in the manifest",
            "inspect the restored database (rerun with --keep)",
        )
    return f"{len(expected)} tables, {sum(expected.values())} rows"


def _start_app(state: Drill) -> str:
    from ops.pg.cluster import free_port

    try:
        from ops.stack.app import AppProcess
    except ImportError as exc:
        raise ConfigError(f"cannot load the app runner: {exc}", "install ops-toolkit with the [app] extra") from None

    tokens = {"ADMIN_TOKEN": secrets.token_urlsafe(24), "RATE_LIMIT_BYPASS_TOKEN": secrets.token_urlsafe(24)}
    for token in tokens.values():
        register_secret(token)
    state.settings.drills_dir.mkdir(parents=True, exist_ok=True)
    log_file = state.settings.drills_dir / f"{state.database}.app.log"
    state.app = AppProcess(state.cfg, state.database_url, free_port(), log_file, extra_env=tokens)
    state.app.start()
    try:
        state.app.wait_ready(timeout=state.settings.app_timeout)
    except ExternalError as exc:
        raise CheckFailed(f"the app did not become ready on the restored database: {exc.message}", exc.hint) from None
    return state.app.url


def _smoke(check: SmokeCheck) -> Callable[[Drill], str]:
    def step(state: Drill) -> str:
        assert state.app is not None
        status, body = _get_json(state.app.url + check.path)
        state.check(f"GET {check.path}", check.status, status)
        detail = check.verify(status, body)
        state.smoke_passed = time.monotonic()
        return detail

    return step


def _get_json(url: str) -> tuple[int, Any]:
    # Imported here: every backup command loads this module, only the drill's smoke checks need it.
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except OSError as exc:
        raise ExternalError(f"GET {url} failed: {exc}", "see the app log in the drills directory") from None
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        body = {}
    return status, body


STEPS: list[Step] = [
    ("verify backup", _verify),
    ("create database", _create),
    ("restore", _restore),
    ("analyze", _analyze),
    ("check migration head", _check_head),
    ("check row counts", _check_counts),
    ("start app", _start_app),
]


def _check_storage(state: Drill) -> str:
    from ops.backup.storage import check_storage

    return check_storage(state.backup, state.check)


def drill_steps(cfg: Config) -> list[Step]:
    """The fixed steps, then one per configured smoke check ([[tool.ops.backup.drill.smoke]])."""
    return [*STEPS, *((check.name, _smoke(check)) for check in smoke_checks(cfg))]


# -- running and reporting ----------------------------------------------------------


def _run_steps(state: Drill, steps: list[Step], out: Output | None) -> OpsError | None:
    """Run the steps in order; the first failure stops the rest. Returns it."""
    failure: OpsError | None = None
    # The bar on a terminal only (each step's line is printed either way).
    progress_context = out.progress() if out is not None and sys.stderr.isatty() else None
    progress = progress_context.__enter__() if progress_context is not None else None
    task_id = progress.add_task("drill", total=len(steps)) if progress is not None else None
    try:
        for name, run in steps:
            if failure is not None:
                state.steps.append({"name": name, "status": "skipped", "seconds": 0.0, "detail": ""})
                continue
            if progress is not None:
                progress.update(task_id, description=f"drill: {name}")  # type: ignore[arg-type]
            began = time.monotonic()
            try:
                detail, status = run(state), "ok"
            except OpsError as exc:
                failure, detail, status = exc, exc.message, "failed"
            seconds = round(time.monotonic() - began, 3)
            state.steps.append({"name": name, "status": status, "seconds": seconds, "detail": detail})
            if progress is not None:
                progress.update(task_id, advance=1)  # type: ignore[arg-type]
            if out is not None:
                out.line(f"{status:<7} {name:<24} {seconds:7.2f}s  {detail}")
    finally:
        if progress_context is not None:
            progress_context.__exit__(None, None, None)
    return failure


def _clean_up(state: Drill, keep: bool, out: Output | None) -> None:
    if state.app is not None:
        state.app.stop()
    # Only a database this drill created is ever dropped.
    if not any(s["name"] == "create database" and s["status"] == "ok" for s in state.steps):
        return
    if keep:
        if out is not None:
            out.line(f"kept database {state.database} (--keep)")
        return
    try:
        restore_ops.drop_database(state.server_url, state.database)
    except OpsError as exc:
        if out is not None:
            out.warn(f"could not drop {state.database}: {exc.message}")


def _report(state: Drill, failure: OpsError | None, keep: bool) -> dict[str, Any]:
    finished = now_utc()
    rto = None
    if failure is None and state.restore_started is not None and state.smoke_passed is not None:
        rto = round(state.smoke_passed - state.restore_started, 3)
    rpo = round((finished - state.backup.snapshot_at).total_seconds(), 3)
    return {
        "drill_id": f"{state.started.strftime('%Y%m%dT%H%M%SZ')}-{state.backup.id}",
        "status": "failed" if failure else "ok",
        "exit_code": failure.exit_code if failure else 0,
        "error": failure.one_line() if failure else None,
        "from_env": state.from_env,
        "to_env": state.to_env,
        "server": target(state.server_url).display().rsplit("/", 1)[0],
        "database": state.database,
        "kept": keep and any(s["name"] == "create database" and s["status"] == "ok" for s in state.steps),
        "backup": {
            "id": state.backup.id,
            "snapshot_at": state.backup.manifest["snapshot_at"],
            "migration_head": state.backup.migration_head,
            "size_bytes": state.backup.size_bytes,
        },
        "started_at": iso(state.started),
        "finished_at": iso(finished),
        "rto_seconds": rto,
        "rpo_seconds": rpo,
        "steps": state.steps,
        "checks": state.checks,
    }
