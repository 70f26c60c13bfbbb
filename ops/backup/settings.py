"""``[tool.ops.backup]``: where backups live, how they are made, sealed and kept.

```toml
[tool.ops.backup]
repository = "s3://acme-backups/db"   # or a local path (default ".ops/backups")
encrypt_to = ["age1..."]               # age recipients: export needs only these
jobs = 2
compression = 6

[tool.ops.backup.s3]                   # how to reach the store (boto3's standard env by default)
endpoint_url = "https://${R2_ACCOUNT_ID}.r2.cloudflarestorage.com"
access_key_id_env = "R2_ACCESS_KEY_ID"
secret_access_key_env = "R2_SECRET_ACCESS_KEY"
region = "auto"

[tool.ops.backup.environments.staging]
repository = "s3://acme-staging-backups/db"

[tool.ops.backup.environments.production.storage]   # Supabase Storage's S3 endpoint
endpoint_url_env = "SUPABASE_STORAGE_S3_URL"
access_key_id_env = "SUPABASE_STORAGE_S3_KEY_ID"
secret_access_key_env = "SUPABASE_STORAGE_S3_SECRET"
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator

from ops.backup.smoke import SmokeCheck
from ops.config import ENVIRONMENTS, Config
from ops.errors import UsageError
from ops.settings import NonNegativeInt, PositiveFloat, Section, section

TIERS = ("daily", "weekly", "monthly", "yearly")
PositiveInt = Annotated[int, Field(ge=1, strict=True)]


class S3Access(Section):
    """How to reach an S3-compatible store. Unset names fall back to boto3's own
    environment (``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``) and credential chain."""

    # A literal endpoint; ${VAR} is read from the environment (R2: the account id).
    endpoint_url: str | None = None
    endpoint_url_env: str | None = None
    access_key_id_env: str | None = None
    secret_access_key_env: str | None = None
    region: str | None = None
    region_env: str | None = None
    addressing_style: Literal["auto", "path", "virtual"] = "auto"
    # Multipart part size; S3 wants >= 5 MiB for every part but the last.
    part_size_mb: Annotated[int, Field(ge=5, le=1024, strict=True)] = 16


class StorageSource(S3Access):
    """Supabase Storage's S3-compatible endpoint of one project (path-style)."""

    addressing_style: Literal["auto", "path", "virtual"] = "path"
    # Buckets to copy; empty means every bucket the keys can list.
    buckets: list[str] = Field(default_factory=list)


class Retention(Section):
    daily: NonNegativeInt = 7
    weekly: NonNegativeInt = 4
    monthly: NonNegativeInt = 12
    yearly: NonNegativeInt = 7  # ATO: seven years

    def as_dict(self) -> dict[str, int]:
        return {tier: getattr(self, tier) for tier in TIERS}


class DrillSettings(Section):
    from_: str = Field("production", alias="from")
    to: str = "staging"
    app_timeout: PositiveFloat = 60.0
    # [[tool.ops.backup.drill.smoke]]: validated and read by ops.backup.smoke
    smoke: list[SmokeCheck] = Field(default_factory=list)

    @field_validator("from_", "to")
    @classmethod
    def _environment(cls, value: str) -> str:
        if value not in ENVIRONMENTS:
            raise ValueError(f"must be one of {', '.join(ENVIRONMENTS)}")
        return value


class EnvironmentBackup(Section):
    repository: str | None = None
    s3: S3Access | None = None
    storage: StorageSource | None = None


class BackupSection(Section):
    section_name = "backup"

    repository: str | None = None
    # The name of repository before S3 support; a local path.
    root: str | None = None
    encrypt_to: list[str] = Field(default_factory=list)
    jobs: PositiveInt = 2
    # pg_dump -Z (gzip, PG15); pg_dump's own default.
    compression: Annotated[int, Field(ge=0, le=9, strict=True)] = 6
    s3: S3Access = S3Access()
    retention: Retention = Retention()
    drill: DrillSettings = DrillSettings()  # type: ignore[call-arg]
    environments: dict[str, EnvironmentBackup] = Field(default_factory=dict)

    @field_validator("repository", "root")
    @classmethod
    def _location(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("must be a local path or s3://bucket/prefix")
        return value

    @field_validator("encrypt_to")
    @classmethod
    def _recipients(cls, value: list[str]) -> list[str]:
        from ops.backup.crypto import parse_recipient

        for recipient in value:
            parse_recipient(recipient)  # raises ValueError naming the problem
        return value

    @field_validator("environments")
    @classmethod
    def _environment_names(cls, value: dict[str, EnvironmentBackup]) -> dict[str, EnvironmentBackup]:
        for name in value:
            if name not in ENVIRONMENTS:
                raise ValueError(f"unknown environment '{name}' (environments are {', '.join(ENVIRONMENTS)})")
        return value


class BackupSettings:
    """The validated section plus the project paths it resolves against."""

    def __init__(self, cfg: Config, model: BackupSection) -> None:
        self.cfg = cfg
        self.model = model
        self.jobs = model.jobs
        self.compression = model.compression
        self.retention = model.retention.as_dict()
        self.drill_from = model.drill.from_
        self.drill_to = model.drill.to
        self.app_timeout = float(model.drill.app_timeout)
        self.encrypt_to = list(model.encrypt_to)

    def repository_url(self, env: str) -> str:
        override = self.model.environments.get(env)
        if override is not None and override.repository:
            return override.repository
        return self.model.repository or self.model.root or ".ops/backups"

    def s3_access(self, env: str) -> S3Access:
        override = self.model.environments.get(env)
        return override.s3 if override is not None and override.s3 is not None else self.model.s3

    def storage_source(self, env: str) -> StorageSource | None:
        override = self.model.environments.get(env)
        return override.storage if override is not None else None

    @property
    def local_root(self) -> Path:
        """Where local things go: the local repository, or the state dir's backups/."""
        url = self.model.repository or self.model.root or ".ops/backups"
        return self.cfg.state_dir / "backups" if url.startswith("s3://") else self.cfg.path(url)

    @property
    def drills_dir(self) -> Path:
        return self.local_root / "drills"

    def resolve_jobs(self, jobs: int | None) -> int:
        """``--jobs`` when given, else the configured default."""
        if jobs is None:
            return self.jobs
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise UsageError("--jobs must be at least 1", "pass --jobs 1 or more")
        return jobs


def load_settings(cfg: Config) -> BackupSettings:
    key = ("backup-settings",)
    cached = cfg.cache.get(key)
    if cached is None:
        cached = cfg.cache[key] = BackupSettings(cfg, section(cfg, BackupSection))
    return cached  # type: ignore[no-any-return]
