"""The native provider: Postgres, the app and Caddy as local processes, no Docker.

``up`` is an explicit pipeline of named steps (nox style). Each step is
idempotent, so running ``up`` again only repairs what is missing: a dead
process, or a stale pid file after a kill -9.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ops.config import Config
from ops.console import mask_url
from ops.errors import ConfigError, ExternalError
from ops.local import postmaster_pid
from ops.local.settings import DevSettings, dev_settings, port_key
from ops.local.state import StackPaths, StackState
from ops.pg.cluster import Cluster, free_port, port_in_use
from ops.stack import caddy, database
from ops.stack.app import AppProcess
from ops.stack.health import db_ok, http_ok, wait_until
from ops.stack.process import live_pid, spawn, stop_pidfile, wait_gone

HOST = "127.0.0.1"
# Whose process holds each port.
PORT_OWNERS = {"db": "db", "app": "app", "http": "caddy", "https": "caddy", "admin": "caddy"}


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

    @classmethod
    def load(cls, cfg: Config) -> NativeStack:
        """The stack as remembered; ports are those picked by the last ``up``."""
        paths = StackPaths.of(cfg)
        state = StackState.load(paths)
        return cls(cfg, dev_settings(cfg), paths, state, dict(state.ports))

    def configured_ports(self) -> dict[str, int]:
        return {name: port for name, port in self.settings.ports.items() if name in PORT_OWNERS}

    # -- the parts ---------------------------------------------------------------------
    @property
    def cluster(self) -> Cluster:
        return database.cluster_for(self.cfg, self.ports.get("db"))

    @property
    def db_url(self) -> str:
        return self.cluster.url(database.DB_NAME)

    @property
    def app_url(self) -> str:
        return f"http://{HOST}:{self.ports['app']}"

    @property
    def base_url(self) -> str:
        return caddy.https_url(self.ports)

    def app_env(self) -> dict[str, str]:
        env = dict(self.settings.app_env)
        env.update(
            {
                "DATABASE_URL": self.db_url,
                "ADMIN_TOKEN": self.state.admin_token,
                "RATE_LIMIT_BYPASS_TOKEN": self.state.bypass_token,
                "PORT": str(self.ports["app"]),
                "BASE_URL": self.base_url,
                "NODE_EXTRA_CA_CERTS": str(self.paths.ca_path),
            }
        )
        return env

    def app(self) -> AppProcess:
        return AppProcess(
            self.cfg,
            self.db_url,
            self.ports["app"],
            self.paths.log("app"),
            extra_env=self.app_env(),
            pid_file=self.paths.pidfile("app"),
        )

    def caddy_pid(self) -> int | None:
        return live_pid(self.paths.pidfile("caddy"))

    def db_pid(self) -> int | None:
        """The postmaster's pid if it really runs: not a zombie, not a reused pid."""
        return postmaster_pid(self.cluster)

    def app_pid(self) -> int | None:
        return live_pid(self.paths.pidfile("app"))

    # -- up ----------------------------------------------------------------------------
    def steps(self) -> list[Step]:
        # Caddy and the app start in the background and finish starting while Postgres
        # starts and the schema applies; "ready" waits for all three. The app needs the
        # cluster's password, so on a first run it follows initdb.
        postgres = Step("postgres", "starting postgres", self.step_postgres)
        app = Step("app", "starting the app", self.step_app)
        return [
            Step("ports", "checking ports", self.step_ports),
            Step("caddy", "starting caddy", self.step_caddy),
            *([app, postgres] if self.cluster.initialized else [postgres, app]),
            Step("schema", "bootstrap, migrations and seed", self.step_schema),
            Step("ready", "waiting until healthy", self.step_ready),
        ]

    def step_ports(self) -> str:
        """Pick the ports once, then refuse a port someone else holds before starting anything."""
        ours = {
            "db": self.db_pid() is not None,
            "app": self.app_pid() is not None,
            "caddy": self.caddy_pid() is not None,
        }
        owned = {service: ours[owner] for service, owner in PORT_OWNERS.items()}
        self._pick_ports(owned)
        self._refuse_taken_ports(owned)
        self.state.ensure_tokens()
        self.state.provider = "native"
        self.state.ports = dict(self.ports)
        self.state.save(self.paths)
        return "ok"

    def _pick_ports(self, owned: dict[str, bool]) -> None:
        cluster = self.cluster
        for service, configured in self.configured_ports().items():
            remembered = self.ports.get(service)
            if service == "db" and cluster.initialized and cluster.port:
                # The port lives in the cluster's postgresql.conf from its first start.
                if configured and configured != cluster.port:
                    raise ConfigError(
                        f"db_port {configured} in [tool.ops.dev] differs from the port {cluster.port}"
                        " the local database was created with",
                        "run inv dev.down --purge to make it anew on the new port, or set db_port back",
                    )
                self.ports["db"] = int(cluster.port)
            elif configured:
                self.ports[service] = configured
            elif not remembered or (not owned[service] and port_in_use(remembered, HOST)):
                # 0 = any free port: one taken by someone else since it was picked is picked anew.
                self.ports[service] = free_port(HOST)

    def _refuse_taken_ports(self, owned: dict[str, bool]) -> None:
        for service, port in self.ports.items():
            if owned[service] or not port_in_use(port, HOST):
                continue
            key = port_key(service)
            fix = f"stop whatever listens on {HOST}:{port} or set {key} in [tool.ops.dev] (0 picks a free port)"
            if service == "db" and self.cluster.initialized:
                fix = (
                    f"stop whatever listens on {HOST}:{port}, or run inv dev.down --purge to make the database"
                    " anew on the db_port set in [tool.ops.dev] (0 picks a free port)"
                )
            raise ExternalError(f"port {port} ({key}) is already in use by another process", fix)

    def step_postgres(self) -> str:
        cluster = self.cluster
        created = cluster.init()
        if created:
            self.state.provisioned = False
            self.state.save(self.paths)
        if self.db_pid() is None:
            # After a kill -9 the postmaster may linger as a zombie for a moment,
            # and pg_ctl would take it for a running server.
            wait_gone(cluster.pid(), timeout=5.0)
        started = database.start_cluster(cluster, cfg=self.cfg)
        if cluster.restart_reason:
            return f"restarted ({cluster.restart_reason})"
        return "initialised" if created else ("started" if started else "running")

    def step_schema(self) -> str:
        if self.state.provisioned:
            return "up to date"
        database.bootstrap(self.cluster)
        done = database.apply_schema(self.cfg, self.db_url, seed=self.seed)
        self.state.provisioned = True
        self.state.save(self.paths)
        return ", ".join(done)

    def step_app(self) -> str:
        return "started" if self.app().start() else "running"

    def step_caddy(self) -> str:
        caddyfile = caddy.write_caddyfile(self.cfg, self.paths, self.ports)
        if self.caddy_pid() is not None:
            return "running"
        argv = caddy.caddy_argv(caddy.find_caddy(self.cfg), caddyfile)
        spawn(
            argv,
            cwd=self.paths.caddy_dir,
            env=caddy.caddy_env(self.paths),
            log_file=self.paths.log("caddy"),
            pidfile=self.paths.pidfile("caddy"),
        )
        return "started"

    def step_ready(self) -> str:
        timeout = self.settings.ready_timeout
        url = self.db_url
        wait_until(lambda: db_ok(url), timeout=timeout, what="postgres", hint=f"see {self.paths.log('db')}")
        self.app().wait_ready(timeout)
        wait_until(
            self.caddy_healthy,
            timeout=timeout,
            what="caddy",
            hint=f"see {self.paths.log('caddy')}",
            alive=lambda: self.caddy_pid() is not None,
        )
        return "healthy"

    def app_healthy(self) -> tuple[bool, str]:
        return http_ok(self.app_url + self.settings.app_ready_path)

    def caddy_healthy(self) -> tuple[bool, str]:
        return http_ok(self.base_url + "/healthz", cafile=self.paths.ca_path)

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
        return self.actions

    def stop_started_by_this_run(self) -> None:
        """A failed ``up`` leaves nothing half-running: what it started, it stops again
        (services that were already running before it stay up)."""
        if self.actions.get("caddy") == "started":
            stop_pidfile(self.paths.pidfile("caddy"))
        if self.actions.get("app") == "started":
            stop_pidfile(self.paths.pidfile("app"))
        if self.actions.get("postgres") in {"started", "initialised"}:
            with contextlib.suppress(Exception):
                self.cluster.stop()

    # -- status and down -----------------------------------------------------------------
    def service_status(self, check_health: bool = True) -> list[dict[str, Any]]:
        cluster = self.cluster
        db_pid = self.db_pid() if cluster.initialized else None
        db_running = db_pid is not None
        app_pid = self.app_pid()
        caddy_pid = self.caddy_pid()
        rows: list[dict[str, Any]] = [
            {
                "service": "db",
                "state": "running" if db_running else "stopped",
                "pid": db_pid,
                "port": self.ports.get("db"),
                "url": mask_url(self.db_url) if cluster.initialized else None,
                "health": (db_ok(self.db_url)[0] if check_health else None) if db_running else None,
            },
            {
                "service": "app",
                "state": "running" if app_pid else "stopped",
                "pid": app_pid,
                "port": self.ports.get("app"),
                "url": self.app_url if self.ports.get("app") else None,
                "health": (self.app_healthy()[0] if check_health else None) if app_pid else None,
            },
            {
                "service": "caddy",
                "state": "running" if caddy_pid else "stopped",
                "pid": caddy_pid,
                "port": self.ports.get("https"),
                "url": self.base_url if self.ports.get("https") else None,
                "health": (self.caddy_healthy()[0] if check_health else None) if caddy_pid else None,
            },
        ]
        for row in rows:
            if row["health"] is not None:
                row["health"] = "ok" if row["health"] else "failing"
        return rows

    def down(self) -> list[str]:
        """Stop caddy, the app, then postgres; returns the services that were running."""
        stopped = []
        if stop_pidfile(self.paths.pidfile("caddy")):
            stopped.append("caddy")
        if stop_pidfile(self.paths.pidfile("app")):
            stopped.append("app")
        cluster = self.cluster
        if cluster.data_dir.is_dir() and cluster.stop():
            stopped.append("db")
        return stopped
