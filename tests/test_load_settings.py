"""[tool.ops.load]: durations, thresholds, per-scenario overrides and caps (no engine runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ops.config import load
from ops.errors import ConfigError, UsageError
from ops.load import plan_run
from ops.load.settings import load_settings, parse_duration
from tests.conftest import REPO


def project(tmp_path: Path, load_table: str = "") -> Path:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "sample"\n\n[tool.ops]\n' + load_table)
    return tmp_path


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("2m", 120), ("1m30s", 90), ("500ms", 0.5), ("45", 45), ("1h", 3600)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "10 s", "0s", "-5s", "5x"])
def test_bad_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_duration(text)


def test_defaults_are_p95_under_500ms_and_errors_under_one_percent(tmp_path: Path) -> None:
    settings = load_settings(load(project(tmp_path)), "catalog")
    assert [t.name for t in settings.thresholds] == ["p95 < 500 ms", "error rate < 1%", "checks >= 99% passing"]
    assert (settings.vus, settings.duration_s, settings.max_vus, settings.max_duration_s) == (5, 10, 50, 300)


def test_scenario_overrides_merge_over_the_global_table(tmp_path: Path) -> None:
    cfg = load(
        project(
            tmp_path,
            "[tool.ops.load]\nvus = 3\n[tool.ops.load.thresholds]\np99_ms = 900\n"
            "[tool.ops.load.scenarios.checkout]\nvus = 7\nthresholds = { p95_ms = 800, error_rate = false }\n",
        )
    )
    checkout, catalog = load_settings(cfg, "checkout"), load_settings(cfg, "catalog")
    assert checkout.vus == 7 and catalog.vus == 3
    assert [t.name for t in checkout.thresholds] == ["p95 < 800 ms", "checks >= 99% passing", "p99 < 900 ms"]
    assert [t.name for t in catalog.thresholds] == [
        "p95 < 500 ms",
        "error rate < 1%",
        "checks >= 99% passing",
        "p99 < 900 ms",
    ]


def test_ratelimit_expects_429_and_needs_both_answers(tmp_path: Path) -> None:
    settings = load_settings(load(project(tmp_path)), "ratelimit")
    assert settings.expected_statuses == (429,)
    assert (settings.vus, settings.iterations) == (1, 1)
    assert [t.name for t in settings.thresholds][-2:] == ["status 200 seen", "status 429 seen"]


def test_configured_defaults_above_the_caps_are_lowered_but_flags_are_refused(tmp_path: Path) -> None:
    scripts = json.dumps(str(REPO / "infra" / "tests" / "load"))
    table = f'[tool.ops.load]\nscripts_dir = {scripts}\nvus = 80\nduration = "10m"\nmax_vus = 20\nmax_duration = "1m"\n'
    cfg = load(project(tmp_path, table))
    plan = plan_run(cfg, "catalog")
    assert (plan.vus, plan.duration_s) == (20, 60)
    with pytest.raises(UsageError, match="21 VUs exceeds the cap of 20"):
        plan_run(cfg, "catalog", vus=21)


def test_a_threshold_out_of_range_is_a_config_error(tmp_path: Path) -> None:
    cfg = load(project(tmp_path, "[tool.ops.load.thresholds]\nerror_rate = 5\n"))
    with pytest.raises(ConfigError, match=r"error_rate must be a rate between 0 and 1"):
        load_settings(cfg, "catalog")


def test_script_engine_follows_the_extension(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "mine.yml").write_text("config: {}\n")
    plan = plan_run(load(root), None, script=root / "mine.yml")
    assert (plan.engine, plan.scenario) == ("artillery", "mine")
    with pytest.raises(UsageError, match=r"mine\.yml is not a k6 script"):
        plan_run(load(root), None, engine="k6", script=root / "mine.yml")
