"""Which versions are applied where: one environment, or a parity table.

Reading never writes: a database without the history table has nothing applied.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ops.config import Config
from ops.console import mask_url
from ops.migrations import history
from ops.migrations.connection import connect
from ops.migrations.files import MigrationFile, load_migrations
from ops.migrations.plan import has_drifted


@dataclass
class VersionStatus:
    version: str
    name: str
    file: str | None  # the local file name, None when only the target has it
    applied: bool
    drift: bool
    applied_at: datetime | None

    @property
    def state(self) -> str:
        if not self.applied:
            return "pending"
        if self.file is None:
            return "applied (no local file)"
        return "drift" if self.drift else "applied"


@dataclass
class TargetStatus:
    env: str
    target: str
    versions: list[VersionStatus] = field(default_factory=list)

    @property
    def applied(self) -> set[str]:
        return {v.version for v in self.versions if v.applied}

    @property
    def problems(self) -> list[VersionStatus]:
        return [v for v in self.versions if v.applied and (v.drift or v.file is None)]

    @property
    def exit_code(self) -> int:
        """1 when a version drifted or has no local file (checks found problems)."""
        return 1 if self.problems else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "target": self.target,
            "versions": [{**vars(v), "state": v.state} for v in self.versions],
            "pending": sum(1 for v in self.versions if not v.applied),
            "problems": len(self.problems),
        }


@dataclass
class ParityReport:
    targets: list[TargetStatus]

    @property
    def differences(self) -> list[str]:
        """Versions whose state is not the same on every target."""
        states: dict[str, set[str]] = {}
        for target in self.targets:
            by_version = {v.version: v.state for v in target.versions}
            for version in self._versions():
                states.setdefault(version, set()).add(by_version.get(version, "pending"))
        return [version for version, seen in states.items() if len(seen) > 1]

    @property
    def exit_code(self) -> int:
        """1 when the environments differ."""
        return 1 if self.differences else 0

    def _versions(self) -> list[str]:
        return sorted({v.version for target in self.targets for v in target.versions})

    def rows(self) -> list[tuple[str, str, list[str]]]:
        """(version, name, state per target) for every version anywhere."""
        result = []
        for version in self._versions():
            name, states = "", []
            for target in self.targets:
                found = next((v for v in target.versions if v.version == version), None)
                name = name or (found.name if found else "")
                states.append(found.state if found else "pending")
            result.append((version, name, states))
        return result

    def to_dict(self) -> dict[str, Any]:
        envs = [t.env for t in self.targets]
        return {
            "environments": envs,
            "targets": {t.env: t.target for t in self.targets},
            "versions": [
                {"version": v, "name": n, "states": dict(zip(envs, s, strict=True))} for v, n, s in self.rows()
            ],
            "differences": self.differences,
            "in_parity": not self.differences,
        }


def target_status(cfg: Config, db_url: str, env: str = "", local: list[MigrationFile] | None = None) -> TargetStatus:
    """Every local or applied version on ``db_url`` with its state."""
    local = load_migrations(cfg.migrations_dir) if local is None else local
    conn = connect(db_url, application_name="ops-status")
    try:
        applied = history.read_applied(conn)
    finally:
        conn.close()
    result = TargetStatus(env, mask_url(db_url))
    files = {f.version: f for f in local}
    for version in sorted(set(files) | set(applied)):
        file, row = files.get(version), applied.get(version)
        result.versions.append(
            VersionStatus(
                version=version,
                name=file.name if file else (row.name if row else ""),
                file=file.filename if file else None,
                applied=row is not None,
                drift=bool(file and row and has_drifted(file, row)),
                applied_at=row.applied_at if row else None,
            )
        )
    return result


def parity(cfg: Config, targets: dict[str, str]) -> ParityReport:
    """The status of several environments side by side (``{env: db_url}``)."""
    local = load_migrations(cfg.migrations_dir)
    return ParityReport([target_status(cfg, url, env, local) for env, url in targets.items()])
