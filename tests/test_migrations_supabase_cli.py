"""The real Supabase CLI (npm supabase@2.117.0) against the toolkit, both ways.

Each migration set is applied twice to fresh Supabase-shaped databases: once
by ``db.migrate`` and once by ``supabase db push``. The history rows must be
byte-identical, each tool must read the other's database as fully migrated,
and the seed bookkeeping must agree, changed seeds included. Skipped, with
the reason, where the CLI is not installed (``npm ci`` installs it).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ops.migrations import migrate, seed
from ops.migrations.status import target_status
from tests.conftest import REPO

CLI_VERSION = "2.117.0"
CLI = REPO / "node_modules" / ".bin" / "supabase"


def _cli_missing() -> str | None:
    if not CLI.exists():
        return f"the Supabase CLI is not installed ({CLI} missing: npm ci installs supabase@{CLI_VERSION})"
    if shutil.which("node") is None:  # the npm package's binary is a Node launcher of the Go binary
        return "Node.js is not installed, so the npm Supabase CLI cannot run"
    try:
        found = subprocess.run([str(CLI), "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the Supabase CLI does not run here: {exc}"
    if found != CLI_VERSION:
        return f"the Supabase CLI is {found or 'unknown'}, these facts were measured with {CLI_VERSION}"
    return None


pytestmark = pytest.mark.skipif(bool(_cli_missing()), reason=_cli_missing() or "")

# A realistic team history: RLS with auth.uid(), foreign keys to auth.users,
# plpgsql and BEGIN ATOMIC bodies, a trigger, comments holding ';', a file
# with a byte-order mark, and one ending in a comment with ';' and no newline.
TEAM_SET: dict[str, str | bytes] = {
    "20240101000000_profiles.sql": """-- Profiles: one per auth user.
create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  username text unique check (char_length(username) >= 3),
  created_at timestamptz not null default now()
);
alter table public.profiles enable row level security;
/* policies; the API reads through these */
create policy "profiles are readable" on public.profiles for select to authenticated using (true);
create policy "own profile" on public.profiles for update to authenticated
  using ((select auth.uid()) = id) with check ((select auth.uid()) = id);
""",
    "20240102000000_new_user.sql": """create function public.handle_new_user() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  insert into public.profiles (id, username) values (new.id, new.raw_user_meta_data ->> 'username');
  return new;
end;
$$;
create trigger on_auth_user_created after insert on auth.users
  for each row execute procedure public.handle_new_user();
create function public.profile_count() returns bigint language sql stable
begin atomic
  select count(*) from public.profiles;
end;
-- done; the trigger fills profiles""",
    "20240103000000_posts.sql": "\ufeffcreate type public.post_state as enum ('draft', 'published');\n"
    "create table public.posts (\n  id bigint generated always as identity primary key,\n"
    "  author uuid not null references auth.users (id),\n  state public.post_state not null default 'draft',\n"
    "  body text default 'a; b'\n);\nalter table public.posts enable row level security;\n"
    'create policy "own posts" on public.posts for all to authenticated using ((select auth.uid()) = author);\n'
    "create index posts_author on public.posts (author);\n",
    "20240104000000_settings.sql": """begin;
create table public.settings (key text primary key, value jsonb not null default '{}');
do $body$ begin
  insert into public.settings (key) values ('theme;dark');
end $body$;
comment on table public.settings is 'app settings; one row per key';
commit;
""",
}
SEED = "insert into public.settings (key, value) values ('seeded', '1');\n"


class Project:
    def __init__(self, root: Path, files: dict[str, str | bytes]) -> None:
        self.root = root
        migrations = root / "supabase" / "migrations"
        migrations.mkdir(parents=True)
        (root / "pyproject.toml").write_text("[tool.ops]\n")
        (root / "supabase" / "config.toml").write_text('[db.seed]\nenabled = true\nsql_paths = ["./seed.sql"]\n')
        (root / "supabase" / "seed.sql").write_text(SEED)
        for name, body in files.items():
            (migrations / name).write_bytes(body.encode() if isinstance(body, str) else body)

    def config(self) -> Any:
        from ops.config import load

        return load(self.root)

    def supabase(self, *args: str, url: str) -> subprocess.CompletedProcess[str]:
        # The CLI talks TLS unless told not to; a local server has none.
        env = {**os.environ, "SUPABASE_TELEMETRY_DISABLED": "1", "DO_NOT_TRACK": "1"}
        result = subprocess.run(
            [str(CLI), *args, "--db-url", f"{url}?sslmode=disable", "--workdir", str(self.root)],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=180,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        return result


def history(database: Any) -> list[tuple[Any, ...]]:
    with database.connect() as conn:
        return conn.execute(
            "select version, name, statements from supabase_migrations.schema_migrations order by version"
        ).fetchall()


def seed_rows(database: Any) -> list[tuple[Any, ...]]:
    with database.connect() as conn:
        return conn.execute("select path, hash from supabase_migrations.seed_files order by path").fetchall()


@pytest.fixture
def two_databases(pg_cluster: Any, template_db: str) -> Any:
    """Two fresh Supabase-shaped databases: one for the toolkit, one for the CLI."""
    import uuid

    from tests.conftest import TestDatabase

    names = [f"t_cli_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    for name in names:
        pg_cluster.create_database(name, template=template_db)
    try:
        yield TestDatabase(pg_cluster, names[0]), TestDatabase(pg_cluster, names[1])
    finally:
        for name in names:
            pg_cluster.drop_database(name)


def listed(project: Project, url: str) -> list[tuple[str, str]]:
    result = project.supabase("migration", "list", "--output-format", "json", url=url)
    assert result.returncode == 0, result.stderr
    return [(row["local"], row["remote"]) for row in json.loads(result.stdout)["migrations"]]


def test_the_same_files_give_byte_identical_history_from_either_tool_and_each_reads_the_other(
    tmp_path: Path, two_databases: Any
) -> None:
    ours, theirs = two_databases
    project = Project(tmp_path / "team", TEAM_SET)
    cfg = project.config()
    versions = sorted(name.split("_")[0] for name in TEAM_SET)

    # toolkit -> CLI: the CLI sees every version applied and nothing to push.
    migrate(cfg, ours.url)
    assert listed(project, ours.url) == [(v, v) for v in versions]
    dry = project.supabase("db", "push", "--dry-run", url=ours.url)
    assert dry.returncode == 0 and "Remote database is up to date." in dry.stdout + dry.stderr, dry.stderr

    # CLI -> toolkit: db.status sees every version applied (no drift), db.migrate has nothing to do.
    pushed = project.supabase("db", "push", "--yes", url=theirs.url)
    assert pushed.returncode == 0, pushed.stderr
    status = target_status(cfg, theirs.url, "staging")
    assert [(v.version, v.state) for v in status.versions] == [(v, "applied") for v in versions]
    assert migrate(cfg, theirs.url, dry_run=True).pending == []

    # The history rows are the same bytes: statements cut, trimmed and kept as the CLI does
    # (the trailing "-- done; ..." comment without its ';', the byte-order mark dropped).
    assert history(ours) == history(theirs)
    statements = {row[0]: row[2] for row in history(ours)}
    assert statements["20240102000000"][-1] == "-- done; the trigger fills profiles"
    assert statements["20240103000000"][0].startswith("create type public.post_state")


def test_seed_files_are_recorded_alike_and_a_changed_seed_is_recorded_without_running_again(
    tmp_path: Path, two_databases: Any
) -> None:
    ours, theirs = two_databases
    project = Project(tmp_path / "team", TEAM_SET)
    cfg = project.config()
    migrate(cfg, ours.url)
    seed(cfg, ours.url)
    pushed = project.supabase("db", "push", "--include-seed", "--yes", url=theirs.url)
    assert pushed.returncode == 0, pushed.stderr
    digest = hashlib.sha256(SEED.encode()).hexdigest()
    assert seed_rows(ours) == seed_rows(theirs) == [("supabase/seed.sql", digest)]
    # Each tool finds the other's seed already applied.
    assert [f.status for f in seed(cfg, theirs.url).files] == ["unchanged"]

    changed = SEED + "insert into public.settings (key) values ('later');\n"
    (project.root / "supabase" / "seed.sql").write_text(changed)
    assert [f.status for f in seed(cfg, ours.url).files] == ["recorded"]
    again = project.supabase("db", "push", "--include-seed", "--yes", url=theirs.url)
    assert again.returncode == 0, again.stderr
    assert seed_rows(ours) == seed_rows(theirs) == [("supabase/seed.sql", hashlib.sha256(changed.encode()).hexdigest())]
    for database in (ours, theirs):  # neither ran the changed file again
        with database.connect() as conn:
            assert conn.execute("select count(*) from public.settings where key = 'later'").fetchone() == (0,)


def test_an_e_string_file_applies_as_postgres_reads_it_and_is_stored_as_the_cli_stores_it(
    tmp_path: Path, two_databases: Any
) -> None:
    """The CLI's splitter ignores backslash escapes, so it cannot push this file;
    its `migration repair --status applied` stores what its splitter makes of it."""
    ours, theirs = two_databases
    files: dict[str, str | bytes] = {
        "20240101000000_quotes.sql": "create table public.notes (body text);\n"
        "insert into public.notes values (E'it\\'s; fine'), ('plain; text');\n"
        "select 1;\n"
    }
    project = Project(tmp_path / "team", files)
    cfg = project.config()
    migrate(cfg, ours.url)
    with ours.connect() as conn:
        assert conn.execute("select body from public.notes order by 1").fetchall() == [
            ("it's; fine",),
            ("plain; text",),
        ]
    pushed = project.supabase("db", "push", "--yes", url=theirs.url)
    assert pushed.returncode != 0  # the CLI mis-splits the E-string (supabase/cli splits at its own ';')
    repaired = project.supabase("migration", "repair", "20240101000000", "--status", "applied", url=theirs.url)
    assert repaired.returncode == 0, repaired.stderr
    assert history(ours) == history(theirs)
    assert [v.state for v in target_status(cfg, theirs.url, "staging").versions] == ["applied"]


def test_a_mixed_history_written_by_both_tools_stays_consistent(tmp_path: Path, two_databases: Any) -> None:
    """The CLI pushes the first files, the toolkit applies the rest, the CLI lists them all."""
    database, _ = two_databases
    names = sorted(TEAM_SET)
    project = Project(tmp_path / "team", {name: TEAM_SET[name] for name in names[:2]})
    pushed = project.supabase("db", "push", "--yes", url=database.url)
    assert pushed.returncode == 0, pushed.stderr
    for name in names[2:]:
        body = TEAM_SET[name]
        (project.root / "supabase" / "migrations" / name).write_bytes(body.encode() if isinstance(body, str) else body)
    report = migrate(project.config(), database.url)
    assert [item.version for item in report.applied] == [name.split("_")[0] for name in names[2:]]
    versions = [name.split("_")[0] for name in names]
    assert listed(project, database.url) == [(v, v) for v in versions]
    dry = project.supabase("db", "push", "--dry-run", url=database.url)
    assert "Remote database is up to date." in dry.stdout + dry.stderr


def test_the_cli_is_skipped_with_its_reason_when_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(f"{__name__}.CLI", tmp_path / "supabase")
    reason = _cli_missing()
    assert reason is not None and "is not installed" in reason and CLI_VERSION in reason
