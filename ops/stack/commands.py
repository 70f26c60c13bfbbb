"""The dev stack's commands, callable from Python exactly as the ``dev.*`` tasks call them."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

from ops.config import Config
from ops.console import mask_url
from ops.errors import ExternalError, UsageError
from ops.local.state import StackPaths, StackState

SERVICES = ("db", "app", "caddy")


def _provider(cfg: Config, requested: str | None) -> str:
    from ops.local.settings import PROVIDERS, dev_settings
    from ops.stack.compose import choose_provider

    requested = requested or dev_settings(cfg).provider
    if requested not in PROVIDERS:
        raise UsageError(f"unknown provider '{requested}'", f"use one of: {', '.join(PROVIDERS)}")
    return choose_provider(requested, StackState.load(StackPaths.of(cfg)).provider)


def up(cfg: Config, *, provider: str | None = None, seed: bool | None = None, out: Any = None) -> dict[str, Any]:
    """Bring the stack up (or repair it) and wait until every service is healthy."""
    from ops.local.settings import dev_settings

    started = time.monotonic()
    chosen = _provider(cfg, provider)
    seed = dev_settings(cfg).seed if seed is None else seed
    if chosen == "docker":
        from ops.stack.compose import ComposeStack

        compose = ComposeStack.load(cfg)
        actions = compose.up(seed=seed, out=out)
        timings = {}
        urls = {"base_url": compose.base_url, "app_url": compose.app_url, "db_url": compose.db_url}
        services: list[dict[str, Any]] = []
        admin_port = compose.ports["admin"]
    else:
        from ops.stack.native import NativeStack

        stack = NativeStack.load(cfg)
        actions = stack.up(seed=seed, out=out)
        timings = stack.timings
        urls = {"base_url": stack.base_url, "app_url": stack.app_url, "db_url": stack.db_url}
        services = stack.service_status(check_health=False)
        for row in services:
            row["health"] = "ok"
        admin_port = stack.ports["admin"]
    ca_path = str(StackPaths.of(cfg).ca_path)
    urls["db_url"] = mask_url(urls["db_url"])
    return {
        "provider": chosen,
        "changed": any(action not in {"ok", "running", "up to date", "healthy"} for action in actions.values()),
        "steps": actions,
        "step_seconds": timings,
        "services": services,
        **urls,
        "ca_path": ca_path,
        "trust": {
            "curl": f"curl --cacert {ca_path} {urls['base_url']}/healthz",
            "node": f"export NODE_EXTRA_CA_CERTS={ca_path}",
            "system": f"caddy trust --address 127.0.0.1:{admin_port}",
        },
        "elapsed_s": round(time.monotonic() - started, 3),
    }


def status(cfg: Config) -> dict[str, Any]:
    """Each service with its state, pid, port and health."""
    state = StackState.load(StackPaths.of(cfg))
    if state.provider == "docker":
        from ops.stack.compose import ComposeStack

        compose = ComposeStack.load(cfg)
        result = compose.run(compose.ps_command(), check=False)
        return {"provider": "docker", "services": _compose_rows(result.stdout), "base_url": compose.base_url}
    from ops.stack.native import NativeStack

    stack = NativeStack.load(cfg)
    services = stack.service_status() if state.exists else [_never_started(name) for name in SERVICES]
    return {
        "provider": state.provider or "native",
        "services": services,
        "healthy": all(row["health"] == "ok" for row in services),
        "base_url": stack.base_url if state.exists else None,
    }


def _never_started(service: str) -> dict[str, Any]:
    return {"service": service, "state": "stopped", "pid": None, "port": None, "url": None, "health": None}


def _compose_rows(output: str) -> list[dict[str, Any]]:
    import json

    rows = []
    for line in output.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        rows.append(
            {
                "service": item.get("Service"),
                "state": item.get("State"),
                "pid": None,
                "port": item.get("Publishers"),
                "url": None,
                "health": item.get("Health") or None,
            }
        )
    return rows


def down(cfg: Config, *, purge: bool = False) -> dict[str, Any]:
    """Stop every service; ``purge`` also deletes the stack's state (data, logs, CA)."""
    paths = StackPaths.of(cfg)
    state = StackState.load(paths)
    if state.provider == "docker":
        from ops.stack.compose import ComposeStack

        stopped = ComposeStack.load(cfg).down(purge=purge)
    else:
        from ops.stack.native import NativeStack

        stopped = NativeStack.load(cfg).down()
    purged = False
    if purge and paths.root.exists():
        shutil.rmtree(paths.root)
        purged = True
    return {"stopped": stopped, "purged": purged, "state_dir": str(paths.root)}


def _log_services(service: str | None) -> tuple[str, ...]:
    if service is None:
        return SERVICES
    if service not in SERVICES:
        raise UsageError(f"unknown service '{service}'", f"use one of: {', '.join(SERVICES)}")
    return (service,)


def logs(cfg: Config, service: str | None = None, lines: int = 50) -> list[tuple[str, str]]:
    """The last ``lines`` lines of each service's log, as (service, line)."""
    from ops.stack.process import last_lines

    paths = StackPaths.of(cfg)
    services = _log_services(service)
    if StackState.load(paths).provider == "docker":
        return _compose_logs(cfg, service, lines)
    return [(name, line) for name in services for line in last_lines(paths.log(name), lines)]


def _compose_logs(cfg: Config, service: str | None, lines: int) -> list[tuple[str, str]]:
    """``docker compose logs`` lines ("db-1  | text") as (service, text)."""
    from ops.stack.compose import ComposeStack

    compose = ComposeStack.load(cfg)
    argv = compose.logs_command(service, follow=False)
    argv[argv.index("--tail") + 1] = str(max(lines, 0))
    parsed = []
    for raw in compose.run(argv).stdout.splitlines():
        prefix, _, text = raw.partition("|")
        parsed.append((prefix.strip().rsplit("-", 1)[0], text.removeprefix(" ")))
    return parsed


def follow(cfg: Config, service: str | None = None, poll: float = 0.2) -> Iterator[tuple[str, str]]:
    """New log lines as they are written, as (service, line), until interrupted."""
    paths = StackPaths.of(cfg)
    if StackState.load(paths).provider == "docker":
        yield from _compose_follow(cfg, service)
        return
    offsets: dict[str, int] = {}
    for name in _log_services(service):
        log = paths.log(name)
        offsets[name] = log.stat().st_size if log.exists() else 0
    while True:
        for name in offsets:
            log = paths.log(name)
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


def _compose_follow(cfg: Config, service: str | None) -> Iterator[tuple[str, str]]:
    from ops.stack.compose import ComposeStack

    compose = ComposeStack.load(cfg)
    argv = [*compose.logs_command(service, follow=True)[: -1 if service else None], "--tail", "0"]
    if service:
        argv.append(service)
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env={**os.environ, **compose.environment()}) as proc:
        for raw in proc.stdout or []:
            prefix, _, text = raw.rstrip("\n").partition("|")
            yield prefix.strip().rsplit("-", 1)[0], text.removeprefix(" ")


def psql(cfg: Config, command: str | None = None) -> int:
    """Run psql on the local database (interactive unless ``command`` is given)."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from ops.local import local_db_url
    from ops.pg.binaries import pg_bin

    # The password goes in the environment: a command line is visible to every user (ps).
    params = conninfo_to_dict(local_db_url(cfg))
    password = str(params.pop("password", "") or "")
    argv = [pg_bin("psql"), make_conninfo("", **params), *(["-c", command] if command else [])]
    try:
        return subprocess.run(argv, env={**os.environ, "PGPASSWORD": password}).returncode
    except OSError as exc:
        raise ExternalError(f"cannot run psql: {exc.strerror}", "install the PostgreSQL client") from None


def env_exports(cfg: Config) -> dict[str, str]:
    """The variables an app needs for the local stack (secrets included: mask before printing)."""
    from ops.local import local_stack_env

    return local_stack_env(cfg)
