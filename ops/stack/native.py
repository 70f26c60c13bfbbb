"""The native provider: Postgres, the application's services and Caddy as local processes.

``up`` is an explicit pipeline of named steps (nox style). Each step is idempotent,
so running ``up`` again only repairs what is missing: a dead process, a stale pid
file after a kill -9, or a server whose binaries were upgraded under it.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ops.config import Config
from ops.console import mask_url
from ops.errors import ConfigError, ExternalError, UsageError
from ops.local import DB_NAME, cluster_for, https_url, postmaster_pid, service_environment, service_url
from ops.local.pids import created
from ops.local.settings import HOST, DevSettings, dev_settings, port_key
from ops.local.state import StackPaths, StackState
from ops.pg.cluster import Cluster, free_port, port_in_use
from ops.stack import caddy, database
from ops.stack.health import db_ok, http_ok, wait_until
from ops.stack.process import (
    check_reachable,
    hand_over,
    last_lines,
    live_pid,
    service_account,
    spawn,
    stop_pidfile,
    wait_gone,
)
from ops.stack.services import Service, find_redis


@dataclass
class Step:
    name: str
    description: str
    run: Callable[[], str]


@dataclass
class NativeStack:
    cfg: Config
    settings: DevSettings
    paths: StackPaths
    state: StackState
    ports: dict[str, int]
    seed: bool = True
    actions: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    provider: str = "native"
    # What the schema step did, when the postgres step did it (from a prepared copy, or
    # before keeping one).
    schema_done: str | None = None
    # A new cluster's schema fingerprint and server settings, and whether it is a copy of a
    # prepared one (the database step).
    fingerprint: str | None = None
    new_settings: dict[str, str] | None = None
    from_cache: bool = False

    @classmethod
    def load(cls, cfg: Config) -> NativeStack:
        """The stack as remembered; ports are those picked by the last ``up``."""
        paths = StackPaths.of(cfg)
        state = StackState.load(paths)
        return cls(cfg, dev_settings(cfg), paths, state, dict(state.ports))

    # -- the parts ---------------------------------------------------------------------
    @property
    def cluster(self) -> Cluster:
        return cluster_for(self.cfg, self.ports.get("db"))

    @property
    def db_url(self) -> str:
        """The database URL with its password; empty before the cluster exists."""
        cluster = self.cluster
        return cluster.url(DB_NAME) if cluster.initialized else ""

    @property
    def app_url(self) -> str:
        name = self.settings.default_service
        return service_url(self.ports, name) if name in self.ports else ""

    @property
    def base_url(self) -> str:
        return https_url(self.ports)

    def service_names(self) -> list[str]:
        return [name for wave in self.settings.order() for name in wave]

    def service(self, name: str) -> Service:
        table = self.settings.service_table()
        return Service(
            self.cfg,
            name,
            table[name],
            self.paths,
            self.ports.get(name),
            service_environment(self.settings, self.paths, self.state, self.db_url, name),
            redis_password=self.state.redis_password,
        )

    def caddy_pid(self) -> int | None:
        return live_pid(self.paths.pidfile("caddy"))

    def db_pid(self) -> int | None:
        return postmaster_pid(self.cluster)

    # -- up ----------------------------------------------------------------------------
    def steps(self) -> list[Step]:
        # Caddy and the services start in the background and finish starting while Postgres
        # starts and the schema applies; "ready" waits for all of them. The services need
        # the cluster's password, so a new cluster's data directory is made first; and when
        # a wave of services must be ready before the next starts, its readiness may need
        # the database, so then Postgres starts before them.
        postgres = Step("postgres", "starting postgres", self.step_postgres)
        services = Step("services", "starting the services", self.step_services)
        services_first = len(self.settings.order()) == 1
        new_database = not self.cluster.initialized
        return [
            Step("ports", "checking ports", self.step_ports),
            Step("caddy", "starting caddy", self.step_caddy),
            *([Step("database", "making the database", self.step_database)] if new_database else []),
            *([services, postgres] if services_first else [postgres, services]),
            Step("schema", "bootstrap, migrations and seed", self.step_schema),
            Step("ready", "waiting until healthy", self.step_ready),
        ]

    def _owners(self) -> dict[str, bool]:
        """For each port: is it held by our own running process?"""
        db = self.db_pid() is not None
        caddy_up = self.caddy_pid() is not None
        owned = {"db": db, "http": caddy_up, "https": caddy_up}
        for name in self.settings.service_table():
            owned[name] = live_pid(self.paths.pidfile(name)) is not None
        return owned

    def step_ports(self) -> str:
        """Pick the ports once, then refuse a port someone else holds before starting anything."""
        if self.settings.redis_service is not None:
            find_redis()  # a missing binary is refused before anything starts
        owned = self._owners()
        self._pick_ports(owned)
        self._refuse_taken_ports(owned)
        self.state.ensure_tokens()
        self.state.provider = "native"
        self.state.ports = dict(self.ports)
        self.state.save(self.paths)
        return "ok"

    def _pick_ports(self, owned: dict[str, bool]) -> None:
        cluster = self.cluster
        wanted = {name: port for name, port in self.settings.ports.items() if name != "admin"}
        for name in [n for n in self.ports if n not in wanted]:
            del self.ports[name]  # a service removed from config, or the old admin port
        for name, configured in wanted.items():
            remembered = self.ports.get(name)
            if name == "db" and cluster.initialized and cluster.port:
                # The port lives in the cluster's postgresql.conf from its first start.
                if configured and configured != cluster.port:
                    raise ConfigError(
                        f"db_port {configured} in [tool.ops.dev] differs from the port {cluster.port}"
                        " the local database was created with",
                        "run inv dev.down --purge to make it anew on the new port, or set db_port back",
                    )
                self.ports["db"] = int(cluster.port)
            elif configured:
                self.ports[name] = configured
            elif not remembered or (not owned.get(name) and port_in_use(remembered, HOST)):
                # 0 = any free port: one taken by someone else since it was picked is picked anew.
                self.ports[name] = free_port(HOST)

    def _refuse_taken_ports(self, owned: dict[str, bool]) -> None:
        for name, port in self.ports.items():
            if owned.get(name) or not port_in_use(port, HOST):
                continue
            key = port_key(name)
            fix = f"stop whatever listens on {HOST}:{port} or set {key} in [tool.ops.dev] (0 picks a free port)"
            if name == "db" and self.cluster.initialized:
                fix = (
                    f"stop whatever listens on {HOST}:{port}, or run inv dev.down --purge to make the database"
                    " anew on the db_port set in [tool.ops.dev] (0 picks a free port)"
                )
            raise ExternalError(f"port {port} ({key}) is already in use by another process", fix)

    def step_database(self) -> str:
        """Make a new cluster's data directory: a copy of a prepared template (bootstrap,
        migrations and seed applied) of exactly this project state when the user's cache
        holds one, else of a pristine initdb. The second time this project state is made
        from nothing, its schema is applied here, before the services start, and the
        stopped cluster is kept as the prepared template."""
        cluster = self.cluster
        cluster.settings = self.new_settings = database.server_settings(self.cfg, cluster)
        self.fingerprint = database.schema_fingerprint(self.cfg, cluster.settings, seed=self.seed)
        cluster.init(prepared=self.fingerprint)
        if cluster.prepared_info is not None:
            self.from_cache = True
            self.schema_done = f"{cluster.prepared_info.get('done', 'applied')} (from the cache)"
            self._mark_provisioned(True)
            return "copied from the cache, schema applied"
        self._mark_provisioned(False)
        if not cluster.prepared_wanted:
            return "new"
        cluster.start()
        try:
            self.schema_done = self.apply_schema()
        finally:
            cluster.stop()  # kept stopped, and a failed up leaves no server running
        if database.schema_fingerprint(self.cfg, cluster.settings, seed=self.seed) != self.fingerprint:
            # A migration or seed file changed while it was applied (a save, a checkout): this
            # database is not the state the digest names, so it is not kept under it.
            return "new"
        kept = cluster.keep_prepared(self.fingerprint, {"done": self.schema_done})
        return "new, kept in the cache with its schema" if kept else "new"

    def step_postgres(self) -> str:
        cluster = self.cluster
        if "database" in self.actions:
            return self._start_new_cluster(cluster)
        pid = self.db_pid()
        restarted = False
        if pid is not None:
            changed = binaries_changed_since(cluster, pid)
            if changed is not None:
                # A package upgrade replaced the server's files while it ran: its next backend
                # loads a new library into the old binary ("undefined symbol"). Restart it.
                self.notes.append(f"postgres restarted: {changed} changed since the server started")
                cluster.stop()
                restarted = True
        if self.db_pid() is None:
            # After a kill -9 the postmaster may linger as a zombie for a moment,
            # and pg_ctl would take it for a running server.
            wait_gone(cluster.pid(), timeout=5.0)
        started = database.start_cluster(cluster, cfg=self.cfg)
        if restarted:
            return "restarted (its binaries changed under it)"
        if cluster.restart_reason:
            return f"restarted ({cluster.restart_reason})"
        return "started" if started else "running"

    def _start_new_cluster(self, cluster: Cluster) -> str:
        """Start the cluster the database step made. A copy of a prepared template that will
        not start is deleted with its template and made the long way, with the same password
        (the services have it already)."""
        cluster.settings = self.new_settings
        try:
            cluster.start()
        except ExternalError:
            if not self.from_cache or self.fingerprint is None:
                raise
            self.notes.append("the cached database template would not start: it was deleted and made anew")
            cluster.forget_prepared(self.fingerprint)
            cluster.init()
            self.schema_done = None
            self._mark_provisioned(False)
            cluster.start()
        return "initialised"

    def _mark_provisioned(self, provisioned: bool) -> None:
        self.state.provisioned = provisioned
        self.state.save(self.paths)

    def step_schema(self) -> str:
        if self.state.provisioned:
            return self.schema_done or "up to date"
        return self.apply_schema()

    def apply_schema(self) -> str:
        """The Supabase-shaped bootstrap, the migrations and (unless turned off) the seed."""
        database.bootstrap(self.cluster)
        done = database.apply_schema(self.cfg, self.db_url, seed=self.seed)
        self._mark_provisioned(True)
        return ", ".join(done)

    def step_services(self) -> str:
        """Start each wave of services (those depending only on earlier waves) together; wait
        until a wave is ready before the next one starts. The last wave finishes starting
        while the schema applies."""
        started: list[str] = []
        waves = self.settings.order()
        timeout = self.settings.ready_timeout
        for index, wave in enumerate(waves):
            launched = [name for name in wave if self.service(name).start()]
            started += launched
            self.actions["services:started"] = ",".join(started)
            if index < len(waves) - 1:
                for name in launched:
                    self.service(name).wait_ready(timeout)
        return f"started {', '.join(started)}" if started else "running"

    def step_caddy(self) -> str:
        account = service_account()
        caddy_dir = self.paths.caddy_dir
        check_reachable(account, self.paths.root, "Caddy")
        caddy_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        caddyfile = caddy.write_caddyfile(self.cfg, self.paths, self.ports, self.settings)
        if self.caddy_pid() is not None:
            if caddy.reload_needed(self.paths):
                caddy.reload(caddy.find_caddy(self.cfg), caddyfile, self.paths, account)
                return "reloaded"
            return "running"
        for directory in (caddy_dir, *caddy.private_dirs(self.paths)):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        binary = caddy.runnable_copy(caddy.find_caddy(self.cfg), self.paths, account)
        # Caddy's own files (its CA key among them) belong to the account it runs as.
        hand_over(account, *caddy.owned_paths(self.paths))
        spawn(
            caddy.caddy_argv(binary, caddyfile),
            cwd=caddy_dir,
            env=caddy.caddy_env(self.paths),
            log_file=self.paths.log("caddy"),
            pidfile=self.paths.pidfile("caddy"),
            account=account,
        )
        caddy.mark_loaded(self.paths)
        return "started"

    def step_ready(self) -> str:
        timeout = self.settings.ready_timeout
        url = self.db_url
        wait_until(lambda: db_ok(url), timeout=timeout, what="postgres", hint=f"see {self.paths.log('db')}")
        for name in self.service_names():
            self.service(name).wait_ready(timeout)
        wait_until(
            self.caddy_healthy,
            timeout=timeout,
            what="caddy",
            hint=f"see {self.paths.log('caddy')}",
            alive=lambda: self.caddy_pid() is not None,
        )
        return "healthy"

    def caddy_healthy(self) -> tuple[bool, str]:
        default = self.settings.service_table().get(self.settings.default_service)
        if default is not None and default.ready_path:
            return http_ok(self.base_url + default.ready_path, cafile=self.paths.ca_path)
        # No readiness path to ask for: any answer short of a proxy error shows the route works.
        return http_ok(self.base_url + "/", cafile=self.paths.ca_path, accept=lambda status: status < 500)

    def up(self, *, seed: bool, out: Any = None) -> dict[str, str]:
        self.seed = seed
        steps = self.steps()
        with contextlib.ExitStack() as stack:
            progress = stack.enter_context(out.progress()) if out is not None else None
            try:
                for step in steps:
                    task = progress.add_task(step.description, total=1) if progress is not None else None
                    started = time.monotonic()
                    self.actions[step.name] = step.run()
                    self.timings[step.name] = round(time.monotonic() - started, 3)
                    if progress is not None and task is not None:
                        progress.update(task, completed=1, description=f"{step.name}: {self.actions[step.name]}")
            except BaseException:
                self.stop_started_by_this_run()
                raise
        self.actions.pop("services:started", None)
        return self.actions

    def stop_started_by_this_run(self) -> None:
        """A failed ``up`` leaves nothing half-running: what it started, it stops again, in
        reverse order (services that were already running before it stay up)."""
        if self.actions.get("caddy") == "started":
            stop_pidfile(self.paths.pidfile("caddy"))
        started = [name for name in self.actions.get("services:started", "").split(",") if name]
        for name in reversed(started):
            stop_pidfile(self.paths.pidfile(name))
        if self.actions.get("postgres") in {"started", "initialised"}:
            with contextlib.suppress(Exception):
                self.cluster.stop()

    # -- one service ---------------------------------------------------------------------
    def restart(self, name: str) -> dict[str, str]:
        """Stop and start one service (after changing its code), and wait until it is ready."""
        names = ["db", "caddy", *self.service_names()]
        if name not in names:
            raise UsageError(f"unknown service '{name}'", f"use one of: {', '.join(names)}")
        if not self.state.exists:
            raise ExternalError("the local dev stack has not been started", "run: inv dev.up")
        timeout = self.settings.ready_timeout
        if name == "db":
            self.cluster.stop()
            database.start_cluster(self.cluster, cfg=self.cfg)
            wait_until(lambda: db_ok(self.db_url), timeout=timeout, what="postgres", hint="inv dev.logs -s db")
        elif name == "caddy":
            stop_pidfile(self.paths.pidfile("caddy"))
            self.step_caddy()
            wait_until(self.caddy_healthy, timeout=timeout, what="caddy", hint="inv dev.logs -s caddy")
        else:
            service = self.service(name)
            service.stop()
            service.start()
            service.wait_ready(timeout)
        return {name: "restarted"}

    # -- status, logs and down -----------------------------------------------------------------
    def status(self, check_health: bool = True) -> list[dict[str, Any]]:
        cluster = self.cluster
        db_pid = self.db_pid() if cluster.initialized else None
        rows: list[dict[str, Any]] = [
            _row(
                "db",
                db_pid,
                self.ports.get("db"),
                mask_url(self.db_url) if cluster.initialized else None,
                (db_ok(self.db_url)[0] if check_health else None) if db_pid else None,
            )
        ]
        for name in self.service_names():
            service = self.service(name)
            pid = service.pid()
            rows.append(
                _row(
                    name,
                    pid,
                    service.port,
                    service.url,
                    (service.probe()[0] if check_health else None) if pid else None,
                )
            )
        caddy_pid = self.caddy_pid()
        rows.append(
            _row(
                "caddy",
                caddy_pid,
                self.ports.get("https"),
                self.base_url if self.ports.get("https") else None,
                (self.caddy_healthy()[0] if check_health else None) if caddy_pid else None,
            )
        )
        return rows

    def log_names(self) -> list[str]:
        return ["db", *self.service_names(), "caddy"]

    def logs(self, service: str | None, lines: int) -> list[tuple[str, str]]:
        return [
            (name, line) for name in self._log_services(service) for line in last_lines(self.paths.log(name), lines)
        ]

    def _log_services(self, service: str | None) -> list[str]:
        names = self.log_names()
        if service is None:
            return names
        if service not in names:
            raise UsageError(f"unknown service '{service}'", f"use one of: {', '.join(names)}")
        return [service]

    def follow(self, service: str | None, poll: float = 0.2) -> Iterator[tuple[str, str]]:
        offsets: dict[str, int] = {}
        for name in self._log_services(service):
            log = self.paths.log(name)
            offsets[name] = log.stat().st_size if log.exists() else 0
        while True:
            for name in offsets:
                log = self.paths.log(name)
                if not log.exists():
                    continue
                size = log.stat().st_size
                if size < offsets[name]:  # truncated or recreated
                    offsets[name] = 0
                if size > offsets[name]:
                    with log.open("rb") as handle:
                        handle.seek(offsets[name])
                        chunk = handle.read(size - offsets[name])
                    # Only whole lines; a partial last line waits for its newline.
                    complete = chunk.rfind(b"\n") + 1
                    offsets[name] += complete
                    for line in chunk[:complete].decode("utf-8", "replace").splitlines():
                        yield name, line
            time.sleep(poll)

    def down(self, purge: bool = False) -> list[str]:
        """Stop Caddy, the services in reverse dependency order, then Postgres; returns what ran."""
        stopped = []
        if stop_pidfile(self.paths.pidfile("caddy")):
            stopped.append("caddy")
        known = self.service_names()
        # A service since removed from config may still run: stop it too.
        pids_dir = self.paths.root / "pids"
        leftovers = sorted(p.stem for p in pids_dir.glob("*.pid")) if pids_dir.is_dir() else []
        for name in [*reversed(known), *[n for n in leftovers if n not in known and n != "caddy"]]:
            if stop_pidfile(self.paths.pidfile(name)):
                stopped.append(name)
        cluster = self.cluster
        if cluster.data_dir.is_dir() and cluster.stop():
            stopped.append("db")
        return stopped

    def report_urls(self) -> dict[str, str]:
        return {"base_url": self.base_url, "app_url": self.app_url, "db_url": self.db_url}


def _row(service: str, pid: int | None, port: int | None, url: str | None, health: bool | None) -> dict[str, Any]:
    return {
        "service": service,
        "state": "running" if pid else "stopped",
        "pid": pid,
        "port": port,
        "url": url,
        "health": None if health is None else ("ok" if health else "failing"),
    }


def binaries_changed_since(cluster: Cluster, pid: int) -> str | None:
    """The server file replaced after the running postmaster started (a package upgrade),
    or None. Files are compared by their change time, which an upgrade sets on every file
    it writes (and on a replaced symlink), on Linux and macOS alike."""
    started = created(pid)
    if started is None:
        return None
    bindir = cluster.server_bindir()
    libdir = cluster.pkglibdir() or bindir.parent / "lib"
    for path in (bindir / "postgres", libdir / "plpgsql.so"):
        try:
            changed = max(path.stat().st_ctime, os.lstat(path).st_ctime)
        except OSError:
            continue
        if changed > float(started) + 1.0:
            return str(path)
    return None
