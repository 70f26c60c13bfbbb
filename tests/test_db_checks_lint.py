"""db.lint: real squawk, real pglast, real git; no database needed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ops.config import load
from ops.errors import CheckFailed
from ops.migrations.lint import lint, lint_paths, render
from tests.conftest import REPO, run_cli

# rule -> (bad example, good example). Each bad example breaks exactly that rule.
RULE_EXAMPLES = {
    "rls-disabled-in-exposed-schema": (
        "create table public.notes (id bigint primary key);\n"
        'create policy "read" on public.notes for select to authenticated using (true);\n',
        "create table public.notes (id bigint primary key);\n"
        "alter table public.notes enable row level security;\n"
        'create policy "read" on public.notes for select to authenticated using (true);\n',
    ),
    "rls-enabled-no-policy": (
        "create table public.vault (id bigint primary key);\nalter table public.vault enable row level security;\n",
        "create table public.vault (id bigint primary key);\nalter table public.vault enable row level security;\n"
        'create policy "owner reads" on public.vault for select to authenticated using (false);\n',
    ),
    "view-bypasses-rls": (
        "create table public.posts (id bigint primary key);\nalter table public.posts enable row level security;\n"
        'create policy "read" on public.posts for select to authenticated using (true);\n'
        "create view public.post_ids as select id from public.posts;\n",
        "create table public.posts (id bigint primary key);\nalter table public.posts enable row level security;\n"
        'create policy "read" on public.posts for select to authenticated using (true);\n'
        "create view public.post_ids with (security_invoker = true) as select id from public.posts;\n",
    ),
    "security-definer-search-path": (
        "create function public.promote() returns void language sql security definer as 'select 1';\n",
        "create function public.promote() returns void language sql security definer set search_path = ''"
        " as 'select 1';\n",
    ),
    "anon-write-policy-true": (
        "create table public.feedback (id bigint primary key, body text);\n"
        "alter table public.feedback enable row level security;\n"
        'create policy "anyone writes" on public.feedback for insert to anon with check (true);\n',
        "create table public.feedback (id bigint primary key, body text);\n"
        "alter table public.feedback enable row level security;\n"
        'create policy "anyone reads" on public.feedback for select to anon using (true);\n',
    ),
}


def write(directory: Path, name: str, sql: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(sql)
    return path


@pytest.mark.parametrize("rule", sorted(RULE_EXAMPLES))
def test_each_rule_fires_on_the_bad_example(rule: str, tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.sql", RULE_EXAMPLES[rule][0])
    report = lint_paths([bad], root=tmp_path)
    ours = [f for f in report.findings if f.source == "ops"]
    assert [f.rule for f in ours] == [rule]
    assert ours[0].file == "bad.sql" and ours[0].fix


@pytest.mark.parametrize("rule", sorted(RULE_EXAMPLES))
def test_each_rule_is_silent_on_the_good_example(rule: str, tmp_path: Path) -> None:
    good = write(tmp_path, "good.sql", RULE_EXAMPLES[rule][1])
    report = lint_paths([good], root=tmp_path)
    assert [f for f in report.findings if f.source == "ops"] == []


def test_findings_name_file_line_rule_message_and_fix(tmp_path: Path) -> None:
    bad = write(tmp_path, "20250101000000_feedback.sql", RULE_EXAMPLES["anon-write-policy-true"][0])
    [finding] = lint_paths([bad], root=tmp_path).findings
    assert finding.render() == (
        '20250101000000_feedback.sql:3: error [anon-write-policy-true] policy "anyone writes" on public.feedback'
        " lets anon insert any row (true) (fix: restrict the policy to authenticated and check ownership,"
        " e.g. with check (user_id = (select auth.uid())))"
    )


def test_rules_see_the_whole_migration_history(tmp_path: Path) -> None:
    """RLS turned on in a later migration clears the earlier file; a table
    created earlier and still without RLS is not blamed on the linted file."""
    migrations = tmp_path / "supabase" / "migrations"
    first = write(migrations, "20250101000000_a.sql", "create table public.a (id bigint primary key);\n")
    write(
        migrations,
        "20250102000000_b.sql",
        "alter table public.a enable row level security;\n"
        'create policy "read a" on public.a for select to authenticated using (true);\n',
    )
    context = sorted(migrations.iterdir())
    assert lint_paths([first], context=context, root=tmp_path).findings == []


@pytest.mark.parametrize(
    "later, expected",
    [
        ("alter function public.promote() set search_path = '';\n", []),
        ("alter function public.promote set search_path from current;\n", []),
        ("drop function public.promote();\n", []),
        # Another overload is not the one fixed.
        ("alter function public.promote(int) set search_path = '';\n", [("a.sql", 1)]),
        ("alter function public.promote() reset search_path;\n", [("a.sql", 1)]),
        (
            "create function public.helper(a int, out b int) returns int language sql as 'select a';\n"
            "alter function public.helper(integer) security definer;\n",
            [("a.sql", 1), ("b.sql", 2)],
        ),
    ],
    ids=["fixed-later", "fixed-from-current", "dropped", "other-overload", "path-reset", "made-definer-later"],
)
def test_definer_search_path_follows_later_alter_function(
    later: str, expected: list[tuple[str, int]], tmp_path: Path
) -> None:
    """Supabase's advisor fix is a later ``alter function ... set search_path``:
    the rule judges the function as the migrations leave it."""
    a = write(tmp_path, "a.sql", RULE_EXAMPLES["security-definer-search-path"][0])
    b = write(tmp_path, "b.sql", later)
    findings = lint_paths([a, b], context=[a, b], root=tmp_path).findings
    assert [(f.file, f.line) for f in findings if f.rule == "security-definer-search-path"] == expected


def test_squawk_sees_files_the_way_the_runner_runs_them(tmp_path: Path) -> None:
    """CREATE INDEX CONCURRENTLY runs outside the file's transaction (the
    runner does that), so squawk's in-transaction ban must not fire; the
    transactional statements are still checked with their own line numbers."""
    sql = (
        "create table if not exists public.big (id bigint primary key, email text);\n"
        "\n"
        "create index concurrently if not exists big_email_idx on public.big (email);\n"
        "alter table public.big add column status text not null;\n"
    )
    path = write(tmp_path, "m.sql", sql)
    findings = [f for f in lint_paths([path], root=tmp_path).findings if f.source == "squawk"]
    assert "ban-concurrent-index-creation-in-transaction" not in {f.rule for f in findings}
    required = [f for f in findings if f.rule == "adding-required-field"]
    assert [(f.line, f.severity) for f in required] == [(4, "error")]
    # Plain squawk with --assume-in-transaction would have flagged the index:
    raw = subprocess.run(
        ["squawk", "--reporter", "json", "--assume-in-transaction", str(path)], capture_output=True, text=True
    )
    assert "ban-concurrent-index-creation-in-transaction" in {f["rule_name"] for f in json.loads(raw.stdout)}


def test_severity_is_configurable(tmp_path: Path) -> None:
    root = tmp_path / "project"
    write(
        root,
        "pyproject.toml",
        '[tool.ops.lint]\nfail_on_warnings = true\nseverity = {"rls-enabled-no-policy" = "off",'
        ' "security-definer-search-path" = "warning"}\n',
    )
    bad = write(
        root / "supabase" / "migrations",
        "20250101000000_x.sql",
        RULE_EXAMPLES["rls-enabled-no-policy"][0] + RULE_EXAMPLES["security-definer-search-path"][0],
    )
    report = lint(load(root), [str(bad)])
    assert [(f.rule, f.severity) for f in report.findings] == [("security-definer-search-path", "warning")]
    assert report.failed  # fail_on_warnings


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            "fail_on_warning = true",
            "error: [tool.ops.lint] unknown key 'fail_on_warning' (fix: did you mean 'fail_on_warnings'?",
        ),
        ('severity = { "rls-enabled-no-policy" = "loud" }', "error: [tool.ops.lint] severity.rls-enabled-no-policy: "),
        ('fail_on_warnings = "yes"', "error: [tool.ops.lint] fail_on_warnings: "),
        ('exposed_schemas = "public"', "error: [tool.ops.lint] exposed_schemas: "),
        ('pg_version = "fifteen"', "error: [tool.ops.lint] pg_version: "),
    ],
)
def test_bad_lint_settings_exit_2_naming_the_key(tmp_path: Path, table: str, message: str) -> None:
    root = tmp_path / "project"
    write(root, "pyproject.toml", f"[tool.ops.lint]\n{table}\n")
    write(root / "supabase" / "migrations", "20250101000000_x.sql", RULE_EXAMPLES["rls-disabled-in-exposed-schema"][1])
    result = run_cli("db.lint", "--all", cwd=root, env={"OPS_PROJECT_ROOT": str(root)})
    assert result.code == 2, result.output
    assert result.stderr.startswith(message) and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_render_exits_1_only_on_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ops.console import Output

    warning_only = write(tmp_path, "w.sql", RULE_EXAMPLES["rls-enabled-no-policy"][0])
    passing = lint_paths([warning_only], root=tmp_path)
    render(Output(), passing)
    assert passing.exit_code == 0 and passing.failure() is None  # warnings pass by default
    assert capsys.readouterr().out.splitlines()[-1] == "1 file(s) linted: 0 error(s), 1 warning(s)"
    failing = lint_paths([write(tmp_path, "e.sql", RULE_EXAMPLES["view-bypasses-rls"][0])], root=tmp_path)
    render(Output(), failing)
    assert failing.exit_code == 1 and isinstance(failing.failure(), CheckFailed)


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args], cwd=root, check=True, capture_output=True
    )


@pytest.fixture
def git_project(tmp_path: Path) -> Path:
    """A git project with one committed (clean) migration and one new (bad) one."""
    root = tmp_path / "project"
    write(root, "pyproject.toml", '[project]\nname = "lint-sample"\n\n[tool.ops]\n')
    migrations = root / "supabase" / "migrations"
    write(migrations, "20250101000000_ok.sql", RULE_EXAMPLES["rls-disabled-in-exposed-schema"][1])
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "init")
    write(migrations, "20250102000000_new.sql", RULE_EXAMPLES["security-definer-search-path"][0])
    return root


def test_cli_lints_files_changed_in_git_by_default(git_project: Path) -> None:
    result = run_cli("db.lint", cwd=git_project, env={"OPS_PROJECT_ROOT": str(git_project)})
    assert result.code == 1
    lines = result.stdout.splitlines()
    assert "supabase/migrations/20250101000000_ok.sql" not in result.stdout
    assert (
        "supabase/migrations/20250102000000_new.sql:1: error [security-definer-search-path] security definer"
        " function public.promote runs with the caller's search_path (fix: add: set search_path = ''"
        " (and schema-qualify the names in the body))"
    ) in lines
    assert lines[-1] == "1 file(s) linted: 1 error(s), 0 warning(s)"
    assert result.stderr.strip() == (
        "error: db.lint found 1 error(s) and 0 warning(s)"
        " (fix: fix the findings above, or set a rule's severity in [tool.ops.lint])"
    )


def test_cli_all_and_json(git_project: Path) -> None:
    result = run_cli("db.lint", "--all", "--json", cwd=git_project, env={"OPS_PROJECT_ROOT": str(git_project)})
    assert result.code == 1
    document = json.loads(result.stdout)
    assert document["files"] == [
        "supabase/migrations/20250101000000_ok.sql",
        "supabase/migrations/20250102000000_new.sql",
    ]
    assert [(f["file"], f["line"], f["rule"]) for f in document["findings"]] == [
        ("supabase/migrations/20250102000000_new.sql", 1, "security-definer-search-path")
    ]


def test_cli_takes_files_after_double_dash(git_project: Path) -> None:
    """The form pre-commit uses: ``ops db.lint -- FILE...``."""
    env = {"OPS_PROJECT_ROOT": str(git_project)}
    result = run_cli("db.lint", "--", "supabase/migrations/20250101000000_ok.sql", cwd=git_project, env=env)
    assert result.code == 0, result.output
    assert result.stdout.splitlines()[-1] == "1 file(s) linted: 0 error(s), 0 warning(s)"


def test_shipped_migrations_pass_the_lint() -> None:
    result = run_cli("db.lint", "--all")
    assert result.code == 0, result.output


def test_pre_commit_hook_blocks_a_bad_migration(git_project: Path) -> None:
    """The repo's own db-lint hook, run by pre-commit on a commit: only staged
    migration files are linted, and a finding blocks the commit."""
    import os
    import sys

    import yaml

    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    [hook] = [hook for repo in config["repos"] for hook in repo["hooks"] if hook["id"] == "db-lint"]
    assert {key: hook[key] for key in ("entry", "language", "files")} == {
        "entry": "inv db.lint --",
        "language": "system",
        "files": r"^supabase/migrations/.*\.sql$",
    }
    (git_project / ".pre-commit-config.yaml").write_text(
        yaml.safe_dump({"repos": [{"repo": "local", "hooks": [hook]}]})
    )
    (git_project / "tasks.py").write_text("from ops.tasks import ns  # noqa: F401\n")
    env = {**os.environ, "PRE_COMMIT_HOME": str(git_project.parent / "pre-commit-home")}
    env.pop("OPS_PROJECT_ROOT", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, cwd=git_project, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)

    assert run(sys.executable, "-m", "pre_commit", "install").returncode == 0
    run("git", "add", ".pre-commit-config.yaml", "tasks.py")
    clean = run("git", "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "tooling")
    assert clean.returncode == 0, clean.stdout + clean.stderr  # no migration staged: the hook is skipped

    run("git", "add", "supabase/migrations/20250102000000_new.sql")
    blocked = run("git", "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "new")
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode == 1, output
    assert "supabase/migrations/20250102000000_new.sql:1: error [security-definer-search-path]" in output
    assert "20250101000000_ok.sql" not in output
