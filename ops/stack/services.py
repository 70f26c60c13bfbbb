"""The application's services as local processes: a team's programs and the built-in Redis.

Each runs detached in its own process group with its output in ``logs/<name>.log``;
``start`` / ``wait_ready`` / ``stop`` are what the native stack calls, in dependency order.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from ops.config import Config
from ops.errors import BinaryNotFound, ExternalError
from ops.local.pids import is_alive, live_pid
from ops.local.settings import HOST, ServiceSettings, command_argv
from ops.local.state import StackPaths, private_dir, write_private
from ops.stack.health import http_ok, wait_until
from ops.stack.process import check_reachable, hand_over, last_lines, service_account, spawn, stop_pidfile

# Debian's package installs it here; elsewhere (Homebrew...) it is on PATH.
REDIS_BINARIES = ("/usr/bin/redis-server",)
REDIS_HINT = "install Redis: apt-get install redis-server (Debian/Ubuntu) or brew install redis (macOS)"
DEFAULT_SETTLE = 1.0  # a service with no port and no readiness: it must stay up this long


def tcp_ok(port: int, timeout: float = 0.5) -> tuple[bool, str]:
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True, "accepting connections"
    except OSError as exc:
        return False, exc.strerror or str(exc)


def find_redis() -> str:
    """``$OPS_REDIS_BIN``, else Debian's ``/usr/bin/redis-server``, else ``redis-server`` on PATH."""
    explicit = os.environ.get("OPS_REDIS_BIN")
    if explicit:
        if Path(explicit).is_file():
            return explicit
        raise BinaryNotFound(f"redis-server was not found at {explicit}", REDIS_HINT)
    for candidate in REDIS_BINARIES:
        if Path(candidate).is_file():
            return candidate
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    raise BinaryNotFound("redis-server was not found", REDIS_HINT)


@dataclass
class Service:
    """One service of the stack, as the native provider runs it."""

    cfg: Config
    name: str
    settings: ServiceSettings
    paths: StackPaths
    port: int | None
    env: dict[str, str]
    redis_password: str = ""

    @property
    def pidfile(self) -> Path:
        return self.paths.pidfile(self.name)

    @property
    def log(self) -> Path:
        return self.paths.log(self.name)

    @property
    def url(self) -> str | None:
        return f"http://{HOST}:{self.port}" if self.port else None

    def pid(self) -> int | None:
        return live_pid(self.pidfile)

    def running(self) -> bool:
        return self.pid() is not None

    # -- start ---------------------------------------------------------------------------
    def start(self) -> bool:
        """Start unless it runs. True when a process was started."""
        if self.running():
            return False
        if self.settings.kind == "redis":
            self._start_redis()
        else:
            argv = command_argv(str(self.settings.command), self.port)
            cwd = self.cfg.path(self.settings.cwd) if self.settings.cwd else self.cfg.root
            if not cwd.is_dir():
                raise ExternalError(
                    f"service '{self.name}': cwd {cwd} does not exist",
                    f"fix cwd in [tool.ops.dev.services.{self.name}]",
                )
            environment = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
            spawn(argv, cwd=cwd, env=environment, log_file=self.log, pidfile=self.pidfile)
        return True

    def redis_dir(self) -> Path:
        return self.paths.service_dir(self.name)

    def redis_socket(self) -> Path:
        return self.redis_dir() / "redis.sock"

    def _start_redis(self) -> None:
        binary = find_redis()
        account = service_account()
        check_reachable(account, self.paths.root, "Redis")
        directory = private_dir(self.redis_dir())
        # The password lives in a 0600 config file, never on a command line (ps shows those).
        config = directory / "redis.conf"
        write_private(
            config,
            "\n".join(
                [
                    f"port {self.port}",
                    f"bind {HOST}",
                    "protected-mode yes",
                    f"unixsocket {self.redis_socket()}",
                    "unixsocketperm 700",
                    f"requirepass {self.redis_password}",
                    f'dir "{directory}"',
                    "dbfilename dump.rdb",
                    "daemonize no",
                    'logfile ""',
                ]
            )
            + "\n",
        )
        hand_over(account, directory, config)
        for existing in directory.iterdir():
            hand_over(account, existing)
        spawn(
            [binary, str(config)],
            cwd=directory,
            env={"PATH": "/usr/bin:/bin"},
            log_file=self.log,
            pidfile=self.pidfile,
            account=account,
        )

    # -- readiness -----------------------------------------------------------------------
    def probe(self) -> tuple[bool, str]:
        if self.settings.ready_path is not None and self.port:
            return http_ok(f"http://{HOST}:{self.port}{self.settings.ready_path}")
        if self.settings.kind == "redis" or (self.settings.ready_tcp and self.port):
            assert self.port is not None
            return tcp_ok(self.port)
        if self.settings.ready_after is None and self.port:
            return tcp_ok(self.port)
        return True, "running"

    def wait_ready(self, timeout: float) -> None:
        hint = f"see {self.log} (inv dev.logs -s {self.name})"
        try:
            wait_until(self.probe, timeout=timeout, what=f"service '{self.name}'", hint=hint, alive=self.running)
            settle = self.settings.ready_after
            if settle is None and not self.port:
                settle = DEFAULT_SETTLE
            if settle:
                deadline = time.monotonic() + settle
                while time.monotonic() < deadline:
                    if not self.running():
                        raise ExternalError(f"service '{self.name}' exited within {settle:g}s of starting", hint)
                    time.sleep(0.05)
        except ExternalError as exc:
            tail = last_lines(self.log, 1)
            if tail:
                exc.message += f"; last log line: {tail[0][:200]}"
            raise

    def healthy(self) -> bool:
        pid = self.pid()
        return pid is not None and is_alive(pid) and self.probe()[0]

    # -- stop ----------------------------------------------------------------------------
    def stop(self, timeout: float = 10.0) -> bool:
        return stop_pidfile(self.pidfile, timeout)
