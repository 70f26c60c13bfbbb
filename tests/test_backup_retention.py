"""GFS retention: the pure plan over a synthetic 3-year calendar, and
backup.prune through the real CLI over synthetic backup directories."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ops.backup.manifest import checksum_tree
from ops.backup.pgtools import run_tool, target
from ops.backup.retention import plan_retention, tier_counts
from ops.pg.cluster import Cluster
from tests.conftest import reachable_tempdir, run_cli

POLICY = {"daily": 7, "weekly": 4, "monthly": 12, "yearly": 7}
FIRST_DAY = date(2023, 1, 1)
LAST_DAY = date(2025, 12, 31)  # a Wednesday


def calendar(verified: bool | None = True) -> list[tuple[str, datetime, bool]]:
    """One backup a day at 02:00 UTC for three years (1096 days)."""
    days = (LAST_DAY - FIRST_DAY).days + 1
    items = []
    for offset in range(days):
        day = FIRST_DAY + timedelta(days=offset)
        items.append((day.isoformat(), datetime(day.year, day.month, day.day, 2, tzinfo=UTC), bool(verified)))
    return items


def kept(decisions: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(d.id for d in decisions if d.keep)


def test_three_years_of_daily_backups_keep_exactly_the_gfs_tiers() -> None:
    decisions = plan_retention(calendar(), POLICY)
    assert len(decisions) == 1096
    assert tier_counts(decisions) == {"daily": 7, "weekly": 4, "monthly": 12, "yearly": 3}
    daily = [f"2025-12-{day}" for day in range(25, 32)]
    weekly_only = ["2025-12-14", "2025-12-21"]  # Sundays ending ISO weeks 50 and 51; week 52's is a daily
    month_ends = ["2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30", "2025-05-31", "2025-06-30"]
    month_ends += ["2025-07-31", "2025-08-31", "2025-09-30", "2025-10-31", "2025-11-30"]
    yearly_only = ["2023-12-31", "2024-12-31"]
    assert kept(decisions) == sorted(daily + weekly_only + month_ends + yearly_only)
    newest = decisions[0]
    assert (newest.id, newest.reasons) == (
        "2025-12-31",
        [
            "daily 1/7 (newest of its day)",
            "weekly 1/4 (newest of its week)",
            "monthly 1/12 (newest of its month)",
            "yearly 1/7 (newest of its year)",
        ],
    )
    by_id = {d.id: d for d in decisions}
    assert by_id["2024-12-31"].reasons == ["yearly 2/7 (newest of its year)"]
    assert by_id["2023-12-31"].reasons == ["yearly 3/7 (newest of its year)"]
    assert not by_id["2025-12-24"].keep and by_id["2025-12-24"].as_dict()["reasons"] == ["outside every retention tier"]


def test_two_backups_in_one_day_keep_only_the_newer() -> None:
    morning = ("a", datetime(2025, 6, 1, 1, tzinfo=UTC), True)
    evening = ("b", datetime(2025, 6, 1, 23, tzinfo=UTC), True)
    assert kept(plan_retention([morning, evening], POLICY)) == ["b"]


def test_the_newest_verified_backup_is_always_kept() -> None:
    # Only one backup, 400 days old, was ever verified: outside every tier, still kept.
    items = [(i, t, i == "2024-11-26") for i, t, _ in calendar()]
    decisions = plan_retention(items, POLICY)
    by_id = {d.id: d for d in decisions}
    assert by_id["2024-11-26"].reasons == ["newest verified backup"]
    assert len(kept(decisions)) == 23


def test_nothing_is_deleted_while_no_backup_is_verified() -> None:
    decisions = plan_retention(calendar(verified=False), POLICY)
    assert all(d.keep for d in decisions)
    assert decisions[-1].reasons == ["no backup is verified yet: nothing is deleted until one is"]


def test_a_zero_tier_keeps_nothing_for_that_tier() -> None:
    decisions = plan_retention(calendar(), {"daily": 2, "weekly": 0, "monthly": 0, "yearly": 0})
    assert kept(decisions) == ["2025-12-30", "2025-12-31"]


# -- backup.prune through the CLI ------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_dump(pg_cluster: Cluster) -> Iterator[Path]:
    """A real (small) directory-format dump: prune re-verifies the newest verified backup in full."""
    import shutil

    base = reachable_tempdir("ops-backup-tiny-dump-")
    source = target(pg_cluster.url("postgres"))
    run_tool("pg_dump", ["--format=directory", f"--file={base / 'dump'}", f"--dbname={source.conninfo}"], source)
    try:
        yield base / "dump"
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def project_with_backups(tiny_dump: Path) -> Iterator[Path]:
    """40 days of synthetic finished backups (a real tiny dump each) plus an unfinished export."""
    import shutil

    root = reachable_tempdir("ops-backup-prune-")
    (root / "pyproject.toml").write_text(
        '[tool.ops]\n\n[tool.ops.backup]\nroot = "backups"\n\n'
        "[tool.ops.backup.retention]\ndaily = 3\nweekly = 2\nmonthly = 2\nyearly = 1\n"
    )
    env_dir = root / "backups" / "production"
    for offset in range(40):
        day = date(2025, 11, 1) + timedelta(days=offset)
        backup_id = day.strftime("%Y%m%dT020000Z")
        (env_dir / backup_id).mkdir(parents=True)
        shutil.copytree(tiny_dump, env_dir / backup_id / "dump")
        manifest = {"id": backup_id, "snapshot_at": f"{day.isoformat()}T02:00:00Z", "size_bytes": 1}
        manifest["files"] = checksum_tree(env_dir / backup_id)
        manifest["verification"] = {"status": "ok" if offset % 2 == 0 else "failed"}
        (env_dir / backup_id / "manifest.json").write_text(json.dumps(manifest))
    (env_dir / "20251211T030000Z.partial").mkdir()
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_prune_is_a_dry_run_by_default(project_with_backups: Path) -> None:
    env_dir = project_with_backups / "backups" / "production"
    before = sorted(p.name for p in env_dir.iterdir())
    result = run_cli("backup.prune", cwd=project_with_backups)
    assert result.code == 0, result.output
    lines = result.stdout.splitlines()
    # Newest first. Odd days failed verification and take no tier slot.
    assert lines[:4] == [
        "delete 20251210T020000Z  (failed) failed verification",
        "keep   20251209T020000Z  (ok) daily 1/3 (newest of its day); weekly 1/2 (newest of its week);"
        " monthly 1/2 (newest of its month); yearly 1/1 (newest of its year)",
        "delete 20251208T020000Z  (failed) failed verification",
        "keep   20251207T020000Z  (ok) daily 2/3 (newest of its day); weekly 2/2 (newest of its week)",
    ]
    assert "keep   20251129T020000Z  (ok) monthly 2/2 (newest of its month)" in lines
    assert "delete 20251127T020000Z  (ok) outside every retention tier" in lines
    assert lines[-2:] == ["4 kept, 36 would delete", "dry run: nothing deleted (pass --apply to delete)"]
    assert sorted(p.name for p in env_dir.iterdir()) == before


def test_prune_apply_deletes_exactly_the_planned_backups(project_with_backups: Path) -> None:
    env_dir = project_with_backups / "backups" / "production"
    result = run_cli("backup.prune", "--apply", "--json", cwd=project_with_backups)
    assert result.code == 0, result.output
    plan = json.loads(result.stdout)
    kept_ids = ["20251209T020000Z", "20251207T020000Z", "20251205T020000Z", "20251129T020000Z"]
    assert [d["id"] for d in plan["decisions"] if d["action"] == "keep"] == kept_ids
    assert plan["tiers"] == {"daily": 3, "weekly": 2, "monthly": 2, "yearly": 1}
    assert len(plan["deleted"]) == 36 and plan["applied"] is True
    assert [(c["id"], c["status"]) for c in plan["reverified"]] == [("20251209T020000Z", "ok")]
    # The unfinished export is not a backup: retention never touches it.
    assert sorted(p.name for p in env_dir.iterdir()) == sorted([*kept_ids, "20251211T030000Z.partial"])


def test_prune_keeps_an_old_verified_backup_when_it_is_the_only_one(project_with_backups: Path) -> None:
    env_dir = project_with_backups / "backups" / "production"
    for manifest_path in env_dir.glob("*/manifest.json"):
        manifest = json.loads(manifest_path.read_text())
        manifest["verification"] = {"status": "ok"} if manifest["id"] == "20251101T020000Z" else None
        manifest_path.write_text(json.dumps(manifest))
    result = run_cli("backup.prune", cwd=project_with_backups)
    assert "keep   20251101T020000Z  (ok) newest verified backup" in result.stdout.splitlines()
