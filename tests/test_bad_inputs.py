"""Every failure is one line: every task of the namespace, run with bad inputs.

Bad option values, bad config types, an unknown environment, a DB URL whose port
is not a number, a state dir that cannot be written, a 300-character migration
name and a backup manifest whose ``snapshot_at`` has no time zone. Whatever the
task, the run ends with a documented exit code (never 70, the code of a bug),
no traceback, and, when it fails, an ``error: ...`` line last on stderr.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CliResult, run_cli

from ops.tasks import build_namespace

# 0 ok, 1 checks found problems, 2 usage/config/guard/not a project, 3 external failure.
DOCUMENTED = {0, 1, 2, 3}
JUNK = ("qa", "-1", "x" * 300, "ten")
# These do real work (start a stack, run the CI steps, scaffold a repo) when their options
# are fine: only their bad values are swept.
BUSY_BY_DEFAULT = {"dev.up", "ci", "init"}
BAD_URLS = {
    "SUPABASE_STAGING_DB_URL": "postgresql://app:hunter22@127.0.0.1:abc/stage",
    "SUPABASE_DB_URL": "postgresql://app:hunter22@127.0.0.1:notaport/prod",
    "STAGING_BASE_URL": "https://127.0.0.1:notaport",
    "PRODUCTION_BASE_URL": "https://127.0.0.1:99999",
    "CI": "",
}
NAMESPACE = build_namespace()
TASKS = sorted(NAMESPACE.task_names)


def make_project(root: Path, tool_ops: str = "") -> Path:
    (root / "supabase" / "migrations").mkdir(parents=True)
    (root / "supabase" / "migrations" / "20240101000000_a.sql").write_text("create table a (id int);\n")
    (root / "pyproject.toml").write_text(f"[project]\nname = 'team'\n\n[tool.ops]\n{tool_ops}")
    return root


def run(root: Path, *args: str) -> CliResult:
    return run_cli(*args, cwd=root, env={"OPS_PROJECT_ROOT": str(root), **BAD_URLS})


def assert_one_line_failure(result: CliResult, what: str) -> None:
    assert result.code in DOCUMENTED, f"{what}: exit {result.code}\n{result.output}"
    assert "Traceback" not in result.output, f"{what}\n{result.output}"
    assert "hunter22" not in result.output, f"{what}: a password was printed"
    if result.code == 2 or (result.code == 3 and result.stderr):
        assert result.stderr.strip().splitlines()[-1].startswith("error: "), f"{what}\n{result.output}"


def bad_option_runs(name: str) -> list[list[str]]:
    runs = [] if name in BUSY_BY_DEFAULT else [[]]
    for argument in NAMESPACE[name].get_arguments():
        if argument.kind is bool:
            continue
        flag = "--" + argument.name.rstrip("_").replace("_", "-")
        runs += [[value] if argument.positional else [flag, value] for value in JUNK]
    return runs


@pytest.mark.parametrize("name", TASKS)
def test_every_task_with_bad_option_values(tmp_path: Path, name: str) -> None:
    root = make_project(tmp_path / "project")
    for args in bad_option_runs(name):
        if name == "db.new" and args in (["qa"], ["ten"]):
            continue  # valid names: db.new writes them
        assert_one_line_failure(run(root, name, *args), f"{name} {' '.join(a[:20] for a in args)}")


def test_specific_bad_inputs_name_what_is_wrong(tmp_path: Path) -> None:
    root = make_project(tmp_path / "project")
    long_name = run(root, "db.new", "x" * 300)
    assert (long_name.code, long_name.stderr) == (
        2,
        "error: migration name is 300 characters long (fix: use at most 200, e.g. add_orders)\n",
    )
    for args in (("db.migrate", "--env", "staging"), ("backup.export", "--env", "staging")):
        result = run(root, *args)
        assert result.code == 2
        assert result.stderr == (
            "error: staging's database URL (SUPABASE_STAGING_DB_URL) has a port that is not a number"
            " (fix: fix the port)\n"
        )
    result = run(root, "health", "--env", "staging", "--json")
    assert result.code == 2 and json.loads(result.stdout)["error"]["message"] == (
        "staging's base URL (STAGING_BASE_URL) has a port that is not a number"
    )
    result = run(root, "db.migrate", "--env", "qa", "--json")
    assert result.code == 2 and json.loads(result.stdout)["error"]["message"] == "unknown environment 'qa'"


@pytest.mark.parametrize(
    "tool_ops",
    [
        "state_dir = 5\n",
        "environments = []\n",
        "[tool.ops.dev]\ndb_port = 'x'\n",
        "[tool.ops.backup]\nroot = 7\n",
        "[tool.ops.load]\nmax_vus = -3\n",
        "[tool.ops.health]\ntimeout = 'soon'\n",
        "[tool.ops.migrations]\nlock_retries = -1\n",
        "[tool.ops.lint]\nrules = 'all'\n",
        "[tool.ops.ci]\nsteps = 3\n",
        "[tool.ops.release]\ntag_pattern = ''\n",
        "[tool.ops.pg]\nbindir = 15\n",
    ],
)
def test_every_task_with_bad_config(tmp_path: Path, tool_ops: str) -> None:
    root = make_project(tmp_path / "project", tool_ops)
    for name in TASKS:
        if name in BUSY_BY_DEFAULT - {"init"}:
            continue
        assert_one_line_failure(run(root, name), f"{name} with {tool_ops!r}")


def test_every_task_with_a_state_dir_that_cannot_be_written(tmp_path: Path) -> None:
    root = make_project(tmp_path / "project", 'state_dir = "state"\n')
    (root / "state").write_text("a file where the state dir should be\n")
    for name in TASKS:
        if name not in BUSY_BY_DEFAULT:
            assert_one_line_failure(run(root, name), f"{name} with an unwritable state dir")


def test_backup_tasks_with_a_manifest_whose_snapshot_has_no_time_zone(tmp_path: Path) -> None:
    root = make_project(tmp_path / "project", '[tool.ops.backup]\nroot = "backups"\n')
    backup = root / "backups" / "production" / "20250101T020000Z"
    (backup / "dump").mkdir(parents=True)
    manifest = {"id": backup.name, "snapshot_at": "2025-01-01T02:00:00", "size_bytes": 1, "files": {}}
    (backup / "manifest.json").write_text(json.dumps(manifest))
    for args in (
        ("backup.list",),
        ("backup.list", "--json"),
        ("backup.prune",),
        ("backup.verify",),
        ("backup.drill", "--to", "local"),
    ):
        result = run(root, *args)
        assert_one_line_failure(result, " ".join(args))
    listing = json.loads(run(root, "backup.list", "--json").stdout)
    assert listing["backups"] == [] and listing["damaged"] == [str(backup)]
