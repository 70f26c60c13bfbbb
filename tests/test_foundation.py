"""The skeleton every workflow stands on: config, errors, masking, guards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ops import config, console, guards, targets
from ops.errors import ConfigError, GuardRefused, OpsError, UsageError


def write_project(root: Path, body: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(body)
    return root


def test_defaults_follow_seed_002(tmp_path: Path) -> None:
    cfg = config.load(write_project(tmp_path, "[project]\nname='x'\n"))
    assert cfg.env("staging").db_url_env == "SUPABASE_STAGING_DB_URL"
    assert cfg.env("production").db_url_env == "SUPABASE_DB_URL"
    assert cfg.env("local").env_files == (".env", ".env.local")
    assert cfg.public_prefixes == ("NEXT_PUBLIC_", "VITE_", "PUBLIC_")
    assert cfg.state_dir == tmp_path / ".ops"


def test_root_is_found_from_a_subdirectory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_project(tmp_path, "[tool.ops]\nstate_dir = 'state'\n")
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.delenv("OPS_PROJECT_ROOT", raising=False)
    assert config.find_root(sub) == tmp_path.resolve()


def test_unknown_environment_and_bad_toml_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config.load(write_project(tmp_path / "a", "[tool.ops.environments.qa]\nenv_files=[]\n"))
    assert "unknown environment 'qa'" in info.value.one_line()
    with pytest.raises(ConfigError) as info:
        config.load(write_project(tmp_path / "b", "[tool.ops\n"))
    assert info.value.exit_code == 2 and "\n" not in info.value.one_line()
    cfg = config.load(write_project(tmp_path / "c", ""))
    with pytest.raises(UsageError, match="unknown environment 'prod'"):
        cfg.env("prod")


def test_section_merges_over_domain_defaults(tmp_path: Path) -> None:
    cfg = config.load(write_project(tmp_path, "[tool.ops.backup]\nroot='x'\n[tool.ops.backup.retention]\ndaily=3\n"))
    merged = cfg.section("backup", {"root": ".ops/backups", "retention": {"daily": 7, "weekly": 4}})
    assert merged == {"root": "x", "retention": {"daily": 3, "weekly": 4}}


def test_masking_of_urls_registered_secrets_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert console.mask("postgresql://app:s3cr3t@db:5432/x") == "postgresql://app:***@db:5432/x"
    assert console.mask("host=db password=hunter22 user=x") == "host=db password=*** user=x"
    console.register_secret("sk_test_abcdefghijklmnop")
    out = console.Output(json_mode=True)
    out.line("key is sk_test_abcdefghijklmnop")
    out.result({"url": "postgres://u:pw12@h/d", "nested": ["sk_test_abcdefghijklmnop"]})
    captured = capsys.readouterr()
    assert "sk_test_abcdefghijklmnop" not in captured.out + captured.err
    assert json.loads(captured.out) == {"url": "postgres://u:***@h/d", "nested": ["***"]}
    assert "key is ***" in captured.err


def test_guards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config.load(write_project(tmp_path, ""))
    monkeypatch.setenv("PRODUCTION_BASE_URL", "https://shop.example.com/")
    monkeypatch.setenv("SUPABASE_DB_URL", "postgresql://postgres:pw@db.example.com:5432/postgres")
    with pytest.raises(GuardRefused):
        guards.refuse_production(cfg, "production", "load.run")
    with pytest.raises(GuardRefused, match="production's base URL"):
        guards.refuse_production(cfg, "staging", "load.run", base_url="HTTPS://shop.example.com:443")
    with pytest.raises(GuardRefused, match="reaches production's database"):
        guards.refuse_production(cfg, "staging", "drill", db_url="postgres://x:y@DB.example.com/postgres")
    guards.refuse_production(cfg, "staging", "load.run", base_url="https://staging.example.com")
    with pytest.raises(GuardRefused, match="6543"):
        guards.refuse_transaction_pooler("postgresql://u:p@pooler.supabase.com:6543/postgres")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(GuardRefused) as info:
        guards.require_production_confirmation("production", False, "db.migrate")
    assert "--yes" in info.value.one_line()
    guards.require_production_confirmation("production", True, "db.migrate")
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("GITHUB_REF", "refs/tags/v1.2.0")
    # CI variables alone never replace --yes: the tag is checked with git (tests/test_guards.py).
    with pytest.raises(GuardRefused):
        guards.require_production_confirmation("production", False, "db.migrate", cfg=cfg)


def test_missing_target_url_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config.load(write_project(tmp_path, ""))
    monkeypatch.delenv("SUPABASE_STAGING_DB_URL", raising=False)
    with pytest.raises(ConfigError) as info:
        targets.db_url(cfg, "staging")
    assert info.value.one_line() == "error: no database URL for 'staging' (fix: set SUPABASE_STAGING_DB_URL)"


def test_ops_error_is_one_line() -> None:
    err = OpsError("bad\nthing  here", "do\nthis")
    assert err.one_line() == "error: bad thing here (fix: do this)"
