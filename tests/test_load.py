"""load.run and load.k8s against the real local stack (Postgres + app + Caddy TLS),
with the real k6 and Artillery.

The runs are short (2 s, 2 VUs) and go in one concurrent batch, so the module
stays well under two minutes. The app limits each client IP to 30 requests a
minute; k6 connects from 127.0.0.2 (``K6_LOCAL_IPS``) so the two
engines are two clients to the limiter, as two load generators would be, and
neither has to wait for the other's budget to free up.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from ops.config import load
from ops.load.k8s import k8s_manifests, validate_testrun
from ops.load.summary import parse_artillery, parse_k6
from tests.conftest import REPO, CliResult, LocalStack, reachable_tempdir, run_ops

ENGINES = ("k6", "artillery")
SCENARIOS = ("catalog", "product", "checkout", "admin", "ratelimit")
BATCH_SCENARIOS = ("catalog", "product", "checkout", "admin")
LOAD_DIR = REPO / "infra" / "tests" / "load"
REPORT_KEYS = {
    "scenario", "engine", "env", "target", "script", "vus", "duration_s", "iterations", "requests", "rps",
    "p50_ms", "p95_ms", "p99_ms", "error_rate", "status_codes", "latency_ms", "errors", "thresholds",
    "passed", "exit_code", "engine_exit_code", "summary_file", "log_file", "warnings",
    "checks_passed", "checks_failed", "checks_rate",
}  # fmt: skip


def write_project(root: Path, pyproject: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(pyproject)
    return root


@pytest.fixture(scope="module")
def load_project(local_stack: LocalStack) -> Iterator[Path]:
    """A project that shares the running stack's state (so --env local finds it) and
    adds [tool.ops.load]: short runs, this repo's scripts, and one impossible threshold."""
    base = reachable_tempdir("ops-test-load-")
    stack_toml = (local_stack.root / "pyproject.toml").read_text()
    state_dir = json.dumps(str(local_stack.cfg.state_dir))  # type: ignore[attr-defined]
    pyproject = stack_toml.replace('state_dir = ".ops"', f"state_dir = {state_dir}") + (
        "\n[tool.ops.load]\n"
        f"scripts_dir = {json.dumps(str(LOAD_DIR))}\n"
        'duration = "2s"\n'
        "vus = 2\n"
        # Generous on purpose: a busy 2-core CI machine runs three engines at once here.
        "\n[tool.ops.load.thresholds]\n"
        "p95_ms = 2000\n"
        "\n[tool.ops.load.scenarios.impossible.thresholds]\n"
        "p95_ms = 0.001\n"
    )
    yield write_project(base / "project", pyproject)
    import shutil

    shutil.rmtree(base, ignore_errors=True)


def load_cli(project: Path, *args: str, env: dict[str, str] | None = None) -> CliResult:
    return run_ops(*args, cwd=project, env={"OPS_PROJECT_ROOT": str(project), **(env or {})}, timeout=180)


def load_json(result: CliResult) -> dict[str, Any]:
    assert result.stdout.strip(), result.stderr
    return json.loads(result.stdout)


def count_orders(db_url: str) -> int:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("select count(*) from public.orders").fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture(scope="module")
def runs(load_project: Path, local_stack: LocalStack) -> dict[tuple[str, str], Any]:
    """Every run of the module, keyed (engine, scenario); plus the orders the checkouts made."""
    results: dict[tuple[str, str], Any] = {}

    def run(engine: str, scenario: str) -> CliResult:
        args = ["load.run", "--env", "local", "--engine", engine, "--scenario", scenario, "--json"]
        if scenario == "impossible":
            args += ["--script", str(LOAD_DIR / ("catalog.js" if engine == "k6" else "catalog.yml"))]
        return load_cli(load_project, *args, env={"K6_LOCAL_IPS": "127.0.0.2"} if engine == "k6" else {})

    orders_before = count_orders(local_stack.db_url)
    batch = [(engine, scenario) for scenario in ("ratelimit", *BATCH_SCENARIOS, "impossible") for engine in ENGINES]
    with ThreadPoolExecutor(max_workers=3) as pool:
        for key, result in zip(batch, pool.map(lambda key: run(*key), batch), strict=True):
            results[key] = result
    results[("orders", "created")] = count_orders(local_stack.db_url) - orders_before
    return results


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("scenario", BATCH_SCENARIOS)
def test_each_scenario_passes_through_caddy_tls(runs: dict[tuple[str, str], Any], scenario: str, engine: str) -> None:
    result = runs[(engine, scenario)]
    assert result.code == 0, result.output
    doc = load_json(result)
    assert set(doc) == REPORT_KEYS
    assert (doc["scenario"], doc["engine"], doc["env"], doc["passed"]) == (scenario, engine, "local", True)
    assert doc["target"].startswith("https://")
    assert doc["requests"] > 0
    assert doc["error_rate"] == 0
    assert [t["name"] for t in doc["thresholds"]] == ["p95 < 2000 ms", "error rate < 1%", "checks >= 99% passing"]
    assert all(t["passed"] for t in doc["thresholds"])
    expected_status = "201" if scenario == "checkout" else "200"
    assert doc["status_codes"][expected_status] > 0
    assert "all thresholds passed" in result.stderr
    assert "load.run" in result.stderr and "threshold p95 < 2000 ms" in result.stderr


@pytest.mark.parametrize("engine", ENGINES)
def test_ratelimit_scenario_sees_200_under_the_limit_and_429_over_it(
    runs: dict[tuple[str, str], Any], engine: str
) -> None:
    result = runs[(engine, "ratelimit")]
    assert result.code == 0, result.output
    doc = load_json(result)
    assert doc["status_codes"]["200"] > 0
    assert doc["status_codes"]["429"] >= 3
    assert doc["error_rate"] == 0  # 429 is the expected answer here
    names = {t["name"]: t["passed"] for t in doc["thresholds"]}
    assert names == {
        "p95 < 2000 ms": True,
        "error rate < 1%": True,
        "checks >= 99% passing": True,
        "status 200 seen": True,
        "status 429 seen": True,
    }


@pytest.mark.parametrize("engine", ENGINES)
def test_an_impossible_threshold_exits_1_and_names_it(runs: dict[tuple[str, str], Any], engine: str) -> None:
    result = runs[(engine, "impossible")]
    assert result.code == 1, result.output
    doc = load_json(result)
    # Artillery's ensure plugin is off during the run (its verdicts are ours, judged on the report).
    assert doc["engine_exit_code"] == (99 if engine == "k6" else 0)
    failed = [t["name"] for t in doc["thresholds"] if not t["passed"]]
    assert failed == ["p95 < 0.001 ms"]
    assert "thresholds failed: p95 < 0.001 ms" in result.stderr


def test_json_documents_have_one_shape_for_both_engines(runs: dict[tuple[str, str], Any]) -> None:
    k6_doc, artillery_doc = (load_json(runs[(engine, "catalog")]) for engine in ENGINES)
    assert set(k6_doc) == set(artillery_doc) == REPORT_KEYS
    # checks_rate is None for a script without checks (this repo's Artillery catalog has no expectations).
    assert {key: type(value) for key, value in k6_doc.items() if key != "checks_rate"} == {
        key: type(value) for key, value in artillery_doc.items() if key != "checks_rate"
    }
    assert all(isinstance(doc["checks_rate"], float | None) for doc in (k6_doc, artillery_doc))
    assert set(k6_doc["latency_ms"]) == set(artillery_doc["latency_ms"])
    assert [set(t) for t in k6_doc["thresholds"]] == [set(t) for t in artillery_doc["thresholds"]]


def test_k6_summary_parsing_matches_the_captured_export(runs: dict[tuple[str, str], Any]) -> None:
    doc = load_json(runs[("k6", "checkout")])
    raw = json.loads(Path(doc["summary_file"]).read_text())
    metrics = raw["metrics"]
    parsed = parse_k6(raw, {"p95_ms": ("http_req_duration", "p(95)<2000")})
    assert parsed.requests == metrics["http_reqs"]["count"] == doc["requests"]
    assert parsed.p95_ms == round(metrics["http_req_duration"]["p(95)"], 3) == doc["p95_ms"]
    assert parsed.p99_ms == round(metrics["http_req_duration"]["p(99)"], 3)
    assert parsed.p50_ms == round(metrics["http_req_duration"]["med"], 3)
    assert parsed.engine_verdicts == {"p95_ms": not metrics["http_req_duration"]["thresholds"]["p(95)<2000"]}
    assert sum(parsed.status_codes.values()) + sum(parsed.errors.values()) == parsed.requests


def test_artillery_summary_parsing_matches_the_captured_report(runs: dict[tuple[str, str], Any]) -> None:
    doc = load_json(runs[("artillery", "checkout")])
    raw = json.loads(Path(doc["summary_file"]).read_text())
    counters, times = raw["aggregate"]["counters"], raw["aggregate"]["summaries"]["http.response_time"]
    parsed = parse_artillery(raw, ())
    assert parsed.requests == counters["http.requests"] == doc["requests"]
    assert parsed.p95_ms == times["p95"] and parsed.p99_ms == times["p99"] and parsed.p50_ms == times["median"]
    assert parsed.status_codes == {k.removeprefix("http.codes."): v for k, v in counters.items() if "http.codes." in k}


def test_checkout_201_counts_equal_the_orders_written(runs: dict[tuple[str, str], Any]) -> None:
    """The parsed 201 counts of both engines are exactly the orders the app committed."""
    created = sum(load_json(runs[(engine, "checkout")])["status_codes"].get("201", 0) for engine in ENGINES)
    assert created == runs[("orders", "created")] > 0


@pytest.mark.parametrize("engine", ENGINES)
def test_tls_verification_stays_on(load_project: Path, local_stack: LocalStack, engine: str) -> None:
    """The same Caddy URL as staging, which brings no Caddy root CA: every request fails verification."""
    env = {"STAGING_BASE_URL": local_stack.base_url}
    args = ("--env", "staging", "--scenario", "catalog", "--engine", engine, "--vus", "1", "--duration", "1s")
    result = load_cli(load_project, "load.run", *args, "--json", env=env)
    assert result.code == 1, result.output
    doc = load_json(result)
    assert doc["error_rate"] == 1 and doc["status_codes"] == {}
    assert sum(doc["errors"].values()) == doc["requests"] > 0
    # Artillery has no latency without a response, and an unmeasured p95 does not pass.
    assert "error rate < 1%" in [t["name"] for t in doc["thresholds"] if not t["passed"]]


# --- the guard and the caps: refused before any traffic ---------------------------------------


class Listener:
    """A loopback socket that counts the connections made to it (to prove none were)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    sensor = Listener()
    yield sensor
    sensor.close()


@pytest.fixture
def plain_project(tmp_path: Path) -> Path:
    return write_project(
        tmp_path / "project",
        '[project]\nname = "sample"\n\n[tool.ops]\n\n[tool.ops.load]\n'
        f'scripts_dir = {json.dumps(str(LOAD_DIR))}\nmax_vus = 10\nmax_duration = "1m"\n',
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_production_by_name_is_refused_before_any_traffic(plain_project: Path, listener: Listener, engine: str) -> None:
    env = {"PRODUCTION_BASE_URL": listener.url}
    result = load_cli(
        plain_project, "load.run", "--env", "production", "--scenario", "catalog", "--engine", engine, env=env
    )
    assert result.code == 2
    assert result.stderr.strip() == "error: load.run never targets production (fix: use --env staging or --env local)"
    assert listener.accepted == 0
    assert not (plain_project / ".ops" / "load").exists()


def test_a_target_equal_to_productions_url_is_refused_before_any_traffic(
    plain_project: Path, listener: Listener
) -> None:
    env = {
        "PRODUCTION_BASE_URL": listener.url + "/",
        "STAGING_BASE_URL": listener.url.replace("127.0.0.1", "localhost"),
    }
    result = load_cli(plain_project, "load.run", "--scenario", "catalog", env=env)
    assert result.code == 2
    assert result.stderr.strip() == (
        "error: load.run refused: the target URL of 'staging' reaches production's base URL"
        " (fix: point it at staging or local)"
    )
    assert listener.accepted == 0


def test_load_k8s_refuses_production(plain_project: Path, listener: Listener) -> None:
    env = {"PRODUCTION_BASE_URL": listener.url, "STAGING_BASE_URL": listener.url}
    result = load_cli(plain_project, "load.k8s", "--scenario", "catalog", env=env)
    assert result.code == 2
    assert "reaches production's base URL" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--vus", "11"), "error: 11 VUs exceeds the cap of 10 (fix: lower --vus or raise max_vus in [tool.ops.load])"),
        (
            ("--duration", "2m"),
            "error: duration 120s exceeds the cap of 60s "
            "(fix: shorten --duration or raise max_duration in [tool.ops.load])",
        ),
        (("--duration", "soon"), "error: invalid duration 'soon' (fix: use a duration like 30s, 2m or 1m30s)"),
        (("--engine", "jmeter"), "error: unknown engine 'jmeter' (fix: use one of: k6, artillery)"),
    ],
)
def test_runs_are_bounded_and_checked_before_they_start(
    plain_project: Path, listener: Listener, args: tuple[str, ...], message: str
) -> None:
    result = load_cli(plain_project, "load.run", "--scenario", "catalog", *args, env={"STAGING_BASE_URL": listener.url})
    assert (result.code, result.stderr.strip()) == (2, message)
    assert listener.accepted == 0


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (
            ("load.run", "--scenario", "catalog", "--vus", "ten"),
            "error: --vus expects a whole number >= 1, got 'ten' (fix: for example --vus 4)",
        ),
        (
            ("load.run", "--scenario", "catalog", "--vus", "0"),
            "error: --vus expects a whole number >= 1, got '0' (fix: for example --vus 4)",
        ),
        (
            ("load.k8s", "--scenario", "catalog", "--parallelism", "two"),
            "error: --parallelism expects a whole number >= 1, got 'two' (fix: for example --parallelism 4)",
        ),
        (
            ("load.k8s", "--scenario", "catalog", "--output", "/nonexistent-dir/testrun.yaml"),
            "error: cannot write /nonexistent-dir/testrun.yaml: No such file or directory "
            "(fix: pass a writable --output path)",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_without_traceback(
    plain_project: Path, listener: Listener, command: tuple[str, ...], message: str
) -> None:
    result = load_cli(plain_project, *command, env={"STAGING_BASE_URL": listener.url})
    assert (result.code, result.stderr.strip()) == (2, message)
    assert listener.accepted == 0


def test_an_unknown_threshold_key_is_a_config_error(tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", "[tool.ops.load.thresholds]\np96_ms = 10\n")
    result = load_cli(project, "load.run", "--scenario", "catalog", env={"STAGING_BASE_URL": "http://127.0.0.1:9"})
    assert result.code == 2
    assert result.stderr.startswith("error: [tool.ops.load] thresholds: unknown threshold 'p96_ms' (did you mean")


# --- Ctrl-C ------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_stops_the_engine_cleanly(load_project: Path, sig: signal.Signals, engine: str) -> None:
    """The engine runs in its own session: only our handling can stop it, for Ctrl-C and for a plain kill."""
    env = {**os.environ, "OPS_PROJECT_ROOT": str(load_project)}
    argv = [sys.executable, "-m", "ops", "load.run", "--env", "local", "--scenario", "catalog", "--duration", "60s"]
    argv += ["--engine", engine, "--json"]
    proc = subprocess.Popen(argv, cwd=load_project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    engine_pid = wait_for_engine(proc)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130, stderr[-3000:]
    assert stderr.strip().endswith("error: interrupted")
    assert stdout == ""  # no half report on stdout
    assert not pid_alive(engine_pid)


def test_an_engine_past_its_deadline_is_stopped(tmp_path: Path) -> None:
    """Whatever a script does, a run ends: past the deadline the engine is stopped (exit 3)."""
    from ops.errors import ExternalError
    from ops.load.process import run_engine

    started = time.monotonic()
    with pytest.raises(ExternalError) as raised:
        run_engine(["sleep", "60"], env=dict(os.environ), cwd=tmp_path, log_path=tmp_path / "log", deadline_s=0.5)
    assert raised.value.one_line() == (
        f"error: sleep was still running after 0.5s and was stopped (fix: see {tmp_path / 'log'}; a script must end "
        "within the run's duration)"
    )
    assert raised.value.exit_code == 3
    assert time.monotonic() - started < 30  # stopped, not waited out (the bound is sleep's own 60 s)


def test_an_engine_exit_code_and_progress_reach_the_caller(tmp_path: Path) -> None:
    """The display opens once the engine runs, gets the elapsed seconds, and the engine's own exit code comes back."""
    from contextlib import contextmanager

    from ops.load.process import run_engine

    events: list[str] = []
    ticks: list[float] = []

    @contextmanager
    def display() -> Iterator[Callable[[float], None]]:
        events.append("open")
        yield ticks.append
        events.append("closed")

    argv = ["sh", "-c", "echo started; sleep 0.7; exit 7"]
    code = run_engine(argv, env=dict(os.environ), cwd=tmp_path, log_path=tmp_path / "log", progress=display)
    assert code == 7
    assert events == ["open", "closed"]
    assert ticks and ticks == sorted(ticks)
    assert (tmp_path / "log").read_text() == "started\n"


def wait_for_engine(proc: subprocess.Popen[str]) -> int:
    """The pid of the engine process the command started (a child of it, started as ``<engine> run ...``)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        for child in children:
            if b"run" in Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")[1:3]:
                return int(child)
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("the engine did not start")


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"


# --- k6-operator manifests ----------------------------------------------------------------------


@pytest.fixture
def staging_project(plain_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STAGING_BASE_URL", "https://staging.example.test")
    monkeypatch.setenv("ADMIN_TOKEN", "admin-secret-value-123")
    return plain_project


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_scenario_makes_a_testrun_valid_against_the_crd_schema(staging_project: Path, scenario: str) -> None:
    manifests = k8s_manifests(load(staging_project), scenario, parallelism=2, vus=4)
    assert validate_testrun(manifests.testrun) == []
    spec = manifests.testrun["spec"]
    assert spec["parallelism"] == 2
    assert spec["script"] == {"configMap": {"name": f"ops-load-{scenario}", "file": "entry.js"}}
    data = manifests.configmap["data"]
    assert set(data) == {"entry.js", f"{scenario}.js", "common.js"}
    assert f'import * as scenario from "./{scenario}.js";' in data["entry.js"]


def test_the_validator_rejects_what_the_crd_rejects(staging_project: Path) -> None:
    testrun = k8s_manifests(load(staging_project), "catalog", parallelism=2).testrun
    testrun["spec"]["parallelism"] = "2"
    testrun["spec"]["scriptt"] = {}
    del testrun["spec"]["script"]["configMap"]["name"]
    problems = validate_testrun(testrun)
    assert any(p.startswith("spec.parallelism: '2' is not of type 'integer'") for p in problems)
    assert any("'scriptt' was unexpected" in p for p in problems)
    assert any(p.startswith("spec.script.configMap: 'name' is a required property") for p in problems)


def test_load_k8s_writes_yaml_for_kubectl_without_secrets(staging_project: Path) -> None:
    result = load_cli(staging_project, "load.k8s", "--scenario", "checkout", "--parallelism", "4", "--vus", "8")
    assert result.code == 0, result.output
    configmap, testrun = yaml.safe_load_all(result.stdout)
    assert (configmap["kind"], testrun["kind"]) == ("ConfigMap", "TestRun")
    assert validate_testrun(testrun) == []
    assert testrun["spec"]["arguments"].startswith("--vus 8 --duration 10s")
    env = {item["name"]: item for item in testrun["spec"]["runner"]["env"]}
    assert env["BASE_URL"]["value"] == "https://staging.example.test"
    assert env["ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "ops-load-tokens"
    assert "admin-secret-value-123" not in result.output
    assert configmap["data"]["checkout.js"] == (LOAD_DIR / "checkout.js").read_text()
