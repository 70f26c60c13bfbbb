"""Migration files: naming, discovery and creation (Supabase CLI rules); and which
seed files ``[db.seed]`` names.

Files are ``<digits>_<name>.sql`` in ``supabase/migrations``, ordered by file
name; versions compare as strings. Each file is read and split once.
"""

from __future__ import annotations

import glob
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path

from ops.config import Config
from ops.errors import ConfigError, UsageError
from ops.migrations.split import Statement, split_sql, stored_statements

FILE_PATTERN = re.compile(r"^([0-9]+)_(.*)\.sql$")
NAME_PATTERN = re.compile(r"^[a-z0-9_]+$")
VERSION_FORMAT = "%Y%m%d%H%M%S"
MAX_NAME_LENGTH = 200
DEFAULT_SQL_PATHS = ["./seed.sql"]  # [db.seed] sql_paths, relative to supabase/


@dataclass
class MigrationFile:
    version: str
    name: str
    path: Path
    _text: str | None = field(default=None, repr=False)

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def text(self) -> str:
        if self._text is None:
            try:
                # A leading byte-order mark is not SQL; the Supabase CLI accepts such files and drops it.
                self._text = self.path.read_text(encoding="utf-8").removeprefix("\ufeff")
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"cannot read {self.path}: {exc}", "check the file") from None
        return self._text

    @cached_property
    def parsed(self) -> list[Statement]:
        """The statements with their offsets in the file."""
        return split_sql(self.text, source=self.filename)

    @cached_property
    def statements(self) -> list[str]:
        """The statements as stored in ``schema_migrations.statements`` (the Supabase CLI's form)."""
        return stored_statements(self.text, self.parsed)

    @property
    def has_standalone(self) -> bool:
        return any(statement.kind == "standalone" for statement in self.parsed)

    @property
    def changes_lexing(self) -> bool:
        """Whether the file may change how the server reads string literals for the rest of
        the session (``standard_conforming_strings``, ``backslash_quote``, a ``RESET ALL``).
        The server parses a whole multi-statement query before it runs any of it, so such a
        file is run one statement at a time and never shares a query with the files after it,
        as psql and the Supabase CLI run it."""
        return _LEXING_SETTING.search(self.text) is not None


_LEXING_SETTING = re.compile(
    r"standard_conforming_strings|backslash_quote|\breset\s+all\b|\bdiscard\s+all\b", re.IGNORECASE
)


def load_migrations(directory: Path) -> list[MigrationFile]:
    """The migration files in ``directory``, ordered by file name. Files not
    matching ``<digits>_<name>.sql`` are ignored, as the Supabase CLI does."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    files: list[MigrationFile] = []
    seen: dict[str, Path] = {}
    for path in sorted(directory.iterdir(), key=lambda p: p.name):
        match = FILE_PATTERN.match(path.name)
        if not match or not path.is_file():
            continue
        version, name = match.group(1), match.group(2)
        if version in seen:
            raise ConfigError(
                f"two migration files share version {version}: {seen[version].name} and {path.name}",
                "rename one of them to a new version",
            )
        seen[version] = path
        files.append(MigrationFile(version, name, path))
    return files


def check_name(name: str) -> None:
    """Refuse a migration name ``db.new`` and ``db.diff -f`` would not write."""
    if len(name) > MAX_NAME_LENGTH:  # the file name must fit in 255 bytes with the version and .sql
        raise UsageError(
            f"migration name is {len(name)} characters long", f"use at most {MAX_NAME_LENGTH}, e.g. add_orders"
        )
    if not NAME_PATTERN.match(name):
        raise UsageError(
            f"invalid migration name '{name}'", "use lower-case letters, digits and underscores, e.g. add_orders"
        )


def new_migration(directory: Path, name: str, *, now: datetime | None = None, body: str = "") -> Path:
    """Write ``<UTC YYYYMMDDHHMMSS>_<name>.sql`` and return its path.

    The version is the current second, or one second past the newest existing version when
    that is not earlier (two files written within one second, a file from a clock ahead of
    ours): a new migration sorts after every timestamped one already there."""
    check_name(name)
    version_time = (now or datetime.now(UTC)).replace(microsecond=0)
    for migration in load_migrations(directory):
        try:
            existing = datetime.strptime(migration.version, VERSION_FORMAT).replace(tzinfo=UTC)
        except ValueError:  # not a timestamp (``2_short.sql``): nothing to be later than
            continue
        version_time = max(version_time, existing + timedelta(seconds=1))
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{version_time.strftime(VERSION_FORMAT)}_{name}.sql"
    path.write_text(body)
    return path


def seed_settings(cfg: Config) -> tuple[bool, list[str]]:
    """``[db.seed] enabled`` and ``sql_paths`` from supabase/config.toml."""
    config_file = cfg.supabase_dir / "config.toml"
    if not config_file.is_file():
        return True, list(DEFAULT_SQL_PATHS)
    try:
        data = tomllib.loads(config_file.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{config_file} is not valid TOML: {exc}", "fix the TOML syntax") from None
    section = data.get("db", {}).get("seed", {})
    paths = section.get("sql_paths", DEFAULT_SQL_PATHS)
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise ConfigError("[db.seed] sql_paths must be a list of paths", f"fix {config_file}")
    return bool(section.get("enabled", True)), paths


def seed_files(cfg: Config, patterns: list[str], warnings: list[str]) -> list[Path]:
    """The files the patterns match, in pattern order, each once."""
    found: dict[Path, None] = {}
    for pattern in patterns:
        matches = sorted(glob.glob(str(cfg.supabase_dir / pattern)))
        # absolute but not resolved: a symlinked supabase/ keeps its project-relative path
        files = [Path(os.path.abspath(m)) for m in matches if Path(m).is_file()]
        if not files:
            warnings.append(f"no seed files match pattern: {pattern}")
        found.update(dict.fromkeys(files))
    return list(found)
