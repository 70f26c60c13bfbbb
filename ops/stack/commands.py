"""The dev stack's commands, callable from Python exactly as the ``dev.*`` tasks call them."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

from ops.config import Config
from ops.console import mask_url
from ops.errors import ExternalError
from ops.local.settings import dev_settings
from ops.local.state import StackPaths, StackState
from ops.stack.protocol import Stack

SETTLED = {"ok", "running", "up to date", "healthy"}


def _stack(cfg: Config, provider: str) -> Stack:
    if provider == "docker":
        from ops.stack.compose import ComposeStack

        return ComposeStack.load(cfg)
    from ops.stack.native import NativeStack

    return NativeStack.load(cfg)


def _remembered(cfg: Config) -> Stack:
    """The stack as the last ``up`` made it (native when there was none)."""
    return _stack(cfg, StackState.load(StackPaths.of(cfg)).provider or "native")


def choose(cfg: Config, requested: str | None) -> str:
    from ops.stack.compose import choose_provider

    requested = requested or dev_settings(cfg).provider
    if requested not in {"auto", "native", "docker"}:
        from ops.errors import UsageError

        raise UsageError(f"unknown provider '{requested}'", "use one of: auto, native, docker")
    return choose_provider(requested, StackState.load(StackPaths.of(cfg)).provider)


def up(cfg: Config, *, provider: str | None = None, seed: bool | None = None, out: Any = None) -> dict[str, Any]:
    """Bring the stack up (or repair it) and wait until every service is healthy."""
    started = time.monotonic()
    stack = _stack(cfg, choose(cfg, provider))
    seed = dev_settings(cfg).seed if seed is None else seed
    actions = stack.up(seed=seed, out=out)
    services = stack.status(check_health=False)
    for row in services:
        if row["state"] == "running":
            row["health"] = "ok"
    urls = stack.report_urls()
    paths = StackPaths.of(cfg)
    ca_path = str(paths.ca_path)
    urls["db_url"] = mask_url(urls["db_url"])
    return {
        "provider": stack.provider,
        "changed": any(action not in SETTLED for action in actions.values()),
        "steps": actions,
        "step_seconds": stack.timings,
        "notes": stack.notes,
        "services": services,
        **urls,
        "ca_path": ca_path,
        "trust": {
            "curl": f"curl --cacert {ca_path} {urls['base_url']}/",
            "node": f"export NODE_EXTRA_CA_CERTS={ca_path}",
            "system": f"caddy trust --address unix/{paths.caddy_dir / 'admin.sock'}",
        },
        "elapsed_s": round(time.monotonic() - started, 3),
    }


def status(cfg: Config) -> dict[str, Any]:
    """Each service with its state, pid, port and health."""
    state = StackState.load(StackPaths.of(cfg))
    stack = _remembered(cfg)
    services = stack.status()
    return {
        "provider": stack.provider,
        "services": services,
        "healthy": state.exists and all(row["health"] == "ok" for row in services),
        "base_url": stack.report_urls()["base_url"] if state.exists else None,
    }


def down(cfg: Config, *, purge: bool = False) -> dict[str, Any]:
    """Stop every service; ``purge`` also deletes the stack's state (data, logs, CA)."""
    paths = StackPaths.of(cfg)
    stopped = _remembered(cfg).down(purge=purge)
    purged = False
    if purge and paths.root.exists():
        shutil.rmtree(paths.root)
        purged = True
    return {"stopped": stopped, "purged": purged, "state_dir": str(paths.root)}


def restart(cfg: Config, service: str) -> dict[str, Any]:
    """Restart one service (after changing its code) and wait until it is ready."""
    started = time.monotonic()
    done = _remembered(cfg).restart(service)
    return {"restarted": list(done), "elapsed_s": round(time.monotonic() - started, 3)}


def logs(cfg: Config, service: str | None = None, lines: int = 50) -> list[tuple[str, str]]:
    """The last ``lines`` lines of each service's log, as (service, line)."""
    return _remembered(cfg).logs(service, max(lines, 0))


def follow(cfg: Config, service: str | None = None) -> Iterator[tuple[str, str]]:
    """New log lines as they are written, as (service, line), until interrupted."""
    yield from _remembered(cfg).follow(service)


def psql(cfg: Config, command: str | None = None) -> int:
    """Run psql on the local database (interactive unless ``command`` is given)."""
    import os

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
    """The variables an app needs for the local stack, every service's URL among them
    (secrets included: mask before printing)."""
    from ops.local import local_stack_env

    return local_stack_env(cfg)
