"""The app as a detached process: the project's default service (its own ``app_command``,
the first HTTP service of ``[tool.ops.dev.services]``, or the sample app).

``backup.drill`` runs one against a restored database: ``start()``, ``wait_ready()``,
``stop()``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ops.config import Config
from ops.errors import ExternalError
from ops.local.pids import is_alive, live_pid, write_pidfile
from ops.local.settings import DEFAULT_COMMAND, HOST, command_argv, dev_settings
from ops.pg.cluster import port_in_use
from ops.stack.health import http_ok, wait_until
from ops.stack.process import last_lines, spawn, terminate


def app_argv(command: str | None, port: int) -> list[str]:
    """The app's argv; ``command`` was checked when the settings were loaded."""
    return command_argv(command or DEFAULT_COMMAND, port)


class AppProcess:
    """One app process on ``127.0.0.1:<port>`` with ``DATABASE_URL`` set."""

    def __init__(
        self,
        cfg: Config,
        database_url: str,
        port: int,
        log_file: Path,
        extra_env: dict[str, str] | None = None,
        pid_file: Path | None = None,
    ) -> None:
        settings = dev_settings(cfg)
        service = settings.service_table().get(settings.default_service)
        self.cfg = cfg
        self.database_url = database_url
        self.port = port
        self.log_file = Path(log_file)
        self.pid_file = Path(pid_file) if pid_file else self.log_file.with_suffix(".pid")
        if service is not None and service.kind == "process" and service.command:
            # The service Caddy serves: its command, environment, directory and readiness.
            self.argv = command_argv(service.command, port)
            self.ready_path = service.ready_path or "/"
            self.cwd = cfg.path(service.cwd) if service.cwd else cfg.root
            self.extra_env = {**service.env, **(extra_env or {})}
        else:
            self.argv = app_argv(settings.app_command, port)
            self.ready_path = settings.app_ready_path
            self.cwd = cfg.root
            self.extra_env = dict(extra_env or {})
        self.pid: int | None = live_pid(self.pid_file)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def environment(self) -> dict[str, str]:
        env = {**os.environ, **self.extra_env}
        env.update({"DATABASE_URL": self.database_url, "PORT": str(self.port), "PYTHONUNBUFFERED": "1"})
        return env

    def running(self) -> bool:
        return self.pid is not None and is_alive(self.pid)

    def start(self) -> bool:
        """Start unless already running. Returns True when a process was started."""
        if self.running():
            return False
        if port_in_use(self.port, HOST):
            raise ExternalError(
                f"port {self.port} for the app is already in use",
                f"stop whatever listens on {HOST}:{self.port} or set app_port in [tool.ops.dev] (0 picks a free port)",
            )
        proc = spawn(self.argv, cwd=self.cwd, env=self.environment(), log_file=self.log_file)
        self.pid = proc.pid
        write_pidfile(self.pid_file, proc.pid)
        return True

    def healthy(self) -> tuple[bool, str]:
        return http_ok(self.url + self.ready_path)

    def wait_ready(self, timeout: float = 30.0) -> None:
        def alive() -> bool:
            return self.running()

        try:
            wait_until(self.healthy, timeout=timeout, what="the app", hint=f"see {self.log_file}", alive=alive)
        except ExternalError as exc:
            tail = last_lines(self.log_file, 1)
            if tail:
                exc.message += f"; last log line: {tail[0][:200]}"
            raise

    def stop(self, timeout: float = 10.0) -> bool:
        if not self.running():
            self.pid_file.unlink(missing_ok=True)
            return False
        assert self.pid is not None
        terminate(self.pid, timeout)
        self.pid = None
        self.pid_file.unlink(missing_ok=True)
        return True

    def wait_stopped(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.02)
