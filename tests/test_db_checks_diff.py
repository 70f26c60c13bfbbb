"""db.diff against real databases: a template built from real migrations by
the real runner on the test cluster, inspected in place and diffed with
results, self-checked on a shadow cloned from it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from ops.config import Config, load
from ops.errors import CheckFailed, ExternalError
from ops.migrations.diff import (
    SHADOW_PREFIX,
    TEMPLATE_PREFIX,
    DiffReport,
    Shadows,
    TargetSnapshot,
    diff,
    generate,
    inspect,
    inspect_template,
    inspection_cache_path,
    load_template_inspection,
    render,
    shadow_databases,
    template_name,
    verify,
)
from ops.migrations.diff.catalog import inventory
from ops.migrations.diff.selfcheck import verify_on_template
from ops.pg.cluster import Cluster

BASE_MIGRATION = """\
create type public.mood as enum ('happy', 'sad');
create table public.items (
  id bigint generated always as identity primary key,
  name text not null,
  legacy_code text,
  mood public.mood
);
create index items_legacy_code_idx on public.items (legacy_code);
alter table public.items enable row level security;
create policy "items are readable" on public.items for select to anon using (true);
create table public.retired (id bigint primary key);
create function public.item_count() returns bigint language sql stable as 'select count(*) from public.items';
create function public.old_helper() returns int language sql immutable as 'select 1';
create type public.shade as enum ('light', 'dark');
revoke all on public.items from authenticated;
grant select on public.items to anon;
"""

# What the target database has on top of the migrations: one change per kind.
TARGET_CHANGES = """\
create table public.orders (id bigint primary key, item_id bigint references public.items (id));
drop table public.retired;
alter table public.items add column price_cents int not null default 0;
alter table public.items drop column legacy_code;
create index items_name_idx on public.items (name);
alter table public.items add column token text not null default encode(extensions.gen_random_bytes(8), 'hex');
create policy "items are insertable by signed-in users" on public.items for insert to authenticated
  with check (true);
drop policy "items are readable" on public.items;
create function public.double_it(x int) returns int language sql immutable as 'select x * 2';
drop function public.old_helper();
create type public.size as enum ('s', 'm', 'l');
drop type public.shade;
revoke all on public.items from anon;
grant select, update on public.items to authenticated;
"""


def make_project(root: Path, migrations: dict[str, str]) -> Config:
    (root / "supabase" / "migrations").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "diff-sample"\n\n[tool.ops]\n')
    for filename, sql in migrations.items():
        (root / "supabase" / "migrations" / filename).write_text(sql)
    return load(root)


def make_target(cluster: Cluster, template: str, *sql: str) -> str:
    name = f"t_diff_{uuid.uuid4().hex[:10]}"
    cluster.create_database(name, template=template)
    with cluster.connection(name) as conn:
        for script in sql:
            conn.execute(script)  # type: ignore[arg-type]
    return name


def shadows(cluster: Cluster) -> list[str]:
    """The shadow databases on ``cluster`` (not the templates they are cloned from)."""
    with cluster.connection() as conn:
        rows = conn.execute(
            "select datname from pg_database where datname like %s and datname not like %s",
            (SHADOW_PREFIX + "%", TEMPLATE_PREFIX + "%"),
        )
        return sorted(row[0] for row in rows.fetchall())


def templates(cluster: Cluster) -> list[tuple[str, bool, int]]:
    """Migrated templates: (name, flagged as a template, sessions connected to it).

    A backend whose client has just closed its connection ends on its own a moment later:
    sessions get a few seconds to go, so only one still held open counts."""
    deadline = time.monotonic() + 10
    while True:
        with cluster.connection() as conn:
            rows = conn.execute(
                "select datname, datistemplate, (select count(*) from pg_stat_activity a where a.datname = d.datname)"
                " from pg_database d where datname like %s order by 1",
                (TEMPLATE_PREFIX + "%",),
            )
            found = [tuple(row) for row in rows.fetchall()]
        if all(sessions == 0 for _, _, sessions in found) or time.monotonic() > deadline:
            return found  # type: ignore[return-value]
        time.sleep(0.05)


@pytest.fixture(scope="module")
def changed(pg_cluster: Cluster, template_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A project with the base migration, a target with every kind of change,
    and the diff between them (computed once)."""
    cfg = make_project(tmp_path_factory.mktemp("diff") / "project", {"20250101000000_base.sql": BASE_MIGRATION})
    target = make_target(pg_cluster, template_db, BASE_MIGRATION, TARGET_CHANGES)
    report = diff(cfg, target=pg_cluster.url(target), cluster=pg_cluster)
    try:
        yield {"cfg": cfg, "target": target, "report": report}
    finally:
        pg_cluster.drop_database(target)


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("added table", 'create table "public"."orders"'),
        ("removed table", 'drop table "public"."retired"'),
        ("added column", 'alter table "public"."items" add column "price_cents" integer not null default 0'),
        # Unqualified: applying it needs the database's search_path, which a TEMPLATE clone does not copy.
        ("added column", "add column \"token\" text not null default encode(gen_random_bytes(8), 'hex'::text)"),
        ("removed column", 'alter table "public"."items" drop column "legacy_code"'),
        ("added index", "CREATE INDEX items_name_idx ON public.items USING btree (name)"),
        ("removed index", 'drop index if exists "public"."items_legacy_code_idx"'),
        ("added policy", 'create policy "items are insertable by signed-in users"'),
        ("removed policy", 'drop policy "items are readable" on "public"."items"'),
        ("added function", "CREATE OR REPLACE FUNCTION public.double_it(x integer)"),
        ("removed function", 'drop function if exists "public"."old_helper"()'),
        ("added enum", "create type \"public\".\"size\" as enum ('s', 'm', 'l')"),
        ("removed enum", 'drop type "public"."shade"'),
        ("added grant", 'grant update on table "public"."items" to "authenticated"'),
        ("removed grant", 'revoke select on table "public"."items" from "anon"'),
    ],
)
def test_diff_finds_each_kind_of_change(changed: dict, kind: str, expected: str) -> None:
    report: DiffReport = changed["report"]
    assert any(expected in statement for statement in report.statements), f"{kind}: {expected!r} not in diff"


def test_diff_warns_on_every_drop_and_self_checks_clean(changed: dict) -> None:
    report: DiffReport = changed["report"]
    assert report.self_checked
    assert report.missed == []
    drops = "\n".join(report.drops)
    for dropped in ('"public"."retired"', '"legacy_code"', '"items are readable"', '"old_helper"', '"shade"'):
        assert dropped in drops


def test_shadows_are_clones_of_a_kept_template_and_always_dropped(changed: dict, pg_cluster: Cluster) -> None:
    cfg: Config = changed["cfg"]
    assert shadows(pg_cluster) == []
    # The migrated state stays as a TEMPLATE database that nothing is connected to.
    assert templates(pg_cluster) == [(template_name(cfg), True, 0)]


LIVE_STEP = "inspecting the migrated template and the target"
CACHED_STEP = "inspecting the target (the migrated template's inspection is cached)"
ON_TEMPLATE = "self-check: applying the diff on the migrated template in a transaction rolled back, and diffing again"


def test_diffs_from_the_cached_inspection_equal_diffs_from_a_live_one(changed: dict, pg_cluster: Cluster) -> None:
    """The first run cached the template's inspection (results' inspector and
    our inventory) on disk; diffing from it, in either direction, gives
    exactly what a live inspection of the template gives."""
    cfg: Config = changed["cfg"]
    template = template_name(cfg)
    target_url = pg_cluster.url(changed["target"])
    assert inspection_cache_path(cfg, template).is_file()
    cached = load_template_inspection(cfg, pg_cluster, template)
    assert cached is not None
    live = inspect_template(pg_cluster, template)
    assert cached.inventory == live.inventory and len(live.inventory) > 20
    forward = generate(cached.inspector, TargetSnapshot.take(target_url).inspector)
    assert forward == generate(live.inspector, TargetSnapshot.take(target_url).inspector)
    assert forward == changed["report"].statements and len(forward) > 15
    backward = generate(TargetSnapshot.take(target_url).inspector, cached.inspector)
    assert backward == generate(TargetSnapshot.take(target_url).inspector, live.inspector) and len(backward) > 15


def test_a_warm_run_reads_the_cache_and_checks_on_the_template_without_a_clone(
    changed: dict, pg_cluster: Cluster
) -> None:
    cfg: Config = changed["cfg"]
    template = template_name(cfg)
    with pg_cluster.connection(template) as conn:
        before = inventory(conn)
    steps: list[str] = []
    report = diff(
        cfg,
        target=pg_cluster.url(changed["target"]),
        cluster=pg_cluster,
        step=lambda step: steps.append(f"{step} [{len(shadows(pg_cluster))}]"),
    )
    assert steps == [f"{CACHED_STEP} [0]", f"{ON_TEMPLATE} [0]"]  # no shadow is ever cloned
    assert report.statements == changed["report"].statements and report.missed == [] and report.self_checked
    assert shadows(pg_cluster) == []
    assert templates(pg_cluster) == [(template, True, 0)]
    # The SQL was applied to the template and rolled back: it holds the migrations' schema, as before.
    with pg_cluster.connection(template) as conn:
        assert inventory(conn) == before


def test_sql_that_cannot_run_in_a_transaction_is_checked_on_a_clone(
    pg_cluster: Cluster, template_db: str, tmp_path: Path
) -> None:
    migration = "create table public.notes (id bigint primary key, body text);\n"
    cfg = make_project(tmp_path / "project", {"20250101000000_notes.sql": migration})
    target = make_target(pg_cluster, template_db, migration, "create index notes_body on public.notes (body);")
    steps: list[str] = []
    try:
        diff(cfg, target=pg_cluster.url(target), cluster=pg_cluster)
        with shadow_databases(cfg, pg_cluster) as fresh:
            snapshot = TargetSnapshot.take(pg_cluster.url(target))
            concurrently = ["CREATE INDEX CONCURRENTLY notes_body ON public.notes USING btree (body);"]
            assert verify_on_template(pg_cluster, fresh.template, snapshot, concurrently) is None
            assert verify(fresh.new(), snapshot, concurrently) == []
        report = diff(cfg, target=pg_cluster.url(target), cluster=pg_cluster, step=steps.append)
    finally:
        pg_cluster.drop_database(target)
    assert report.missed == [] and steps == [CACHED_STEP, ON_TEMPLATE]
    assert shadows(pg_cluster) == []


def test_a_stale_or_corrupt_cache_is_ignored_and_replaced(
    pg_cluster: Cluster, template_db: str, tmp_path: Path
) -> None:
    import pickle

    migration = "create table public.notes (id bigint primary key, body text);\n"
    cfg = make_project(tmp_path / "project", {"20250101000000_notes.sql": migration})
    target = make_target(pg_cluster, template_db, migration, "create table public.extra (id int);")
    template = template_name(cfg)
    cache = inspection_cache_path(cfg, template)

    def run() -> list[str]:
        steps: list[str] = []
        report = diff(cfg, target=pg_cluster.url(target), cluster=pg_cluster, step=steps.append)
        assert report.statements[0].startswith('create table "public"."extra"') and report.missed == []
        assert shadows(pg_cluster) == []
        return steps

    def rewrite_header(**changes: object) -> None:
        with cache.open("rb") as stream:
            header = pickle.load(stream)
            body = stream.read()
        with cache.open("wb") as stream:
            pickle.dump({**header, **changes}, stream)
            stream.write(body)

    try:
        assert LIVE_STEP in run() and cache.is_file()  # builds the template, inspects it live, caches that
        assert CACHED_STEP in run()
        for damage in (
            lambda: cache.write_bytes(b"not a pickle"),
            lambda: cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2]),  # truncated
            lambda: rewrite_header(template=TEMPLATE_PREFIX + "0123456789abcdef"),  # another template's
            lambda: rewrite_header(oid=1),  # another build of this template
            lambda: rewrite_header(results="0.0.0"),  # another version of the engine
        ):
            damage()
            assert load_template_inspection(cfg, pg_cluster, template) is None
            assert LIVE_STEP in run()  # ignored, inspected live...
            assert load_template_inspection(cfg, pg_cluster, template) is not None  # ...and cached again
        # The template rebuilt under the same name (same files): the cache of the old build is not trusted.
        with pg_cluster.connection() as conn:
            conn.execute(f'ALTER DATABASE "{template}" IS_TEMPLATE false')  # type: ignore[arg-type]
        pg_cluster.drop_database(template)
        assert cache.is_file()
        steps = run()
        assert "creating the shadow database" in steps and LIVE_STEP in steps
        assert CACHED_STEP in run()
        # Another schema selection has its own cache; a new template's cache replaces the old one.
        (cfg.migrations_dir / "20250102000000_more.sql").write_text("create table public.more (id int);")
        steps = []
        diff(cfg, target=pg_cluster.url(target), cluster=pg_cluster, step=steps.append, schemas=["public"])
        assert LIVE_STEP in steps
        assert [p.name for p in cache.parent.glob("*.pickle")] == [
            inspection_cache_path(cfg, template_name(cfg), ("public",)).name
        ]
    finally:
        pg_cluster.drop_database(target)


def test_written_migration_applies_and_empties_the_diff(
    changed: dict, pg_cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg: Config = changed["cfg"]
    before = template_name(cfg)
    written = diff(cfg, target=pg_cluster.url(changed["target"]), cluster=pg_cluster, name="catch_up")
    assert written.statements == changed["report"].statements  # the template was not changed by the self-check
    assert written.written is not None
    assert written.written.parent == cfg.migrations_dir
    assert written.written.name.endswith("_catch_up.sql")
    assert written.written.read_text() == written.sql

    pg_cluster.create_database("ops_shadow_cached_0123456789abcdef")  # what earlier versions kept
    again = diff(cfg, target=pg_cluster.url(changed["target"]), cluster=pg_cluster)
    assert again.statements == [] and again.missed == [] and again.self_checked
    # A new migration file means a new template; the stale one is gone, and so is the old-style cache.
    assert template_name(cfg) != before
    assert templates(pg_cluster) == [(template_name(cfg), True, 0)]
    assert not pg_cluster.database_exists("ops_shadow_cached_0123456789abcdef")
    assert shadows(pg_cluster) == []
    again = replace(again, fail_on_changes=True)
    render(_output(), again)
    assert again.exit_code == 0 and again.failure() is None  # --check passes
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "No schema changes found\n"  # stdout is for SQL only
    written.written.unlink()


def test_self_check_rediffs_with_the_engine(changed: dict, pg_cluster: Cluster) -> None:
    """The second shadow gets the generated SQL and is diffed again: a
    statement left out of the SQL shows up in the engine's re-diff and in the
    inventory, each naming what is missing."""
    cfg: Config = changed["cfg"]
    statements = changed["report"].statements
    incomplete = [s for s in statements if not s.startswith("CREATE INDEX items_name_idx")]
    assert len(incomplete) == len(statements) - 1
    snapshot = TargetSnapshot.take(pg_cluster.url(changed["target"]))
    with shadow_databases(cfg, pg_cluster) as fresh:
        assert verify(fresh.new(), snapshot, statements) == []
        assert verify(fresh.new(), snapshot, incomplete) == [
            "re-diff: CREATE INDEX items_name_idx ON public.items USING btree (name);",
            "missing: index public.items_name_idx (CREATE INDEX items_name_idx ON public.items USING btree (name))",
        ]
        assert verify(fresh.new(), snapshot, ['alter table "public"."nowhere" add column x int;']) == [
            "the generated SQL fails to apply: generated.sql: statement 1 (line 1) failed:"
            ' 42P01 relation "public.nowhere" does not exist'
        ]
    assert shadows(pg_cluster) == []


def test_check_gates_on_differences(changed: dict, capsys: pytest.CaptureFixture[str]) -> None:
    report: DiffReport = replace(changed["report"], fail_on_changes=True)
    render(_output(), report)
    failure = report.failure()
    assert report.exit_code == 1 and isinstance(failure, CheckFailed)
    assert failure.one_line().startswith(
        f"error: {report.target} differs from migrations: {len(report.statements)} statement(s)"
    )
    captured = capsys.readouterr()
    assert 'warning: DROP statement: drop table "public"."retired";' in captured.err
    assert "warning" not in captured.out  # `inv db.diff > x.sql` gives clean SQL
    assert 'create table "public"."orders"' in captured.out


@pytest.mark.parametrize(
    "planted, missed",
    [
        (
            "alter publication supabase_realtime add table public.messages;",
            "missing: publication public.messages (supabase_realtime)",
        ),
        (
            "alter default privileges in schema public revoke all on tables from anon;",
            "different: default privileges public.postgres on r",
        ),
    ],
    ids=["publication-membership", "default-privileges"],
)
def test_self_check_catches_what_the_engine_does_not_model(
    planted: str,
    missed: str,
    pg_cluster: Cluster,
    template_db: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """results models neither publications nor default privileges: a table
    added to Supabase's realtime publication, or default grants revoked,
    leave the engine's diff empty. The self-check's catalog inventory notices."""
    migration = "create table public.messages (id bigint primary key, body text);\n"
    cfg = make_project(tmp_path / "project", {"20250101000000_messages.sql": migration})
    target = make_target(pg_cluster, template_db, migration, planted)
    reference = make_target(pg_cluster, template_db, migration)
    try:
        # The engine alone sees no difference between the two databases...
        with pg_cluster.connection(reference) as a, pg_cluster.connection(target) as b:
            assert generate(inspect(a), inspect(b)) == []
        # ...but the self-check does.
        report = diff(cfg, target=pg_cluster.url(target), cluster=pg_cluster, cache=False)
    finally:
        pg_cluster.drop_database(target)
        pg_cluster.drop_database(reference)
    assert report.statements == []
    assert len(report.missed) == 1 and report.missed[0].startswith(missed)
    render(_output(), report)
    failure = report.failure()
    assert report.exit_code == 1 and failure is not None
    assert failure.one_line() == (
        "error: incomplete diff: the engine missed 1 difference(s) listed above"
        " (fix: add SQL for them by hand (in the migration), then run db.diff again)"
    )
    assert capsys.readouterr().err == f"  {report.missed[0]}\n"


def test_managed_schemas_only_count_policies_and_triggers(
    pg_cluster: Cluster, template_db: str, tmp_path: Path
) -> None:
    cfg = make_project(tmp_path / "project", {})
    target = make_target(
        pg_cluster,
        template_db,
        'create policy "own files" on storage.objects for select to authenticated using (owner = auth.uid());'
        " create function public.on_signup() returns trigger language plpgsql security definer"
        " set search_path = '' as $$ begin return new; end $$;"
        " create trigger on_signup after insert on auth.users for each row execute function public.on_signup();"
        " alter table auth.users add column nickname text;"  # managed: not ours to diff
        " create table extensions.scratch (id int);"  # excluded schema
        " create schema if not exists supabase_migrations; create table supabase_migrations.scratch (id int);",
    )
    try:
        report = diff(cfg, target=pg_cluster.url(target), cluster=pg_cluster, cache=False)
    finally:
        pg_cluster.drop_database(target)
    assert report.missed == []
    assert [s.splitlines()[0] for s in report.statements if not s.startswith("set check_function_bodies")] == [
        "CREATE OR REPLACE FUNCTION public.on_signup()",
        "CREATE TRIGGER on_signup AFTER INSERT ON auth.users FOR EACH ROW EXECUTE FUNCTION on_signup();",
        'create policy "own files"',
    ]


def test_shadow_is_dropped_when_a_migration_fails(pg_cluster: Cluster, template_db: str, tmp_path: Path) -> None:
    cfg = make_project(tmp_path / "project", {"20250101000000_bad.sql": "alter table public.nowhere add column x int;"})
    before = templates(pg_cluster)
    with pytest.raises(ExternalError):
        diff(cfg, target=pg_cluster.url(template_db), cluster=pg_cluster)
    assert shadows(pg_cluster) == []
    assert templates(pg_cluster) == before


@pytest.mark.parametrize(
    "cache, warm, interrupt_at, alive, template_kept",
    [
        (True, False, "applying the migrations", 1, False),  # the template under construction
        (True, False, "inspecting", 0, True),  # the template is inspected in place: no shadow yet
        (True, False, "self-check", 0, True),  # checked on the template in a transaction: no clone
        # Warm: the template's inspection is cached.
        (True, True, "inspecting the target", None, True),
        (True, True, "self-check", 0, True),
        (False, False, "inspecting", 1, False),  # the throwaway template
        (False, False, "self-check", 1, False),  # the throwaway template
    ],
    ids=[
        "building-template",
        "diffing",
        "self-checking",
        "warm-diffing",
        "warm-self-checking",
        "throwaway-diffing",
        "throwaway-self-checking",
    ],
)
def test_shadows_are_dropped_on_ctrl_c(
    cache: bool,
    warm: bool,
    interrupt_at: str,
    alive: int | None,
    template_kept: bool,
    pg_cluster: Cluster,
    template_db: str,
    tmp_path: Path,
) -> None:
    cfg = make_project(tmp_path / "project", {"20250101000000_ok.sql": "create table public.t (id int);"})
    assert shadows(pg_cluster) == []
    if warm:  # a first, complete run builds the template and caches its inspection
        diff(cfg, target=pg_cluster.url(template_db), cluster=pg_cluster)
    before = templates(pg_cluster)

    def interrupt(step: str) -> None:
        if step.startswith(interrupt_at):
            if alive is not None:
                assert len(shadows(pg_cluster)) == alive  # what there is to clean up at this point
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        diff(cfg, target=pg_cluster.url(template_db), cluster=pg_cluster, step=interrupt, cache=cache)
    assert shadows(pg_cluster) == []
    if template_kept:  # the template was complete: later runs reuse it; its inspection's session is closed
        assert (template_name(cfg), True, 0) in templates(pg_cluster)
    else:  # a template under construction, or a throwaway one, is gone too
        assert templates(pg_cluster) == before


def test_no_changes_clone_no_shadow_and_leave_no_session_on_the_template(
    pg_cluster: Cluster, template_db: str, tmp_path: Path
) -> None:
    """An empty diff has nothing to apply: the self-check compares the
    template's inventory with the target's, and no shadow is ever cloned."""
    migration = "create table public.notes (id bigint primary key, body text);\n"
    cfg = make_project(tmp_path / "project", {"20250101000000_notes.sql": migration})
    target = make_target(pg_cluster, template_db, migration)
    seen: dict[str, list[str]] = {}
    try:
        report = diff(
            cfg,
            target=pg_cluster.url(target),
            cluster=pg_cluster,
            step=lambda step: seen.setdefault(step, shadows(pg_cluster)),
        )
    finally:
        pg_cluster.drop_database(target)
    assert report.statements == [] and report.missed == [] and report.self_checked
    # How many shadow databases there were at each step.
    assert {step: len(alive) for step, alive in seen.items()} == {
        "creating the shadow database": 0,
        "applying the migrations to the shadow": 1,  # the template, under construction
        "inspecting the migrated template and the target": 0,
        "self-check: comparing the inventories of the migrated template and the target": 0,
    }
    assert shadows(pg_cluster) == []
    assert (template_name(cfg), True, 0) in templates(pg_cluster)


def test_a_warm_run_with_no_changes_compares_the_inventories_and_clones_nothing(
    pg_cluster: Cluster, template_db: str, tmp_path: Path
) -> None:
    """Warm, an empty diff has nothing to apply: the inventories (the template's
    from the cache) are compared."""
    migration = "create table public.notes (id bigint primary key, body text);\n"
    cfg = make_project(tmp_path / "project", {"20250101000000_notes.sql": migration})
    target = make_target(pg_cluster, template_db, migration)
    seen: dict[str, int] = {}
    try:
        diff(cfg, target=pg_cluster.url(target), cluster=pg_cluster)  # builds the template, caches its inspection
        report = diff(
            cfg,
            target=pg_cluster.url(target),
            cluster=pg_cluster,
            step=lambda step: seen.setdefault(step, len(shadows(pg_cluster))),
        )
    finally:
        pg_cluster.drop_database(target)
    assert report.statements == [] and report.missed == [] and report.self_checked
    assert list(seen) == [CACHED_STEP, "self-check: comparing the inventories of the migrated template and the target"]
    assert seen["self-check: comparing the inventories of the migrated template and the target"] == 0
    assert shadows(pg_cluster) == []
    assert (template_name(cfg), True, 0) in templates(pg_cluster)


def test_a_template_that_cannot_be_cloned_is_a_one_line_error(pg_cluster: Cluster) -> None:
    """Dropped under our feet (another checkout's run replaced it), or held by
    a session: an ExternalError naming the template, not a traceback."""
    with pytest.raises(ExternalError) as failure:
        Shadows(pg_cluster, TEMPLATE_PREFIX + "gone").new()
    assert failure.value.message == (
        f'cannot clone a shadow database from {TEMPLATE_PREFIX}gone: template database "{TEMPLATE_PREFIX}gone"'
        " does not exist"
    )
    assert shadows(pg_cluster) == []


def _output():  # type: ignore[no-untyped-def]
    from ops.console import Output

    return Output()
