"""Find PostgreSQL programs (initdb, pg_ctl, pg_dump...) of PostgreSQL 15, 16 and 17.

Supabase runs all three, so a project may need any of them. Installations are
looked for in Debian's versioned layout (``/usr/lib/postgresql/NN/bin``, which
also holds client-only ``postgresql-client-NN`` installs), ``pg_config
--bindir``, ``PATH``, and the embedded-Postgres wheel ``pgserver`` (PostgreSQL
16 binaries from PyPI). An explicit bindir (argument, ``$OPS_PG_BINDIR``,
``[tool.ops.pg] bindir``) wins over the search.

Without a requested major version the newest complete installation is used:
one that ships the contrib extensions (pgcrypto, uuid-ossp, pg_stat_statements)
the Supabase-shaped bootstrap enables. The wheel has none of them, so it is
used when it is the only server here, or when its major version is asked for.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ops.errors import BinaryNotFound, ConfigError

SUPPORTED_MAJORS = (15, 16, 17)
INSTALL_HINT = (
    "install the PostgreSQL server (Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql@17), "
    "or set bindir in [tool.ops.pg] or $OPS_PG_BINDIR"
)
# Python packages whose wheels carry PostgreSQL server binaries, and where.
WHEEL_BINDIRS = {"pgserver": "pginstall/bin"}


def install_tree(bindir: Path) -> tuple[Path, list[Path]]:
    """The directories an installation is made of, and the base they are relative to,
    to copy it elsewhere. A wheel's programs find their shared libraries in
    ``<package>.libs`` beside the package (auditwheel's rpath ``$ORIGIN/../../../``)."""
    resolved = bindir.resolve()
    for module, sub in WHEEL_BINDIRS.items():
        for parent in resolved.parents:
            if parent.name == module:
                site = parent.parent
                parts = [parent / sub.split("/")[0], site / f"{module}.libs"]
                return site, [part for part in parts if part.exists()]
    return resolved.parent.parent, [resolved.parent]


def install_hint(major: int, *, client: bool = False) -> str:
    """How to install PostgreSQL ``major`` (its client programs only with ``client``)."""
    package = f"postgresql-client-{major}" if client else f"postgresql-{major}"
    return (
        f"Debian/Ubuntu: apt-get install {package}, from apt.postgresql.org where the distribution lacks it;"
        f" macOS: brew install postgresql@{major}"
    )


@dataclass(frozen=True)
class Installation:
    """One directory of PostgreSQL programs and the major version they belong to."""

    bindir: Path
    major: int
    source: str  # "debian", "pg_config", "PATH", "wheel:pgserver", "configured"

    @property
    def has_server(self) -> bool:
        return _has_server(self.bindir)

    @property
    def has_contrib(self) -> bool:
        """Whether the contrib extensions are installed next to the server."""
        sharedir = _sharedir(self.bindir)
        return sharedir is not None and (sharedir / "extension" / "pgcrypto.control").is_file()

    def program(self, name: str) -> Path | None:
        path = self.bindir / name
        return path if path.is_file() else None


def _has_server(bindir: Path) -> bool:
    return (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file() and (bindir / "postgres").is_file()


def _debian_dir(bindir: Path, pattern: str) -> Path | None:
    """Debian's fixed layout, ``/usr/lib/postgresql/NN/bin`` beside ``pattern`` with NN
    filled in, when that directory exists: found without running pg_config."""
    match = re.search(r"/postgresql/(\d+)/bin$", str(bindir))
    if not (match and str(bindir).startswith("/usr/lib/postgresql/")):
        return None
    found = Path(pattern.format(major=match.group(1)))
    return found if found.is_dir() else None


@lru_cache(maxsize=32)
def _sharedir(bindir: Path) -> Path | None:
    debian = _debian_dir(bindir, "/usr/share/postgresql/{major}")
    if debian is not None:
        return debian
    pg_config = bindir / "pg_config"
    if pg_config.is_file():
        try:
            out = subprocess.run([str(pg_config), "--sharedir"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and out.stdout.strip():
                return Path(out.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    # Debian: /usr/lib/postgresql/NN/bin -> /usr/share/postgresql/NN
    match = re.search(r"/postgresql/(\d+)/bin$", str(bindir))
    if match:
        return Path("/usr/share/postgresql") / match.group(1)
    return None


@lru_cache(maxsize=32)
def pkglibdir(bindir: Path) -> Path | None:
    """The directory the server of ``bindir`` loads extension libraries from."""
    debian = _debian_dir(bindir, "/usr/lib/postgresql/{major}/lib")
    if debian is not None:
        return debian
    pg_config = bindir / "pg_config"
    if pg_config.is_file():
        try:
            out = subprocess.run([str(pg_config), "--pkglibdir"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and out.stdout.strip():
                return Path(out.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    match = re.search(r"^(.*/postgresql/\d+)/bin$", str(bindir))
    return Path(match.group(1)) / "lib" if match else None


@lru_cache(maxsize=32)
def _major_of(bindir: Path) -> int:
    """The major version of the programs in ``bindir`` (0 when none answers)."""
    match = re.search(r"/postgresql/(\d+)/bin$", str(bindir))
    if match:
        return int(match.group(1))
    for program in ("postgres", "pg_config", "pg_dump", "psql"):
        path = bindir / program
        if not path.is_file():
            continue
        try:
            out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            continue
        found = re.search(r"(\d+)(?:\.\d+)?", out.stdout)
        if found:
            return int(found.group(1))
    return 0


def _wheel_bindirs() -> list[tuple[str, Path]]:
    found = []
    for module, sub in WHEEL_BINDIRS.items():
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        for location in (spec.submodule_search_locations or []) if spec else []:
            found.append((f"wheel:{module}", Path(location) / sub))
    return found


@lru_cache(maxsize=1)
def installations() -> tuple[Installation, ...]:
    """Every PostgreSQL installation found here (server or client-only), newest first."""
    candidates: list[tuple[str, Path]] = [("debian", Path(p)) for p in glob.glob("/usr/lib/postgresql/*/bin")]
    pg_config = shutil.which("pg_config")
    beside = Path(pg_config).resolve().parent if pg_config else None
    if beside is not None and not ((beside / "pg_dump").is_file() or _has_server(beside)) and candidates:
        # A pg_config away from any server program is a wrapper (Debian's postgresql-common
        # runs the newest /usr/lib/postgresql/*/bin/pg_config, through four processes): it
        # can only name one of the Debian installations found already.
        pg_config = None
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, timeout=10)
            if out.returncode == 0 and out.stdout.strip():
                candidates.append(("pg_config", Path(out.stdout.strip())))
        except (OSError, subprocess.SubprocessError):
            pass
    for program in ("initdb", "pg_dump"):
        on_path = shutil.which(program)
        if on_path:
            candidates.append(("PATH", Path(on_path).resolve().parent))
    candidates += _wheel_bindirs()
    seen: set[Path] = set()
    found: list[Installation] = []
    for source, bindir in candidates:
        try:
            resolved = bindir.resolve()
        except OSError:
            continue
        if resolved in seen or not ((resolved / "pg_dump").is_file() or _has_server(resolved)):
            continue
        seen.add(resolved)
        major = _major_of(resolved)
        if major:
            found.append(Installation(resolved, major, source))
    found.sort(key=lambda inst: inst.major, reverse=True)
    return tuple(found)


def _describe(found: list[Installation] | tuple[Installation, ...]) -> str:
    return ", ".join(f"{inst.major} ({inst.bindir})" for inst in found) or "none"


def find_bindir(explicit: str | None = None, version: int | None = None) -> Path:
    """The server bindir: an explicit setting (the argument, ``$OPS_PG_BINDIR``, then
    ``[tool.ops.pg] bindir``), else the installation of major ``version``, else the
    newest complete installation (see the module docstring)."""
    return _search_bindir(explicit or os.environ.get("OPS_PG_BINDIR") or configured_bindir(), version)


def find_installation(explicit: str | None = None, version: int | None = None) -> Installation:
    bindir = find_bindir(explicit, version)
    return Installation(bindir, _major_of(bindir), "configured" if explicit else "search")


def configured_bindir() -> str | None:
    """``[tool.ops.pg] bindir`` of the current project, resolved against its root."""
    from ops.config import load
    from ops.pg.settings import pg_settings

    cfg = load()
    bindir = pg_settings(cfg).bindir
    return str(cfg.path(bindir)) if bindir else None


@lru_cache(maxsize=16)
def _search_bindir(explicit: str | None, version: int | None) -> Path:
    if version is not None and version not in SUPPORTED_MAJORS:
        raise ConfigError(
            f"PostgreSQL {version} is not one Supabase runs",
            f"set pg_version to one of {', '.join(map(str, SUPPORTED_MAJORS))}",
        )
    if explicit:
        path = Path(explicit).expanduser()
        if not _has_server(path):
            raise BinaryNotFound(f"no initdb/pg_ctl in the configured bindir {path}", INSTALL_HINT)
        if version is not None and _major_of(path.resolve()) != version:
            raise ConfigError(
                f"the configured bindir {path} holds PostgreSQL {_major_of(path.resolve())}, not {version}",
                f"point bindir at PostgreSQL {version}'s programs, or change pg_version",
            )
        return path
    servers = [inst for inst in installations() if inst.has_server]
    if version is not None:
        for inst in servers:
            if inst.major == version:
                return inst.bindir
        raise BinaryNotFound(
            f"PostgreSQL {version} server not found (installed: {_describe(servers)})", install_hint(version)
        )
    complete = [inst for inst in servers if inst.has_contrib]
    best = (complete or servers)[:1]
    if best:
        return best[0].bindir
    raise BinaryNotFound("PostgreSQL server binaries (initdb, pg_ctl) not found", INSTALL_HINT)


def client_bin(name: str, min_major: int) -> str:
    """A client program (``pg_dump``, ``pg_restore``, ``psql``...) of PostgreSQL
    ``min_major`` or newer, the closest such version (see ``client_bindir``).
    Raises a one-line ``BinaryNotFound`` that says what to install."""
    return str(client_bindir(min_major, name) / name)


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


@lru_cache(maxsize=32)
def version_output(program: str | Path) -> str:
    """What ``program --version`` prints (empty when it does not run), asked once
    per process: picking a pg_dump and recording its version need the same line."""
    try:
        out = subprocess.run([str(program), "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout


def client_major(bindir: str | Path, program: str = "pg_dump") -> int:
    """Major version of a client program in ``bindir`` (0 when it does not run)."""
    text = version_output(str(Path(bindir) / program))
    match = re.search(r"\)\s*(\d+)", text) or re.search(r"(\d+)(?:\.\d+)?", text)
    return int(match.group(1)) if match else 0


def _client_candidates(program: str) -> list[Path]:
    """Every bindir that has ``program`` (see ``installations``), newest first."""
    return [inst.bindir for inst in installations() if inst.program(program)]


def client_bindir(server_major: int, program: str = "pg_dump") -> Path:
    """A bindir whose ``program`` is of ``server_major`` or newer (the closest major
    first): a pg_dump older than the server refuses ("server version
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
    # The closest major: a much newer pg_dump writes SQL older servers reject (17's transaction_timeout).
    return sorted(usable, key=lambda entry: entry[0])[0][1]
