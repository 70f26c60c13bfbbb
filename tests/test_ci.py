"""``inv ci``: the step list, the real pipeline runner, and the unit/integration split."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, run_cli

from ops.ci import select_steps, step_names
from ops.config import load

ALL_STEPS = ["ruff", "typecheck", "env-example", "db-lint", "unit", "integration"]
FAST_STEPS = ["ruff", "typecheck", "env-example", "db-lint"]


def test_this_repos_pipeline_is_its_configured_order() -> None:
    assert step_names(load(REPO)) == ALL_STEPS
    assert [step.workflow_run for step in select_steps(load(REPO))] == [
        "inv ci --step ruff",
        "inv ci --step typecheck",
        "inv env.example --check",
        "inv db.lint",
        "inv ci --step unit",
        "inv ci --step integration",
    ]


def test_fast_is_the_static_subset() -> None:
    assert [step.name for step in select_steps(load(REPO), fast=True)] == FAST_STEPS
    assert [step.name for step in select_steps(load(REPO), only="unit")] == ["unit"]


def team_project(root: Path, ci: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "ops.toml").write_text(ci)
    return root


def test_a_team_repo_gets_the_toolkit_checks_then_its_own_commands(tmp_path: Path) -> None:
    root = team_project(
        tmp_path,
        '[ci.commands.lint]\nrun = "npm run lint"\nfast = true\n\n[ci.commands.test]\nrun = ["npm test"]\n',
    )
    steps = select_steps(load(root))
    assert [(step.name, step.workflow_run) for step in steps] == [
        ("env-check", "inv env.check"),
        ("env-example", "inv env.example --check"),
        ("db-lint", "inv db.lint"),
        ("db-test", "inv db.test"),
        ("lint", "inv ci --step lint"),
        ("test", "inv ci --step test"),
    ]
    assert steps[-1].commands == (("npm", "test"),)
    assert [step.name for step in select_steps(load(root), fast=True)] == [
        "env-check",
        "env-example",
        "db-lint",
        "lint",
    ]
    # With no [ci] table at all, the toolkit checks alone.
    assert step_names(load(team_project(tmp_path / "bare"))) == ["env-check", "env-example", "db-lint", "db-test"]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            'steps = ["env-check", "lnt"]\n[ci.commands.lint]\nrun = "npm run lint"\n',
            "error: [tool.ops.ci] steps: unknown step 'lnt'"
            " (fix: did you mean 'lint'? (commands: [tool.ops.ci.commands]))",
        ),
        (
            '[ci.commands.lint]\nrun = "npm run lint"\nfsat = true\n',
            "error: [tool.ops.ci] unknown key 'commands.lint.fsat' (fix: did you mean 'fast'? (in ops.toml))",
        ),
        (
            "[ci.commands.lint]\nrun = []\n",
            "error: [tool.ops.ci] commands.lint.run: List should have at least 1 item after validation, not 0"
            " (fix: fix commands.lint.run in [tool.ops.ci] of ops.toml)",
        ),
        (
            '[ci.commands.db-lint]\nrun = "true"\n',
            "error: [tool.ops.ci] commands.db-lint: the name is a toolkit step (fix: rename the command"
            " (toolkit steps: env-check, env-example, db-lint, db-test, db-types))",
        ),
    ],
    ids=["unknown-step", "typo", "empty", "clash"],
)
def test_a_bad_ci_table_is_a_one_line_config_error(tmp_path: Path, table: str, message: str) -> None:
    root = team_project(tmp_path, table if table.startswith("[") else "[ci]\n" + table)
    result = run_cli("ci", "--fast", cwd=root, env={"OPS_PROJECT_ROOT": str(root)})
    assert (result.code, result.stderr.strip(), result.stdout) == (2, message, "")


def test_a_command_that_does_not_exist_fails_its_step(tmp_path: Path) -> None:
    root = team_project(tmp_path, '[ci]\nsteps = ["lint"]\n\n[ci.commands.lint]\nrun = "no-such-linter --all"\n')
    result = run_cli("ci", "--json", cwd=root, env={"OPS_PROJECT_ROOT": str(root)})
    assert result.code == 1
    assert json.loads(result.stdout)["steps"] == [
        {
            "name": "lint",
            "title": "no-such-linter --all",
            "status": "failed",
            "exit_code": 127,
            "duration_s": json.loads(result.stdout)["steps"][0]["duration_s"],
            "commands": ["no-such-linter --all"],
        }
    ]
    assert "no-such-linter: command not found" in result.stderr


def test_unknown_step_is_a_usage_error() -> None:
    result = run_cli("ci", "--step", "deploy")
    assert result.code == 2
    assert result.stderr.strip() == (
        "error: unknown ci step 'deploy' (fix: steps: ruff, typecheck, env-example, db-lint, unit, integration)"
    )


@pytest.fixture
def lint_broken_project(tmp_path: Path) -> Path:
    """A project whose only problem is a ruff finding (an unused import)."""
    # This repo's own [tool.ops.ci] table, so that the steps are the same.
    ci_table = (REPO / "pyproject.toml").read_text().split("[tool.ops.ci]", 1)[1]
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "broken"\n\n[tool.ruff]\nline-length = 120\n\n[tool.ops.ci]' + ci_table
    )
    (tmp_path / "module.py").write_text("import os\n")
    return tmp_path


def test_a_failing_step_stops_the_pipeline(lint_broken_project: Path) -> None:
    result = run_cli(
        "ci", "--fast", "--json", cwd=lint_broken_project, env={"OPS_PROJECT_ROOT": str(lint_broken_project)}
    )
    assert result.code == 1
    document = json.loads(result.stdout)  # ruff's own output went to stderr, not into the JSON
    assert document["ok"] is False
    assert [(step["name"], step["status"]) for step in document["steps"]] == [
        ("ruff", "failed"),
        ("typecheck", "not-run"),
        ("env-example", "not-run"),
        ("db-lint", "not-run"),
    ]
    assert "F401" in result.stderr
    assert "==> ruff: ruff lint and format check" in result.stderr
    assert "ci: 0/4 steps passed" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "error: ci step 'ruff' failed (exit 1) (fix: fix it and rerun that step: inv ci --step ruff)"
    )


def test_one_step_runs_alone(lint_broken_project: Path) -> None:
    (lint_broken_project / "module.py").write_text("import os\n\nprint(os.sep)\n")
    result = run_cli(
        "ci", "--step", "ruff", cwd=lint_broken_project, env={"OPS_PROJECT_ROOT": str(lint_broken_project)}
    )
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "==> ruff: ruff lint and format check"
    assert "$ python -m ruff check ." in lines
    assert "$ python -m ruff format --check ." in lines
    assert lines[-1] == "ci: 1/1 steps passed"


def collected(*args: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {line.split("::", 1)[1] for line in proc.stdout.splitlines() if "::" in line}


def test_tests_using_real_services_are_integration_the_rest_unit() -> None:
    files = ("tests/test_health.py", "tests/test_release.py", "tests/test_migrations_cli.py")
    integration = collected("-m", "integration", *files)
    # local_stack / private_stack / database fixtures make a test integration...
    assert "test_local_stack_through_caddy_is_healthy" in integration
    assert "test_app_with_its_database_down_is_unhealthy" in integration
    assert "test_drift_in_the_target_database_is_refused" in integration
    assert "test_eight_runners_at_once_apply_every_file_exactly_once" in integration
    assert "test_reset_recreates_the_local_database_end_to_end" in integration
    # ...and the ones that need no service stay unit (`-m "not integration"`).
    assert "test_unreachable_port_exits_3" not in integration
    assert "test_annotated_v_tag_is_accepted" not in integration
    assert "test_db_new_creates_a_timestamped_file" not in integration
    assert collected("-m", "not integration", *files).isdisjoint(integration)


# Integration by its cost rather than a service: it runs mypy and the toolkit's
# own static checks on the whole repo, as a developer's `inv ci --fast` does.
@pytest.mark.integration
def test_ci_fast_passes_on_this_repo() -> None:
    result = run_cli("ci", "--fast", timeout=600)
    assert result.code == 0, result.output[-3000:]
    assert result.stdout.splitlines()[-1] == "ci: 4/4 steps passed"
