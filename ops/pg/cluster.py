"""A local PostgreSQL cluster in a state directory: initdb, pg_ctl, connections.

Layout of ``state_dir``: ``data/`` (PGDATA), ``run/`` (the unix socket),
``log/postgres.log`` and ``cluster.json`` (port, password; 0600).

No door for other local users: the socket and log directories are 0700, and
every connection, over the socket or loopback TCP, authenticates with a
random per-cluster password (scram-sha-256).

A new cluster is a copy of a pristine initdb kept per installation in the
user's cache (``ops.pg.initdb_cache``), when there is one: copying takes a
fraction of initdb's time. A caller that applies the same SQL to every new
cluster (the dev stack) can keep a *prepared* copy, taken after that SQL ran,
under a fingerprint of everything that shaped it. A copy gets its own password
on its first start.

``initdb`` refuses to run as root, so as root the server runs as an
unprivileged user (``postgres`` by default) who is handed the data, socket
and log directories. As a normal user the server runs as that user.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import shutil
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import quote

from ops.console import register_secret
from ops.errors import ConfigError, ExternalError
from ops.pg.binaries import find_bindir, install_tree, pkglibdir
from ops.pg.initdb_cache import InitdbTemplate

if TYPE_CHECKING:
    import psycopg

SUPERUSER = "postgres"
SETTINGS_FILE = "ops.conf"
# The first line of what a cluster appends to initdb's postgresql.conf (its port, socket...).
OWN_CONF_MARKER = "# written by ops: a local cluster on loopback"
DEFAULT_ROOT_RUN_AS = "postgres"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


@dataclass
class Cluster:
    """One local cluster. ``port=None`` picks a free port on first init and keeps it."""

    state_dir: Path
    port: int | None = None
    bindir: Path | None = None
    host: str = "127.0.0.1"
    # Server settings kept in data/ops.conf; None leaves that file as it is.
    settings: Mapping[str, str] | None = None
    run_as: str | None = None
    port_key: str = "port"
    # The PostgreSQL major version for a new cluster (None: the newest installed);
    # an existing cluster keeps the one its data directory was made with.
    version: int | None = None
    version_key: str = "pg_version"
    _meta: dict[str, Any] = field(default_factory=dict, repr=False)
    _resolved_bindir: Path | None = field(default=None, repr=False)
    restart_reason: str | None = field(default=None, repr=False)
    prepared_info: dict[str, Any] | None = field(default=None, repr=False)
    prepared_wanted: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        self.state_dir = Path(self.state_dir).resolve()
        if self.meta_file.is_file():
            try:
                self._meta = json.loads(self.meta_file.read_text())
                port = int(self._meta["port"])
                register_secret(str(self._meta["password"]))
                register_secret(str(self._meta.get("pending_password", "")))
            except (OSError, ValueError, KeyError, TypeError):
                raise ExternalError(
                    f"the cluster's state file {self.meta_file} is damaged",
                    f"stop the server and delete {self.state_dir} to start afresh (inv dev.down --purge)",
                ) from None
            if self.port is None:
                self.port = port

    # -- layout ---------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.state_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.state_dir / "run"

    @property
    def log_file(self) -> Path:
        return self.state_dir / "log" / "postgres.log"

    @property
    def meta_file(self) -> Path:
        return self.state_dir / "cluster.json"

    @property
    def password(self) -> str:
        """The cluster's own password: a copy of a template opens with the template's until
        its first start sets this one, which its users may be given before that."""
        return str(self._meta.get("pending_password") or self._meta["password"])

    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file() and self.meta_file.is_file()

    @property
    def data_major(self) -> int | None:
        """The major version the data directory was made with, if it exists."""
        try:
            return int((self.data_dir / "PG_VERSION").read_text().strip())
        except (OSError, ValueError):
            return None

    def _bin(self, name: str) -> str:
        return str(self.server_bindir() / name)

    def server_bindir(self) -> Path:
        """The binaries this cluster runs with: those of the major version its data
        directory was made with, else of ``version``, else the newest installed."""
        if self._resolved_bindir is not None:
            return self._resolved_bindir
        existing = self.data_major
        if existing is not None and self.version is not None and existing != self.version:
            raise ConfigError(
                f"the local database was created with PostgreSQL {existing}, and {self.version_key} asks for"
                f" {self.version}",
                f"set {self.version_key} = {existing}, or dump what you need and run inv dev.down --purge"
                f" to make it anew with PostgreSQL {self.version}",
            )
        bindir = self.bindir or find_bindir(version=existing or self.version)
        self._resolved_bindir = self._reachable_install(Path(bindir))
        return self._resolved_bindir

    def pkglibdir(self) -> Path | None:
        """Where the server loads extension libraries from."""
        return pkglibdir(self.server_bindir())

    def _reachable_install(self, bindir: Path) -> Path:
        """As root the server runs as an unprivileged account, which may not be able
        to enter where the binaries are (a wheel under /root): then it runs a copy of
        the installation kept in the state dir."""
        user = self._os_user()
        if user is None or _others_can_run(bindir):
            return bindir
        base, parts = install_tree(bindir)
        copy = self.state_dir / "pginstall"
        marker = copy / ".source"
        if not (marker.is_file() and marker.read_text() == str(bindir.resolve())):
            shutil.rmtree(copy, ignore_errors=True)
            for part in parts:
                shutil.copytree(part, copy / part.relative_to(base), symlinks=True)
            for current in [copy, *copy.rglob("*")]:
                if current.is_symlink():
                    continue
                mode = current.stat().st_mode
                runnable = current.is_dir() or mode & stat.S_IXUSR
                current.chmod(mode | stat.S_IRGRP | stat.S_IROTH | (stat.S_IXGRP | stat.S_IXOTH if runnable else 0))
            marker.write_text(str(bindir.resolve()))
        return copy / bindir.resolve().relative_to(base)

    # -- who runs the server ---------------------------------------------------
    def _os_user(self) -> pwd.struct_passwd | None:
        """The account to run the server as, or None to run as ourselves."""
        if os.geteuid() != 0:
            return None
        name = self.run_as or os.environ.get("OPS_PG_RUN_AS") or DEFAULT_ROOT_RUN_AS
        try:
            return pwd.getpwnam(name)
        except KeyError:
            raise ConfigError(
                f"running as root, and the unprivileged user '{name}' that should run PostgreSQL does not exist",
                f"create it (useradd --system {name}) or set $OPS_PG_RUN_AS to an existing unprivileged user",
            ) from None

    def _process_options(self) -> dict[str, Any]:
        """How a server program runs: as the server's account when we are root, in the C locale."""
        user = self._os_user()
        options: dict[str, Any] = {"env": {**os.environ, "LC_ALL": "C", "LANG": "C"}, "cwd": self.state_dir}
        if user is not None:
            options.update(user=user.pw_uid, group=user.pw_gid, extra_groups=[])
            options["env"]["HOME"] = user.pw_dir
        return options

    def _run(self, args: list[str], *, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        try:
            result = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **self._process_options())
        except FileNotFoundError as exc:
            raise ExternalError(f"cannot run {args[0]}: {exc.strerror}", "check the PostgreSQL installation") from None
        if check and result.returncode != 0:
            self._failed(args[0], result.stderr or result.stdout, result.returncode)
        return result

    def _failed(self, program: str, output: str, code: int) -> NoReturn:
        detail = output.strip().splitlines()
        last = detail[-1] if detail else f"exit {code}"
        raise ExternalError(
            f"{Path(program).name} failed: {last}",
            f"see {self.log_file}" if self.log_file.exists() else "check the PostgreSQL installation",
        )

    def _hand_over(self, *paths: Path) -> None:
        """Give the server's account the directories it writes to."""
        user = self._os_user()
        if user is None:
            return
        for path in paths:
            for current in [path, *path.rglob("*")] if path.is_dir() else [path]:
                os.chown(current, user.pw_uid, user.pw_gid, follow_symlinks=False)
        self._check_reachable(user)

    def _check_reachable(self, user: pwd.struct_passwd) -> None:
        for ancestor in [self.state_dir, *self.state_dir.parents]:
            mode = ancestor.stat()
            if ancestor.stat().st_uid == user.pw_uid:
                continue
            if not mode.st_mode & stat.S_IXOTH:
                raise ConfigError(
                    f"PostgreSQL runs as '{user.pw_name}', who cannot enter {ancestor}",
                    f"chmod o+x {ancestor}, or keep the state dir under a directory others can enter",
                )

    # -- lifecycle ---------------------------------------------------------------
    def init(self, prepared: str | None = None) -> bool:
        """initdb on first use. Returns True when a new cluster was created.

        ``prepared`` is the caller's fingerprint of what it applies to a new cluster (the dev
        stack's bootstrap, migrations and seed): when the cache holds a prepared template for
        it, the new cluster is a copy of that, and ``prepared_info`` is what the caller kept
        with it. Otherwise ``prepared_wanted`` says whether the caller should keep this one
        once prepared (``keep_prepared``): the second time the same fingerprint is made."""
        if self.initialized:
            return False
        self.prepared_info, self.prepared_wanted = None, False
        if self.data_dir.exists():
            # A half-made data dir from an interrupted initdb: start again.
            shutil.rmtree(self.data_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        # Private: other local users can neither reach the socket nor read the log.
        for directory in (self.socket_dir, self.log_file.parent):
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o700)
        port = self.port or free_port(self.host)
        # A cluster made again (see forget_prepared) keeps the password its users were given.
        password = str(self._meta.get("password") or secrets.token_urlsafe(18))
        register_secret(password)
        pwfile = self.state_dir / ".pwfile"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        self._hand_over(pwfile, self.socket_dir, self.log_file.parent)
        template = InitdbTemplate.for_bindir(self.server_bindir())
        ready = self._prepared_template(template, prepared)
        pending_password: str | None = None
        try:
            if ready is not None and ready.restore_into(self.data_dir):
                copied: InitdbTemplate | None = ready
                self.prepared_info = ready.info()
            elif template is not None and template.restore_into(self.data_dir):
                copied = template
                self.prepared_wanted = ready is not None and ready.asked_before()
            else:
                copied = None
                user = self._os_user()
                if user is not None:
                    # initdb, run as the server's account, cannot create data/ in state_dir.
                    self.data_dir.mkdir(mode=0o700)
                    os.chown(self.data_dir, user.pw_uid, user.pw_gid)
                self._initdb(pwfile)
                if template is not None:
                    template.store(self.data_dir, password)
                    self.prepared_wanted = ready is not None and ready.asked_before()
            if copied is not None:
                # A copy of a template made earlier: its superuser has the template's
                # password until the first start sets this cluster's own.
                pending_password, password = password, copied.password()
                register_secret(password)
                self._hand_over(self.data_dir)
        except BaseException:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise
        finally:
            pwfile.unlink(missing_ok=True)
        self._write_conf(port)
        self._meta = {"port": port, "password": password, "created": time.time(), "major": self.data_major}
        if pending_password is not None:
            self._meta["pending_password"] = pending_password
        self.port = port
        self._save_meta()
        return True

    def _prepared_template(self, template: InitdbTemplate | None, prepared: str | None) -> InitdbTemplate | None:
        if template is None or prepared is None:
            return None
        return template.prepared(prepared, self.pkglibdir())

    def keep_prepared(self, prepared: str, info: dict[str, Any]) -> bool:
        """Keep this stopped cluster's data directory as the prepared template of
        ``prepared``, with ``info`` (see ``init``); without the settings and port this
        cluster added. Best effort: True when it was kept."""
        ready = self._prepared_template(InitdbTemplate.for_bindir(self.server_bindir()), prepared)
        if ready is None or self.pid() is not None or "pending_password" in self._meta:
            return False
        return ready.store(self.data_dir, self.password, info=info, skip=(SETTINGS_FILE,), rewrite=_without_own_conf)

    def forget_prepared(self, prepared: str) -> None:
        """Delete a new cluster copied from a prepared template that would not start, and
        that template: ``init`` then makes the cluster the long way."""
        self.stop(mode="immediate")
        ready = self._prepared_template(InitdbTemplate.for_bindir(self.server_bindir()), prepared)
        if ready is not None:
            ready.discard()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.meta_file.unlink(missing_ok=True)
        self._meta = {"password": self.password}

    def _initdb(self, pwfile: Path) -> None:
        self._run(
            [
                self._bin("initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--pwfile",
                str(pwfile),
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
                "--no-instructions",
            ]
        )

    def _save_meta(self) -> None:
        tmp = self.meta_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._meta))
        tmp.chmod(0o600)
        tmp.replace(self.meta_file)

    def _set_own_password(self) -> None:
        """A cluster copied from the initdb template gets its own random password on
        its first start (the template's stops working for it)."""
        pending = self._meta.get("pending_password")
        if not pending:
            return
        from psycopg import sql

        from ops.pg.connect import connect

        template_password = str(self._meta["password"])
        with connect(self.url(password=template_password), autocommit=True, application_name="ops cluster") as conn:
            # Durable before it is recorded as the password: with synchronous_commit off (a dev
            # server's setting), a crash soon after would bring back the template's.
            conn.execute("SET synchronous_commit = on")
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(SUPERUSER), sql.Literal(pending)))
        self._meta["password"] = pending
        del self._meta["pending_password"]
        self._save_meta()

    def _write_conf(self, port: int) -> None:
        lines = [
            OWN_CONF_MARKER,
            f"port = {port}",
            f"listen_addresses = '{self.host}'",
            f"unix_socket_directories = '{self.socket_dir}'",
            "unix_socket_permissions = 0700",
            "logging_collector = off",
        ]
        conf = self.data_dir / "postgresql.conf"
        with conf.open("a") as handle:
            handle.write("\n" + "\n".join(lines) + "\n")
        self._sync_settings()

    def _close_open_doors(self) -> bool:
        """A cluster made by an older ops trusted every local user on a world-writable
        socket: switch it to password auth and a private socket. True when it changed."""
        changed = False
        hba = self.data_dir / "pg_hba.conf"
        text = hba.read_text()
        secured = "\n".join(
            line.replace("trust", "scram-sha-256") if line.split()[:1] in (["local"], ["host"]) else line
            for line in text.splitlines()
        )
        if secured + "\n" != text and secured != text:
            hba.write_text(secured + "\n")
            changed = True
        conf = self.data_dir / "postgresql.conf"
        # (initdb's own postgresql.conf has "#unix_socket_permissions = 0777", commented out)
        if "\nunix_socket_permissions = 0777" in conf.read_text():
            with conf.open("a") as handle:
                handle.write("unix_socket_permissions = 0700\n")
            changed = True
        for directory in (self.socket_dir, self.log_file.parent):
            if directory.is_dir() and stat.S_IMODE(directory.stat().st_mode) != 0o700:
                directory.chmod(0o700)
        return changed

    @property
    def settings_file(self) -> Path:
        return self.data_dir / SETTINGS_FILE

    def _sync_settings(self) -> list[str]:
        """Write ``settings`` to data/ops.conf (included last by postgresql.conf).
        Returns the names of the settings that changed."""
        if self.settings is None:
            return []
        conf = self.data_dir / "postgresql.conf"
        include = f"include_if_exists = '{SETTINGS_FILE}'"
        if include not in conf.read_text():
            with conf.open("a") as handle:
                handle.write(f"\n# server settings ops manages (restarts the server when they change)\n{include}\n")
        wanted = {key: str(value) for key, value in self.settings.items()}
        current = self.current_settings()
        if current == wanted and self.settings_file.is_file():
            return []
        body = "".join(f"{key} = '{value.replace(chr(39), chr(39) * 2)}'\n" for key, value in wanted.items())
        self.settings_file.write_text("# written by ops: do not edit (see [tool.ops.dev] server_settings)\n" + body)
        user = self._os_user()
        if user is not None:
            os.chown(self.settings_file, user.pw_uid, user.pw_gid)
        self.settings_file.chmod(0o600)
        return sorted(key for key in set(current) | set(wanted) if current.get(key) != wanted.get(key))

    def current_settings(self) -> dict[str, str]:
        """The settings in data/ops.conf as last written."""
        try:
            text = self.settings_file.read_text()
        except OSError:
            return {}
        found = {}
        for line in text.splitlines():
            key, sep, value = line.partition(" = ")
            if sep and not key.startswith("#"):
                found[key.strip()] = value.strip()[1:-1].replace("''", "'")
        return found

    def is_running(self) -> bool:
        if not (self.data_dir / "postmaster.pid").is_file():
            return False  # as pg_ctl status finds, without running it
        result = self._run([self._bin("pg_ctl"), "status", "-D", str(self.data_dir)], check=False)
        return result.returncode == 0

    def pid(self) -> int | None:
        pidfile = self.data_dir / "postmaster.pid"
        try:
            return int(pidfile.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def start(self, timeout: float = 60) -> bool:
        """Start the server unless it runs. Returns True when it was started, or
        restarted because ``settings`` changed (``restart_reason`` says which)."""
        self.restart_reason = None
        if self.initialized and self.is_running():
            self._set_own_password()
            changed = self._sync_settings()
            if self._close_open_doors():
                changed.append("private socket and password auth")
            if not changed:
                return False
            self.restart_reason = f"settings changed: {', '.join(changed)}"
            self._pg_ctl_wait("restart", timeout, "-m", "fast")
            return True
        # Checked before initdb, so that a busy port leaves nothing behind.
        if self.port is not None and port_in_use(self.port, self.host):
            raise ExternalError(
                f"port {self.port} on {self.host} is already in use",
                f"stop whatever listens there or change {self.port_key}",
            )
        if not self.init():
            self._sync_settings()
            self._close_open_doors()
        self._start_server(timeout)
        self._set_own_password()
        return True

    def _start_server(self, timeout: float) -> None:
        """``pg_ctl start -w``, returning as soon as the server is ready. pg_ctl looks every
        100 ms, longer than a small cluster takes to start; this looks every few ms at the
        status the postmaster writes in postmaster.pid. pg_ctl's exit still reports a server
        that failed to start; once the server is ready, pg_ctl is left to exit on its own."""
        data, log = str(self.data_dir), str(self.log_file)
        argv = [self._bin("pg_ctl"), "start", "-w", "-t", str(int(timeout)), "-D", data, "-l", log]
        launched = time.time()
        try:
            pg_ctl = subprocess.Popen(
                argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **self._process_options()
            )
        except FileNotFoundError as exc:
            raise ExternalError(f"cannot run {argv[0]}: {exc.strerror}", "check the PostgreSQL installation") from None
        deadline = time.monotonic() + timeout + 10
        while pg_ctl.poll() is None:
            if self._ready_since(launched):
                # Reaped (and its pipe drained) when it exits, without holding anything up.
                threading.Thread(target=pg_ctl.communicate, daemon=True).start()
                return
            if time.monotonic() > deadline:
                pg_ctl.kill()
                pg_ctl.communicate()
                raise ExternalError(f"the server did not start within {timeout:g}s", f"see {self.log_file}")
            time.sleep(0.005)
        _, errors = pg_ctl.communicate()
        if pg_ctl.returncode != 0:
            self._failed(argv[0], errors, pg_ctl.returncode)

    def _ready_since(self, launched: float) -> bool:
        """Whether postmaster.pid says a server started at ``launched`` or later accepts
        connections (its lines: pid, data dir, start time, port, socket dir, listen address,
        shared memory key, status)."""
        pidfile = self.data_dir / "postmaster.pid"
        try:
            # A file left by a server killed just before is older than the launch (its start
            # time is in whole seconds); the new postmaster rewrites the file when it is ready.
            if pidfile.stat().st_mtime < launched - 0.1:
                return False
            lines = pidfile.read_text().splitlines()
            if not (len(lines) >= 8 and lines[7].strip() == "ready" and int(lines[2]) >= launched - 2):
                return False
            os.kill(int(lines[0]), 0)
        except PermissionError:
            return True  # it runs, as another account
        except (OSError, ValueError):
            return False
        return True

    def _pg_ctl_wait(self, action: str, timeout: float, *options: str) -> None:
        """``pg_ctl start|restart``, waiting until the server accepts connections."""
        data, log = str(self.data_dir), str(self.log_file)
        self._run(
            [self._bin("pg_ctl"), action, "-w", *options, "-t", str(int(timeout)), "-D", data, "-l", log],
            timeout=timeout + 10,
        )

    def stop(self, mode: str = "fast") -> bool:
        """Stop the server if it runs. Returns True when it was stopped."""
        if not self.is_running():
            return False
        self._run([self._bin("pg_ctl"), "stop", "-w", "-m", mode, "-D", str(self.data_dir)], check=False)
        return True

    def destroy(self) -> None:
        """Stop the server and delete the whole state dir."""
        if self.data_dir.is_dir():
            self.stop(mode="immediate")
        shutil.rmtree(self.state_dir, ignore_errors=True)

    # -- connections -----------------------------------------------------------
    def url(self, dbname: str = "postgres", user: str = SUPERUSER, password: str | None = None) -> str:
        """A loopback TCP URL with the password (mask it before printing)."""
        password = self.password if password is None else password
        credentials = f"{quote(user, safe='')}:{quote(password, safe='')}"
        return f"postgresql://{credentials}@{self.host}:{self.port}/{quote(dbname, safe='')}"

    def socket_conninfo(self, dbname: str = "postgres", user: str = SUPERUSER) -> str:
        """A conninfo for the private unix socket, password included (never print it)."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=str(self.socket_dir), port=self.port, dbname=dbname, user=user, password=self.password
        )

    def connect(self, dbname: str = "postgres", autocommit: bool = True) -> psycopg.Connection[Any]:
        from ops.pg.connect import connect

        return connect(self.url(dbname), autocommit=autocommit, application_name="ops cluster")

    @contextmanager
    def connection(self, dbname: str = "postgres") -> Iterator[psycopg.Connection[Any]]:
        conn = self.connect(dbname)
        try:
            yield conn
        finally:
            conn.close()

    def database_exists(self, name: str) -> bool:
        with self.connection() as conn:
            return conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone() is not None

    def create_database(self, name: str, template: str | None = None) -> None:
        """Create ``name``, cloned from ``template`` if given. Database-level
        settings (the bootstrap's search_path) are not part of a template
        copy, so they are carried over explicitly."""
        from psycopg import sql

        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with self.connection() as conn:
            conn.execute(create)
            if template:
                copy_database_settings(conn, template, name)

    def drop_database(self, name: str) -> None:
        from psycopg import sql

        with self.connection() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _without_own_conf(name: str, content: bytes) -> bytes:
    """initdb's postgresql.conf, without what one cluster appended to it (a template's copies
    append their own)."""
    if name != "postgresql.conf":
        return content
    head, _, _ = content.partition(b"\n" + OWN_CONF_MARKER.encode())
    return head


def _others_can_run(bindir: Path) -> bool:
    """Whether a user other than the owner can enter every directory down to ``bindir``
    and run the server in it."""
    path = bindir.resolve()
    for directory in [path, *path.parents]:
        if not directory.stat().st_mode & stat.S_IXOTH:
            return False
    return bool((path / "postgres").stat().st_mode & stat.S_IXOTH)


def copy_database_settings(conn: Any, source: str, target: str) -> None:
    """Copy ``ALTER DATABASE source SET ...`` settings onto ``target``."""
    rows = conn.execute(
        "select unnest(s.setconfig) from pg_db_role_setting s join pg_database d on d.oid = s.setdatabase"
        " where d.datname = %s and s.setrole = 0",
        (source,),
    ).fetchall()
    for (entry,) in rows:
        conn.execute(alter_database_set(target, entry))


# Settings whose value is a list: pg_db_role_setting keeps them as `"$user", public`.
LIST_SETTINGS = frozenset(
    {
        "search_path",
        "temp_tablespaces",
        "local_preload_libraries",
        "session_preload_libraries",
        "shared_preload_libraries",
    }
)
_LIST_ELEMENT = re.compile(r'\s*(?:"((?:[^"]|"")*)"|([^,]*?))\s*(?:,|$)')


def alter_database_set(database: str, entry: str) -> Any:
    """``ALTER DATABASE <database> SET <key> TO <value>`` for one ``key=value``
    entry of ``pg_db_role_setting``, identifiers and values quoted by psycopg."""
    from psycopg import sql

    key, _, value = entry.partition("=")
    if key in LIST_SETTINGS:
        elements = [
            quoted.replace('""', '"') or bare for quoted, bare in _LIST_ELEMENT.findall(value) if quoted or bare
        ]
        values = [sql.Literal(element) for element in elements] or [sql.Literal("")]
    else:
        values = [sql.Literal(value)]
    return sql.SQL("ALTER DATABASE {} SET {} TO {}").format(
        sql.Identifier(database), sql.Identifier(*key.split(".")), sql.SQL(", ").join(values)
    )
