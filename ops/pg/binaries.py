"""Find the PostgreSQL server binaries (initdb, pg_ctl, pg_dump...)."""

from __future__ import annotations

import glob
import importlib.util
import os
import re
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from ops.errors import BinaryNotFound, ConfigError

INSTALL_HINT = (
    "install the PostgreSQL server (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql@15), "
    "or set bindir in [tool.ops.pg] or $OPS_PG_BINDIR"
)


def _has_server(bindir: Path) -> bool:
    return (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file()


def _version_key(path: str) -> tuple[int, ...]:
    match = re.search(r"/postgresql/([0-9.]+)/bin", path)
    return tuple(int(p) for p in match.group(1).split(".") if p) if match else (0,)


def find_bindir(explicit: str | None = None) -> Path:
    """The server bindir: an explicit setting (the argument, ``$OPS_PG_BINDIR``, then
    ``[tool.ops.pg] bindir``), ``pg_config --bindir``, the newest
    ``/usr/lib/postgresql/*/bin``, then an embedded-Postgres wheel."""
    return _search_bindir(explicit or os.environ.get("OPS_PG_BINDIR") or configured_bindir())


def configured_bindir() -> str | None:
    """``[tool.ops.pg] bindir`` of the current project, resolved against its root."""
    from ops.config import load

    cfg = load()
    value = cfg.section("pg", {"bindir": None})["bindir"]
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError("[tool.ops.pg] bindir must be a directory path", "fix bindir in pyproject.toml")
    return str(cfg.path(value))


@lru_cache(maxsize=8)
def _search_bindir(explicit: str | None) -> Path:
    if explicit:
        path = Path(explicit).expanduser()
        if _has_server(path):
            return path
        raise BinaryNotFound(f"no initdb/pg_ctl in the configured bindir {path}", INSTALL_HINT)

    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True)
            path = Path(out.stdout.strip())
            if _has_server(path):
                return path
        except (OSError, subprocess.SubprocessError):
            pass

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    for candidate in candidates:
        if _has_server(Path(candidate)):
            return Path(candidate)

    for module in ("postgresql", "pgserver"):
        spec = importlib.util.find_spec(module) if _importable_name(module) else None
        if spec and spec.submodule_search_locations:
            for location in spec.submodule_search_locations:
                for sub in ("bin", "pginstall/bin"):
                    path = Path(location) / sub
                    if _has_server(path):
                        return path

    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent

    raise BinaryNotFound("PostgreSQL server binaries (initdb, pg_ctl) not found", INSTALL_HINT)


def _importable_name(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def pg_bin(name: str, bindir: str | Path | None = None) -> str:
    """Full path of a PostgreSQL program (``pg_dump``, ``psql``...)."""
    directory = Path(bindir) if bindir else find_bindir()
    path = directory / name
    if path.is_file():
        return str(path)
    found = shutil.which(name)
    if found:
        return found
    raise BinaryNotFound(f"PostgreSQL program '{name}' not found in {directory}", INSTALL_HINT)


def server_version(bindir: str | Path | None = None) -> int:
    """Major version of the server binaries (e.g. 15)."""
    out = subprocess.run([pg_bin("postgres", bindir), "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"(\d+)(?:\.\d+)?", out.stdout)
    return int(match.group(1)) if match else 0


def client_major(bindir: str | Path, program: str = "pg_dump") -> int:
    """Major version of a client program in ``bindir`` (0 when it does not run)."""
    try:
        out = subprocess.run([str(Path(bindir) / program), "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return 0
    match = re.search(r"\)\s*(\d+)", out.stdout) or re.search(r"(\d+)(?:\.\d+)?", out.stdout)
    return int(match.group(1)) if match else 0


def _client_candidates(program: str) -> list[Path]:
    """Every bindir that has ``program``: Debian's versioned layout, pg_config,
    PATH, then the embedded-Postgres wheels."""
    found: list[Path] = []

    def add(path: Path) -> None:
        if (path / program).is_file() and path not in found:
            found.append(path)

    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
        add(Path(candidate))
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True)
            add(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    on_path = shutil.which(program)
    if on_path:
        add(Path(on_path).resolve().parent)
    for module in ("postgresql", "pgserver"):
        spec = importlib.util.find_spec(module) if _importable_name(module) else None
        if spec and spec.submodule_search_locations:
            for location in spec.submodule_search_locations:
                for sub in ("bin", "pginstall/bin"):
                    add(Path(location) / sub)
    return found


def client_bindir(server_major: int, program: str = "pg_dump") -> Path:
    """A bindir whose ``program`` is of ``server_major`` or newer (the same major
    preferred): a pg_dump older than the server refuses ("server version
    mismatch"). An explicit bindir ($OPS_PG_BINDIR, [tool.ops.pg] bindir) is the
    only one considered when set."""
    explicit = os.environ.get("OPS_PG_BINDIR") or configured_bindir()
    install = (
        f"install the PostgreSQL {server_major} client (Debian/Ubuntu: apt-get install postgresql-client-{server_major}"
        f" from apt.postgresql.org; macOS: brew install postgresql@{server_major}), or set $OPS_PG_BINDIR to its bindir"
    )
    if explicit:
        path = Path(explicit).expanduser()
        if not (path / program).is_file():
            raise BinaryNotFound(f"PostgreSQL program '{program}' not found in the configured bindir {path}", install)
        major = client_major(path, program)
        if major < server_major:
            raise BinaryNotFound(
                f"{program} {major} in {path} is older than the server (PostgreSQL {server_major})", install
            )
        return path
    versions = [(client_major(path, program), path) for path in _client_candidates(program)]
    usable = [(major, path) for major, path in versions if major >= server_major]
    if not usable:
        have = ", ".join(f"{major} ({path})" for major, path in versions) or "none"
        raise BinaryNotFound(f"no {program} of PostgreSQL {server_major} or newer (found: {have})", install)
    exact = [entry for entry in usable if entry[0] == server_major]
    return (exact or sorted(usable, key=lambda entry: entry[0], reverse=True))[0][1]
