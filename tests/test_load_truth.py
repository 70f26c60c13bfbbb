"""Load results tell the truth, and load scripts cannot reach production (issue 12 item 4,
issue 14 items 7 and 11), with the real k6 and Artillery against real local HTTP servers.

A team's own script runs with ``--script`` against a "staging" server; a second
server stands for production and counts every request it gets.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ops.errors import ExternalError
from ops.load import k6 as k6_engine
from ops.load.summary import parse_artillery
from tests.conftest import CliResult, run_ops

pytestmark = pytest.mark.integration


@dataclass
class Site:
    host: str
    port: int
    hits: list[str]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _serve(host: str) -> Iterator[Site]:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            status = 500 if self.path.startswith("/broken") else 200
            body = b'{"ok": true}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Site(host, server.server_address[1], hits)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def staging() -> Iterator[Site]:
    yield from _serve("127.0.0.1")


@pytest.fixture
def production() -> Iterator[Site]:
    yield from _serve("127.0.0.1")


@pytest.fixture
def team(tmp_path: Path) -> Path:
    root = tmp_path / "team"
    root.mkdir()
    (root / "pyproject.toml").write_text('[tool.ops]\n\n[tool.ops.load]\nduration = "1s"\nvus = 1\n')
    return root


def run_load(team: Path, script: Path, env: dict[str, str], *args: str) -> CliResult:
    return run_ops(
        "load.run", "--script", str(script), "--env", "staging", "--duration", "1s", "--vus", "1", *args,
        cwd=team, env={"OPS_PROJECT_ROOT": str(team), "CI": "", **env}, timeout=180,
    )  # fmt: skip


def thresholds(doc: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    return {t["name"]: (t["source"], t["passed"]) for t in doc["thresholds"]}


K6_FAILING_CHECKS = """\
import http from 'k6/http';
import { check } from 'k6';
export const options = { thresholds: { http_req_duration: ['p(99)<60000'], iterations: ['count<0'] } };
export default function () {
  const res = http.get(`${__ENV.BASE_URL}/`);
  check(res, { 'status is 201': (r) => r.status === 201 });
}
"""


def test_k6_failing_checks_fail_the_run_and_script_thresholds_are_shown(
    team: Path, staging: Site, production: Site
) -> None:
    script = team / "smoke.js"
    script.write_text(K6_FAILING_CHECKS)
    env = {"STAGING_BASE_URL": staging.url, "PRODUCTION_BASE_URL": production.url}
    result = run_load(team, script, env, "--json")
    assert result.code == 1, result.output
    doc = json.loads(result.stdout)
    assert doc["requests"] > 0 and doc["error_rate"] == 0
    assert doc["checks_passed"] == 0 and doc["checks_failed"] == doc["requests"] and doc["checks_rate"] == 0
    assert thresholds(doc) == {
        "p95 < 500 ms": ("config", True),
        "error rate < 1%": ("config", True),
        "checks >= 99% passing": ("config", False),
        "http_req_duration: p(99)<60000": ("script", True),
        "iterations: count<0": ("script", False),
    }
    assert "all thresholds passed" not in result.stderr
    assert "thresholds failed: checks >= 99% passing, iterations: count<0" in result.stderr
    assert "0.00% passing" in result.stderr and "FAIL" in result.stderr
    assert production.hits == []


def test_the_checks_threshold_is_configurable(team: Path, staging: Site) -> None:
    (team / "pyproject.toml").write_text(
        '[tool.ops]\n\n[tool.ops.load]\nduration = "1s"\nvus = 1\n\n[tool.ops.load.thresholds]\nchecks = false\n'
    )
    script = team / "smoke.js"
    script.write_text(K6_FAILING_CHECKS.replace(", iterations: ['count<0']", ""))
    result = run_load(team, script, {"STAGING_BASE_URL": staging.url}, "--json")
    assert result.code == 0, result.output
    assert "checks >= 99% passing" not in thresholds(json.loads(result.stdout))


ARTILLERY_FAILING = """\
config:
  target: "{{ $env.BASE_URL }}"
  plugins:
    expect: {}
    ensure:
      thresholds:
        - http.response_time.p99: 60000
  ensure:
    conditions:
      - expression: "http.codes.200 > 100000"
scenarios:
  - flow:
      - get:
          url: "/"
          expect:
            - statusCode: 201
      - get:
          url: "/broken"
          capture:
            - json: "$.missing"
              as: "nothing"
"""


def test_artillery_expectations_count_and_both_ensure_sets_are_judged(
    team: Path, staging: Site, production: Site
) -> None:
    script = team / "flow.yml"
    script.write_text(ARTILLERY_FAILING)
    env = {"STAGING_BASE_URL": staging.url, "PRODUCTION_BASE_URL": production.url}
    result = run_load(team, script, env, "--json")
    assert result.code == 1, result.output
    doc = json.loads(result.stdout)
    assert doc["requests"] > 0 and 0 < doc["error_rate"] <= 1
    assert doc["checks_failed"] > 0 and doc["checks_rate"] < 0.99
    verdicts = thresholds(doc)
    assert verdicts["checks >= 99% passing"] == ("config", False)
    # The script's two ensure sets, both kept: config.plugins.ensure and the top-level config.ensure.
    assert verdicts["http.response_time.p99 < 60000"] == ("script", True)
    assert verdicts["http.codes.200 > 100000"] == ("script", False)
    assert production.hits == []


def test_artillery_error_rate_never_exceeds_100_percent() -> None:
    """Failed captures used to count as failed requests on top of their 500s (142%, 200%)."""
    report = {
        "aggregate": {
            "counters": {
                "http.requests": 10,
                "http.responses": 8,
                "http.codes.500": 8,
                "errors.ECONNREFUSED": 2,
                "errors.Failed capture or match": 8,
                "plugins.expect.failed": 8,
            }
        }
    }
    summary = parse_artillery(report, ())
    assert summary.error_rate == 1.0
    assert summary.errors == {"ECONNREFUSED": 2}
    assert (summary.checks_passed, summary.checks_failed) == (0, 16)


def test_an_artillery_script_naming_another_host_is_refused(team: Path, staging: Site, production: Site) -> None:
    script = team / "sneaky.yml"
    env = {"STAGING_BASE_URL": staging.url, "PRODUCTION_BASE_URL": production.url}
    for text in (
        f'config:\n  target: "{production.url}"\nscenarios:\n  - flow:\n      - get:\n          url: "/"\n',
        f'config:\n  target: "{{{{ $env.BASE_URL }}}}"\nscenarios:\n  - flow:\n      - get:\n'
        f'          url: "http://localhost.:{production.port}/x"\n',
    ):
        script.write_text(text)
        result = run_load(team, script, env)
        assert result.code == 2, result.output
        assert "sends requests to another host than the target" in result.stderr
    assert production.hits == [] and staging.hits == []


def _direct_script(team: Path, url: str) -> Path:
    script = team / "direct.js"
    script.write_text(
        "import http from 'k6/http';\n"
        "export const options = { blockHostnames: ['nothing.invalid'] };\n"
        "export default function () {\n"
        "  http.get(`${__ENV.BASE_URL}/`);\n"
        f"  http.get('{url}');\n"
        "}\n"
    )
    return script


def test_a_k6_script_naming_production_gets_no_answer_by_name(team: Path, staging: Site, production: Site) -> None:
    """blockHostnames: production's host name, added to the script's own (and not overridable by env)."""
    production_url = f"http://localhost:{production.port}"
    script = _direct_script(team, f"{production_url}/by-name")
    env = {"STAGING_BASE_URL": staging.url, "PRODUCTION_BASE_URL": production_url, "K6_BLOCK_HOSTNAMES": "x.test"}
    result = run_load(team, script, env, "--json")
    doc = json.loads(result.stdout)
    assert doc["requests"] > 0 and "/" in staging.hits, result.output
    assert doc["error_rate"] > 0  # the blocked requests failed
    assert production.hits == []


def test_a_k6_script_naming_production_gets_no_answer_by_address(team: Path, staging: Site) -> None:
    """blacklistIPs: production's addresses that are not the target's (127.0.0.2 here)."""
    for production in _serve("127.0.0.2"):
        script = _direct_script(team, f"{production.url}/by-address")
        env = {"STAGING_BASE_URL": staging.url, "PRODUCTION_BASE_URL": production.url, "K6_BLACKLIST_IPS": ""}
        result = run_load(team, script, env, "--json")
        doc = json.loads(result.stdout)
        assert doc["requests"] > 0 and "/" in staging.hits, result.output
        assert production.hits == []


def test_blocked_targets() -> None:
    blocked = k6_engine.blocked_targets("https://shop.example.com", "https://staging.example.com")
    assert blocked is not None and blocked.hostnames == ["shop.example.com"]
    same_host = k6_engine.blocked_targets("https://example.com", "https://example.com:8443")
    assert same_host is None or same_host.hostnames == []
    by_ip = k6_engine.blocked_targets("http://127.0.0.2:80", "http://127.0.0.1:81")
    assert by_ip == k6_engine.BlockedTargets([], ["127.0.0.2/32"])
    assert k6_engine.blocked_targets(None, "http://127.0.0.1:81") is None


def test_k6_version_is_checked_once_per_binary(tmp_path: Path) -> None:
    k6 = k6_engine.find_k6()
    k6_engine.check_version(k6, tmp_path)
    cache = json.loads((tmp_path / "k6-version.json").read_text())
    assert list(cache.values()) == ["v1.1.0"]
    with pytest.raises(ExternalError) as info:
        k6_engine.check_version(Path("/bin/true"), tmp_path)
    assert info.value.one_line().startswith("error: k6 at /bin/true does not report a version, expected v1.1.0")


def test_an_unwritable_state_dir_is_one_line(team: Path, staging: Site) -> None:
    """Issue 14 item 13: no traceback when the run directory cannot be made (a file stands in the way:
    permissions would not stop root)."""
    (team / "pyproject.toml").write_text('[tool.ops]\nstate_dir = "blocker/state"\n')
    (team / "blocker").write_text("not a directory\n")
    script = team / "smoke.js"
    script.write_text("import http from 'k6/http';\nexport default function () { http.get(`${__ENV.BASE_URL}/`); }\n")
    result = run_load(team, script, {"STAGING_BASE_URL": staging.url})
    assert result.code == 2, result.output
    assert result.stderr.splitlines()[-1].startswith("error: cannot create the run directory ")
    assert "Traceback" not in result.output and staging.hits == []
