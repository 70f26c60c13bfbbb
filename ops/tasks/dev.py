"""``inv dev.*``: the local stack (Postgres, the app, Caddy TLS)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ops.tasks._base import number_option, ops_task

if TYPE_CHECKING:
    from ops.errors import ExitStatus


def _render_services(out: Any, services: list[dict[str, Any]]) -> None:
    rows = [[s["service"], s["state"], s["pid"] or "-", s["port"] or "-", s["health"] or "-"] for s in services]
    out.table(["service", "state", "pid", "port", "health"], rows)


@ops_task(
    help={
        "provider": "auto (docker when an engine answers, else native), native or docker",
        "seed": "apply supabase/seed.sql on first run (--no-seed skips it)",
        "json_": "print one JSON document on stdout",
    }
)
def up(c: Any, provider: str = "", seed: bool = True, json_: bool = False) -> None:
    """Start the local stack (or repair it) and wait until it is healthy."""
    from ops.config import load
    from ops.console import Output
    from ops.stack import up as stack_up

    out = Output(json_)
    report = stack_up(load(), provider=provider or None, seed=seed, out=out)
    state = "ready" if report["changed"] else "already running (nothing to do)"
    for note in report["notes"]:
        out.warn(note)
    out.line(f"dev stack {state} ({report['provider']}, {report['elapsed_s']:.1f}s)")
    out.line(f"  app (https):  {report['base_url']}")
    out.line(f"  app (direct): {report['app_url']}")
    out.line(f"  database:     {report['db_url']}")
    out.line(f"  CA:           {report['ca_path']}")
    out.line("trust the CA:")
    out.line(f"  curl:   {report['trust']['curl']}")
    out.line(f"  node:   {report['trust']['node']}")
    out.line(f"  system: {report['trust']['system']}")
    out.result(report)


@ops_task(help={"json_": "print one JSON document on stdout"})
def status(c: Any, json_: bool = False) -> None:
    """Each service with its state, pid, port and health."""
    from ops.config import load
    from ops.console import Output
    from ops.stack import status as stack_status

    out = Output(json_)
    report = stack_status(load())
    _render_services(out, report["services"])
    out.result(report)


@ops_task(help={"purge": "also delete the stack's state: database, logs, Caddy CA"})
def down(c: Any, purge: bool = False) -> None:
    """Stop the local stack."""
    from ops.config import load
    from ops.console import Output
    from ops.stack import down as stack_down

    out = Output()
    report = stack_down(load(), purge=purge)
    out.line(f"stopped: {', '.join(report['stopped']) or 'nothing was running'}")
    if report["purged"]:
        out.line(f"deleted {report['state_dir']}")


@ops_task(help={"service": "the service to restart: db, caddy or one of [tool.ops.dev.services]"})
def restart(c: Any, service: str) -> None:
    """Restart one service of the local stack (after changing its code) and wait until it is ready."""
    from ops.config import load
    from ops.console import Output
    from ops.stack import restart as restart_service

    report = restart_service(load(), service)
    Output().line(f"restarted {', '.join(report['restarted'])} ({report['elapsed_s']:.1f}s)")


# SERVICE is an option (-s app): Invoke has no optional positional arguments.
@ops_task(
    help={
        "service": "db, caddy or a service name (all when omitted)",
        "follow": "keep printing new lines",
        "lines": "how many",
    }
)
def logs(c: Any, service: str | None = None, follow: bool = False, lines: str = "50") -> None:
    """Show the stack's logs."""
    from ops.config import load
    from ops.console import Output
    from ops.stack import follow as follow_logs
    from ops.stack import logs as read_logs

    count = number_option(lines, "--lines")
    cfg, out = load(), Output()
    rows = read_logs(cfg, service, 50 if count is None else count)
    width = max([5, *(len(name) for name, _ in rows)])  # names line up; "caddy" is the shortest column
    for name, line in rows:
        out.line(f"{name:<{width}} | {line}")
    if follow:
        for name, line in follow_logs(cfg, service):
            out.line(f"{name:<{width}} | {line}")


@ops_task(help={"command": "run this SQL and exit instead of an interactive session"})
def psql(c: Any, command: str = "") -> ExitStatus:
    """Open psql on the local database (exits with psql's own status)."""
    from ops.config import load
    from ops.errors import ExitStatus
    from ops.stack import psql as run_psql

    return ExitStatus(run_psql(load(), command or None))


@ops_task(help={"reveal": "print the real secret values (for eval); masked otherwise"})
def env(c: Any, reveal: bool = False) -> None:
    """Print export lines for the local stack's variables (DATABASE_URL...)."""
    import shlex
    import sys

    from ops.config import load
    from ops.console import Output
    from ops.stack import env_exports

    lines = [f"export {name}={shlex.quote(value)}" for name, value in env_exports(load()).items()]
    if reveal:
        # Explicitly asked for: written around the masking console, for eval "$(inv dev.env --reveal)".
        sys.stdout.write("\n".join(lines) + "\n")
        return
    out = Output()
    for line in lines:
        out.line(line)
