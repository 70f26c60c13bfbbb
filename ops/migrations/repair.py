"""``db.repair``: edit the history without running SQL, as ``supabase migration repair``.

``applied`` records versions (with their local file's statements, which also
clears drift); ``reverted`` removes them from the history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ops.config import Config
from ops.console import mask_url
from ops.errors import UsageError
from ops.guards import refuse_transaction_pooler
from ops.migrations import history
from ops.migrations.connection import connect
from ops.migrations.files import load_migrations
from ops.migrations.knobs import runner_settings
from ops.migrations.lock import migration_lock

STATUSES = ("applied", "reverted")


@dataclass
class RepairReport:
    target: str
    status: str
    versions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "status": self.status, "versions": self.versions}


def check_request(versions: list[str], status: str) -> None:
    """Refuse bad arguments before any database is looked up."""
    if status not in STATUSES:
        raise UsageError(f"unknown repair status '{status}'", "use --status applied or --status reverted")
    if not versions:
        raise UsageError("no versions given", "name them: inv db.repair 20240101000000 --status applied")
    bad = [v for v in versions if not v.isdigit()]
    if bad:
        raise UsageError(f"invalid migration version '{bad[0]}'", "versions are the digits before _ in the file name")


def repair(cfg: Config, db_url: str, versions: list[str], status: str) -> RepairReport:
    """Mark ``versions`` applied or reverted in the history of ``db_url``."""
    check_request(versions, status)
    refuse_transaction_pooler(db_url)
    files = {f.version: f for f in load_migrations(cfg.migrations_dir)}
    if status == "applied":
        missing = [v for v in versions if v not in files]
        if missing:
            raise UsageError(
                f"no local migration file for version {missing[0]}",
                "only versions with a file in supabase/migrations can be marked applied",
            )
    conn = connect(db_url, application_name="ops-repair")
    try:
        with migration_lock(conn, timeout=runner_settings(cfg).lock_wait_seconds):
            history.ensure_history_tables(conn)
            with conn.transaction():
                if status == "reverted":
                    history.forget(conn, versions)
                else:
                    for version in versions:
                        file = files[version]
                        history.record(conn, version, file.name, file.statements, upsert=True)
    finally:
        conn.close()
    return RepairReport(mask_url(db_url), status, list(versions))
