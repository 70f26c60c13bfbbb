"""``db.refresh --from production --to staging --anonymize``.

A pipeline of named, timed steps (nox style). The guards run before anything
is touched. The production data only ever lives in a scratch database
(``ops_refresh_<id>``) on the local cluster or the configured scratch server,
which is dropped at the end whatever happened. The target is written once, in
the last step, in one transaction, after the masking has been verified: no
unmasked row reaches it, and a failure anywhere leaves it as it was.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ops.anonymize.catalog import Catalog, migration_versions, read_catalog
from ops.anonymize.check import check_catalog
from ops.anonymize.connect import connect
from ops.anonymize.fakes import require_faker
from ops.anonymize.plan import MaskPlan, make_plan
from ops.anonymize.rules import RuleSet, rule_set
from ops.anonymize.settings import AnonymizeSettings, anonymize_settings
from ops.config import Config
from ops.console import register_secret
from ops.errors import CheckFailed, ConfigError, ExternalError, GuardRefused, OpsError, UsageError

Progress = Callable[[str], None]
SCRATCH_PREFIX = "ops_refresh_"


@dataclass
class Refresh:
    cfg: Config
    settings: AnonymizeSettings
    rules: RuleSet
    from_env: str
    to_env: str
    target_url: str
    scratch_server_url: str | None  # None: a throwaway cluster, made by the restore step
    scratch_database: str
    fresh: bool
    jobs: int | None
    progress: Progress
    key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    backup: Any = None
    scratch_url: str | None = None
    target_versions: list[str] | None = None
    catalog: Catalog | None = None
    plan: MaskPlan | None = None
    counts: dict[str, int] = field(default_factory=dict)
    masked_rows: dict[str, int] = field(default_factory=dict)
    loaded: Any = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    scratch_cluster: Any = None  # the throwaway cluster, destroyed at the end


def refresh(
    cfg: Config,
    *,
    from_env: str = "production",
    to_env: str = "staging",
    anonymize: bool = False,
    fresh: bool = False,
    yes: bool = False,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Copy ``from_env``'s newest verified backup (or a fresh export), masked,
    into ``to_env``. Returns the report (``exit_code`` 0, or the failing step's)."""
    state = _prepare(cfg, from_env, to_env, anonymize, yes, fresh, jobs, progress or (lambda _text: None))
    started = time.monotonic()
    failure: OpsError | None = None
    try:
        for name, run in STEPS:
            failure = _run_step(state, name, run)
            if failure is not None:
                break
    finally:
        _drop_scratch(state)
    return _report(state, failure, time.monotonic() - started)


# -- guards, before anything is touched ---------------------------------------------


def _prepare(
    cfg: Config,
    from_env: str,
    to_env: str,
    anonymize: bool,
    yes: bool,
    fresh: bool,
    jobs: int | None,
    progress: Progress,
) -> Refresh:
    from ops.guards import refuse_production_target
    from ops.targets import db_url, same_database

    cfg.env(from_env)
    cfg.env(to_env)
    refuse_production_target(cfg, to_env, "db.refresh")
    if not anonymize:
        raise UsageError(
            "db.refresh copies production data only masked", "pass --anonymize (rules: [tool.ops.anonymize])"
        )
    if to_env == from_env:
        raise UsageError(f"--from and --to are both '{to_env}'", "refresh another environment (--to staging)")
    if not yes:
        raise GuardRefused(f"db.refresh replaces every row of {to_env}'s data", "pass --yes to confirm")
    target_url = db_url(cfg, to_env)
    refuse_production_target(cfg, to_env, "db.refresh", db_url=target_url)
    settings = anonymize_settings(cfg)
    require_faker()
    server_url = _scratch_server(cfg, settings)
    database = SCRATCH_PREFIX + secrets.token_hex(5)
    if server_url is not None:
        from ops.backup.pgtools import with_database

        scratch = with_database(server_url, database)
        refuse_production_target(cfg, to_env, "db.refresh (scratch database)", db_url=scratch)
        if same_database(scratch, target_url):
            raise GuardRefused("the scratch database would be the target itself", "point scratch_db_url_env elsewhere")
    if from_env != "production":  # production as the target is refused above, in every spelling
        source = db_url(cfg, from_env)
        if same_database(source, target_url):
            raise GuardRefused(f"--from {from_env} and --to {to_env} are the same database", "check their URLs")
    return Refresh(
        cfg=cfg,
        settings=settings,
        rules=rule_set(settings),
        from_env=from_env,
        to_env=to_env,
        target_url=target_url,
        scratch_server_url=server_url,
        scratch_database=database,
        fresh=fresh,
        jobs=jobs,
        progress=progress,
    )


def _scratch_server(cfg: Config, settings: AnonymizeSettings) -> str | None:
    """The configured scratch server, else the running local dev cluster, else
    None: a throwaway cluster (CI runners, machines without a dev stack)."""
    from ops.targets import register_url_password

    if settings.scratch_db_url_env:
        url = os.environ.get(settings.scratch_db_url_env)
        if not url:
            raise ConfigError(
                f"{settings.scratch_db_url_env} is not set",
                "set it to the scratch server's URL, or unset scratch_db_url_env",
            )
        register_url_password(url)
        return url
    from ops.anonymize.scratch import running_local_cluster

    cluster = running_local_cluster(cfg)
    return cluster.url("postgres") if cluster is not None else None


def test_password(settings: AnonymizeSettings) -> str:
    password = os.environ.get(settings.test_password_env) or settings.test_password
    if not password:
        raise ConfigError(
            "no test password for staging's users",
            f"set {settings.test_password_env} (or test_password in [tool.ops.anonymize])",
        )
    register_secret(password)
    return password


# -- the steps -------------------------------------------------------------------------


def _choose_backup(state: Refresh) -> str:
    from ops.backup import export, verify
    from ops.backup.catalog import find, latest_verified
    from ops.backup.settings import load_settings

    test_password(state.settings)  # fail before any work when it is missing
    backup_settings = load_settings(state.cfg)
    if state.fresh:
        state.progress(f"exporting {state.from_env}")
        manifest = export(state.cfg, state.from_env, jobs=state.jobs)
        state.progress("verifying the export")
        result = verify(state.cfg, manifest["id"], state.from_env)
        if result["status"] != "ok":
            raise CheckFailed(f"the fresh export failed verification: {'; '.join(result['problems'])}", "rerun")
        state.backup = find(backup_settings, state.from_env, manifest["id"])
        return f"fresh export {state.backup.id}"
    state.backup = latest_verified(backup_settings, state.from_env)
    return f"backup {state.backup.id} ({state.backup.summary()['age']} old)"


def _check_target_head(state: Refresh) -> str:
    with connect(state.target_url) as conn:
        state.target_versions = migration_versions(conn)
    target_head = state.target_versions[-1] if state.target_versions else None
    backup_head = state.backup.migration_head
    if target_head != backup_head:
        raise GuardRefused(
            f"{state.to_env} is at migration {target_head or '(none)'}, the backup at {backup_head or '(none)'}",
            f"migrate {state.to_env} to the same head first (inv db.migrate --env {state.to_env}) or take a new backup",
        )
    return f"both at {target_head}"


def _restore(state: Refresh) -> str:
    from ops.backup.restore import restore_backup
    from ops.backup.settings import load_settings

    jobs = load_settings(state.cfg).resolve_jobs(state.jobs)
    where = "the configured scratch server" if state.settings.scratch_db_url_env else "the local dev cluster"
    if state.scratch_server_url is None:
        from ops.anonymize.scratch import start_throwaway_cluster

        state.progress("starting a throwaway cluster for the scratch copy")
        state.scratch_cluster = start_throwaway_cluster(state.cfg, f"{state.scratch_database}-cluster")
        state.scratch_server_url = state.scratch_cluster.url("postgres")
        where = "a throwaway cluster"
    state.scratch_url = state.scratch_server_url  # marks the database as ours to drop from here on
    try:
        state.scratch_url = restore_backup(state.backup, state.scratch_server_url, state.scratch_database, jobs)
    except OpsError as exc:
        if "extension" not in exc.message:
            raise
        raise type(exc)(
            exc.message,
            "the scratch server lacks an extension production uses: point scratch_db_url_env at a server"
            " that has it (the Supabase CLI's local database, a Supabase branch)",
        ) from None
    return f"{state.scratch_database} on {where}, pg_restore --jobs={jobs}"


def _check_scratch(state: Refresh) -> str:
    assert state.scratch_url is not None
    with connect(state.scratch_url) as conn:
        versions = migration_versions(conn)
        state.catalog = read_catalog(conn)
    if versions != state.target_versions:
        raise GuardRefused(
            f"the restored data's migration history differs from {state.to_env}'s",
            f"inv db.status --env {state.from_env} --env {state.to_env}",
        )
    lint = check_catalog(state.catalog, state.rules)
    state.plan = make_plan(state.catalog, state.rules)
    problems = [f"{item['column']} looks personal ({item['reason']}) and has no rule" for item in lint.unruled]
    problems += state.plan.problems
    if problems:
        raise CheckFailed(
            f"{len(problems)} masking rule problem(s), first: {problems[0]}",
            "add a rule in [tool.ops.anonymize] (see: inv db.anonymize --check)",
        )
    return f"{len(state.plan.copied_tables)} tables, {len(state.plan.masked_columns)} masked columns"


def _mask(state: Refresh) -> str:
    from ops.anonymize import mask as masking
    from ops.anonymize.verify import record_originals, row_counts, verify_masking

    assert state.scratch_url is not None and state.plan is not None
    password = test_password(state.settings)
    with connect(state.scratch_url) as conn:
        masking.prepare_session(conn)
        masking.empty_tables(conn, state.plan)
        state.counts = row_counts(conn, state.plan.copied_tables)
        record_originals(conn, state.plan, state.key)
        password_hash = masking.test_password_hash(conn, password) if state.plan.by_kind("password") else None
        state.masked_rows = masking.mask(conn, state.plan, state.key, password_hash, state.progress)
        state.progress("verifying the masking")
        verification = verify_masking(conn, state.plan, state.counts)
    if verification.problems:
        raise CheckFailed(
            f"masking verification failed ({len(verification.problems)} problem(s)): {verification.problems[0]}",
            "nothing was loaded; fix the rule for that column",
        )
    masked = f"{sum(state.masked_rows.values())} values in {len(state.masked_rows)} columns"
    return f"{masked}; {verification.checks} checks"


def _check_foreign_keys(state: Refresh) -> str:
    from ops.anonymize.verify import broken_foreign_keys

    assert state.scratch_url is not None and state.plan is not None and state.catalog is not None
    kept = {t.key for t in state.plan.copied_tables} | {t.key for t in state.plan.empty_tables}
    with connect(state.scratch_url) as conn:
        problems = broken_foreign_keys(conn, state.catalog, kept)
    if problems:
        raise CheckFailed(
            f"{len(problems)} foreign key(s) broken after masking: {problems[0]}",
            "nothing was loaded; empty the referencing table too (empty_tables) or keep the referenced one",
        )
    checked = sum(1 for fk in state.catalog.foreign_keys if fk.child in kept and fk.parent in kept)
    return f"{checked} foreign keys hold"


def _load(state: Refresh) -> str:
    from ops.anonymize.load import load

    assert state.scratch_url is not None and state.plan is not None and state.catalog is not None
    with connect(state.scratch_url) as source, connect(state.target_url) as target:
        target_catalog = read_catalog(target)
        state.loaded = load(
            source,
            target,
            state.plan,
            state.catalog,
            target_catalog,
            state.counts,
            state.progress,
            lock_timeout=state.settings.lock_timeout,
        )
    return f"{sum(state.loaded.tables.values())} rows into {len(state.loaded.tables)} tables, one transaction"


STEPS: list[tuple[str, Callable[[Refresh], str]]] = [
    ("choose backup", _choose_backup),
    ("check target migration head", _check_target_head),
    ("restore into scratch", _restore),
    ("check scratch and rules", _check_scratch),
    ("mask and verify", _mask),
    ("check foreign keys", _check_foreign_keys),
    ("load into target", _load),
]


def _run_step(state: Refresh, name: str, run: Callable[[Refresh], str]) -> OpsError | None:
    import psycopg

    state.progress(name)
    began = time.monotonic()
    entry: dict[str, Any] = {"name": name, "status": "ok", "seconds": 0.0, "detail": ""}
    state.steps.append(entry)
    failure: OpsError | None = None
    try:
        entry["detail"] = run(state)
    except OpsError as exc:
        failure = exc
    except psycopg.Error as exc:
        from ops.backup.pgtools import error_line

        hint = f"nothing was changed in {state.to_env}"
        if isinstance(exc, psycopg.errors.LockNotAvailable):
            hint += "; a session holds a lock on its tables: stop it, or raise lock_timeout in [tool.ops.anonymize]"
        failure = ExternalError(f"{name} failed: {error_line(exc)}", hint)
    if failure is not None:
        entry["status"], entry["detail"] = "failed", failure.message
    entry["seconds"] = round(time.monotonic() - began, 3)
    return failure


def _drop_scratch(state: Refresh) -> None:
    if state.scratch_cluster is not None:
        state.progress("removing the throwaway cluster")
        state.scratch_cluster.destroy()
        return
    if state.scratch_url is None or state.scratch_server_url is None:
        return
    from ops.backup.restore import drop_database

    state.progress(f"dropping {state.scratch_database}")
    drop_database(state.scratch_server_url, state.scratch_database)


def _report(state: Refresh, failure: OpsError | None, seconds: float) -> dict[str, Any]:
    ran = {step["name"] for step in state.steps}
    steps = state.steps + [
        {"name": n, "status": "skipped", "seconds": 0.0, "detail": ""} for n, _ in STEPS if n not in ran
    ]
    loaded = state.loaded
    return {
        "status": "failed" if failure else "ok",
        "exit_code": failure.exit_code if failure else 0,
        "error": failure.message if failure else None,
        "hint": failure.hint if failure else None,
        "from": state.from_env,
        "to": state.to_env,
        "backup": state.backup.id if state.backup is not None else None,
        "fresh": state.fresh,
        "tables": loaded.tables if loaded else {},
        "rows": sum(loaded.tables.values()) if loaded else 0,
        "emptied_tables": loaded.emptied if loaded else [],
        "masked_columns": state.plan.masked_columns if state.plan else [],
        "masked_values": state.masked_rows,
        "sequences": loaded.sequences if loaded else 0,
        "warnings": loaded.warnings if loaded else [],
        "steps": steps,
        "seconds": round(seconds, 3),
    }
