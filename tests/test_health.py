"""``inv health`` against the real local stack (Caddy TLS + app + Postgres) and real app processes."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CliResult, LocalStack, run_cli

from ops.health import EndpointResult, HealthReport, check, probe, ssl_context
from ops.pg.cluster import free_port


def health(*args: str, root: Path | None = None) -> CliResult:
    env = {"OPS_PROJECT_ROOT": str(root)} if root else None
    return run_cli("health", *args, cwd=root or Path.cwd(), env=env, timeout=120)


def closed_port() -> int:
    return free_port()


@pytest.fixture
def app_process(local_stack: LocalStack, tmp_path: Path) -> Iterator[object]:
    """A second real app process on a free port; the test chooses its database and when it starts."""
    from ops.stack.app import AppProcess

    started: list[AppProcess] = []

    def make(database_url: str) -> AppProcess:
        extra = {k: v for k, v in local_stack.app_env.items() if k != "DATABASE_URL"}
        app = AppProcess(local_stack.cfg, database_url, free_port(), tmp_path / "app.log", extra_env=extra)  # type: ignore[arg-type]
        started.append(app)
        return app

    yield make
    for app in started:
        app.stop()


def wait_for_process(url: str, timeout: float = 30.0) -> None:
    """Until the app answers /healthz at all (its /readyz may be failing on purpose)."""
    deadline = time.monotonic() + timeout
    context = ssl_context(None)
    while time.monotonic() < deadline:
        if probe(url + "/healthz", context=context, timeout=1.0).reachable:
            return
        time.sleep(0.1)
    pytest.fail(f"the app at {url} did not start")


def test_local_stack_through_caddy_is_healthy(local_stack: LocalStack) -> None:
    result = health(root=local_stack.root)
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"health of {local_stack.base_url}"
    assert lines[-1] == f"healthy: {local_stack.base_url}"
    assert local_stack.base_url.startswith("https://")
    rows = [line for line in lines if line.startswith("│")]
    assert [row.split("│")[1].strip() for row in rows] == ["/healthz", "/readyz", "database"]
    assert all("200" in row for row in rows[:2])
    assert result.stderr == ""


def test_json_report_of_the_local_stack(local_stack: LocalStack) -> None:
    result = health("--json", root=local_stack.root)
    assert result.code == 0, result.output
    document = json.loads(result.stdout)
    assert document["status"] == "healthy"
    assert document["base_url"] == local_stack.base_url
    healthz, readyz = document["endpoints"]
    assert (healthz["path"], healthz["status"], healthz["body"]) == ("/healthz", 200, {"status": "ok"})
    assert readyz["status"] == 200
    assert readyz["body"]["checks"]["database"]["status"] == "ok"
    assert readyz["latency_ms"] > 0
    assert f"healthy: {local_stack.base_url}" in result.stderr


def test_url_over_tls_needs_the_local_ca(local_stack: LocalStack) -> None:
    untrusted = health("--url", local_stack.base_url, "--retries", "0")
    assert untrusted.code == 3
    assert untrusted.stderr.strip().startswith(
        f"error: {local_stack.base_url}/healthz is unreachable: TLS verification"
    )

    trusted = health("--url", local_stack.base_url, "--cacert", str(local_stack.ca_path))
    assert trusted.code == 0, trusted.output


def test_app_with_its_database_down_is_unhealthy(app_process, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    dead_db = f"postgresql://postgres@127.0.0.1:{closed_port()}/postgres"
    app = app_process(dead_db)
    app.start()
    wait_for_process(app.url)

    result = health("--url", app.url, "--json")
    assert result.code == 1, result.output
    document = json.loads(result.stdout)
    assert document["status"] == "unhealthy"
    healthz, readyz = document["endpoints"]
    assert healthz["status"] == 200
    assert readyz["status"] == 503
    assert readyz["body"]["checks"]["database"]["status"] == "fail"
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {app.url}/readyz is unhealthy: 503 database: fail (")
    assert last.endswith("(fix: see the failing check above and the app's logs)")


@pytest.fixture
def caddy_proxy(local_stack: LocalStack, tmp_path: Path) -> Iterator[object]:
    """A real Caddy reverse proxy (plain http, its own admin port) in front of a given port."""
    from ops.stack.caddy import find_caddy

    processes: list[subprocess.Popen[bytes]] = []

    def start(upstream_port: int) -> str:
        listen, admin = free_port(), free_port()
        (tmp_path / "Caddyfile").write_text(
            f"{{\n\tadmin 127.0.0.1:{admin}\n\tauto_https off\n\tpersist_config off\n}}\n"
            f"http://127.0.0.1:{listen} {{\n\treverse_proxy 127.0.0.1:{upstream_port}\n}}\n"
        )
        env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "XDG_CONFIG_HOME": str(tmp_path / "config")}
        with (tmp_path / "caddy.log").open("wb") as log:
            processes.append(
                subprocess.Popen(
                    [str(find_caddy(local_stack.cfg)), "run", "--config", "Caddyfile", "--adapter", "caddyfile"],  # type: ignore[arg-type]
                    cwd=tmp_path,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        return f"http://127.0.0.1:{listen}"

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def test_wait_for_a_starting_app_then_the_stopped_app_behind_caddy_is_unhealthy(
    app_process,  # type: ignore[no-untyped-def]
    caddy_proxy,  # type: ignore[no-untyped-def]
    local_stack: LocalStack,
) -> None:
    app = app_process(local_stack.db_url)
    proxy_url = caddy_proxy(app.port)
    app.start()
    # Straight after start neither Caddy nor the app may answer yet: --wait keeps checking until ready.
    result = health("--url", proxy_url, "--wait", "60")
    assert result.code == 0, result.output
    assert result.stdout.splitlines()[-1].startswith(f"healthy: {proxy_url}")

    app.stop()
    # Caddy answers for the stopped app with 502: unhealthy (exit 1), not unreachable.
    result = health("--url", proxy_url, "--retries", "0")
    assert result.code == 1, result.output
    assert "│ /healthz │ 502    │" in result.stdout
    assert result.stderr.strip() == (
        f"error: {proxy_url}/healthz is unhealthy: 502 Bad Gateway "
        "(fix: see the failing check above and the app's logs)"
    )
    # The app's own port is closed: unreachable (exit 3).
    result = health("--url", app.url, "--retries", "1")
    assert result.code == 3
    assert result.stdout.splitlines()[-1] == f"unreachable: {app.url}"
    assert result.stderr.strip() == (
        f"error: {app.url}/healthz is unreachable: connection refused "
        "(fix: start the app (local: inv dev.up) or check the base URL)"
    )


def test_unreachable_port_exits_3() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    result = health("--url", url, "--retries", "0", "--json")
    assert result.code == 3
    document = json.loads(result.stdout)
    assert document["status"] == "unreachable"
    assert [endpoint["error"] for endpoint in document["endpoints"]] == ["connection refused"] * 2
    assert result.stderr.strip().endswith(
        f"error: {url}/healthz is unreachable: connection refused "
        "(fix: start the app (local: inv dev.up) or check the base URL)"
    )


def test_bad_arguments_are_usage_errors() -> None:
    assert health("--env", "qa").stderr.strip() == (
        "error: unknown environment 'qa' (fix: use one of: local, staging, production)"
    )
    result = health("--url", "ftp://example.com")
    assert result.code == 2
    assert result.stderr.strip() == (
        "error: base URL 'ftp://example.com' is not http(s) (fix: pass a URL like https://app.example.com)"
    )
    # no traceback from the command-line parser for a bad number
    result = health("--url", "http://127.0.0.1:1", "--wait", "soon")
    assert (result.code, result.stderr.strip()) == (
        2,
        "error: --wait expects a number >= 0, got 'soon' (fix: for example --wait 1)",
    )


def test_missing_environment_url_names_the_variable(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.ops]\n")
    result = run_cli("health", "--env", "staging", cwd=tmp_path, env={"OPS_PROJECT_ROOT": str(tmp_path)})
    assert result.code == 2
    assert result.stderr.strip() == "error: no base URL for 'staging' (fix: set STAGING_BASE_URL)"


def test_a_2xx_whose_body_says_fail_is_unhealthy() -> None:
    endpoint = EndpointResult("/readyz", "http://x/readyz", status=200, body={"status": "fail", "checks": {}})
    report = HealthReport("http://x", [endpoint])
    assert (report.verdict, report.exit_code) == ("unhealthy", 1)
    assert EndpointResult("/healthz", "u", status=204, body="").healthy


def test_library_call_without_the_cli() -> None:
    report = check(f"http://127.0.0.1:{closed_port()}", retries=0, timeout=1)
    assert report.verdict == "unreachable"
    assert report.to_dict()["endpoints"][0]["attempts"] == 1
