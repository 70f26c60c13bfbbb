from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ops.errors import ExternalError
from ops.pg.binaries import INSTALL_HINT, find_bindir
from ops.pg.cluster import Cluster, free_port
from tests.conftest import FAST_SETTINGS, reachable_tempdir, tiny_filesystem


def test_bindir_has_server_programs() -> None:
    bindir = find_bindir()
    assert (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file()


def test_explicit_bindir_that_lacks_server_is_one_line_error(tmp_path) -> None:
    from ops.errors import BinaryNotFound

    with pytest.raises(BinaryNotFound) as info:
        find_bindir(str(tmp_path))
    assert info.value.one_line() == (
        f"error: no initdb/pg_ctl in the configured bindir {tmp_path} (fix: {INSTALL_HINT})"
    )


def test_bindir_setting_in_pyproject_comes_before_the_search(tmp_path, monkeypatch) -> None:
    from ops.errors import BinaryNotFound

    monkeypatch.delenv("OPS_PG_BINDIR", raising=False)
    monkeypatch.setenv("OPS_PROJECT_ROOT", str(tmp_path))
    real = find_bindir()  # found by the search: no setting yet
    (tmp_path / "pyproject.toml").write_text('[tool.ops.pg]\nbindir = "pg/bin"\n')
    with pytest.raises(BinaryNotFound, match=f"in the configured bindir {tmp_path / 'pg' / 'bin'}$"):
        find_bindir()
    (tmp_path / "pg").mkdir()
    (tmp_path / "pg" / "bin").symlink_to(real, target_is_directory=True)
    assert find_bindir() == tmp_path / "pg" / "bin"
    # The environment variable wins over the file.
    monkeypatch.setenv("OPS_PG_BINDIR", str(real))
    assert find_bindir() == real


@pytest.mark.integration
def test_cluster_lifecycle_and_auth() -> None:
    cluster = Cluster(reachable_tempdir("ops-pg-life-") / "pg", settings=FAST_SETTINGS)
    try:
        assert cluster.init() is True
        assert cluster.init() is False
        assert cluster.start() is True
        assert cluster.start() is False
        with cluster.connection() as conn:
            assert conn.execute("select current_setting('listen_addresses')").fetchone() == ("127.0.0.1",)
        # Loopback TCP needs the password.
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(cluster.url(password="wrong"), connect_timeout=5).close()
        # The unix socket in the state dir needs the password too.
        with psycopg.connect(cluster.socket_conninfo()) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(
                f"host={cluster.socket_dir} port={cluster.port} user=postgres password=wrong", connect_timeout=5
            ).close()
        assert stat.S_IMODE(cluster.socket_dir.stat().st_mode) == 0o700
        assert stat.S_IMODE(cluster.log_file.parent.stat().st_mode) == 0o700
        assert stat.S_IMODE(cluster.meta_file.stat().st_mode) == 0o600
        if os.geteuid() == 0:
            owner = cluster.data_dir.stat().st_uid
            assert pwd.getpwuid(owner).pw_name == "postgres"
        # The port survives a restart through cluster.json.
        port = cluster.port
        cluster.stop()
        assert not cluster.is_running()
        again = Cluster(cluster.state_dir)
        assert again.port == port
        again.start()
        assert again.is_running()
    finally:
        cluster.destroy()
    assert not cluster.state_dir.exists()


def test_busy_port_names_the_port_and_key() -> None:
    import socket

    port = free_port()
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        cluster = Cluster(reachable_tempdir("ops-pg-busy-") / "pg", port=port, port_key="[tool.ops.dev] db_port")
        try:
            with pytest.raises(ExternalError) as info:
                cluster.start()
            assert info.value.one_line() == (
                f"error: port {port} on 127.0.0.1 is already in use"
                " (fix: stop whatever listens there or change [tool.ops.dev] db_port)"
            )
            assert not cluster.data_dir.exists()  # refused before initdb: nothing half-made
        finally:
            cluster.destroy()


def test_template_clone_keeps_supabase_search_path(database) -> None:
    with database.connect() as conn:
        path = conn.execute("show search_path").fetchone()[0]
        assert "extensions" in path
        # pgcrypto lives in extensions and resolves unqualified.
        assert len(conn.execute("select gen_random_bytes(8)").fetchone()[0]) == 8


def test_a_damaged_state_file_is_a_one_line_error(tmp_path) -> None:
    (tmp_path / "cluster.json").write_text('{"port": 5')
    with pytest.raises(ExternalError) as info:
        Cluster(tmp_path)
    assert info.value.one_line() == (
        f"error: the cluster's state file {tmp_path / 'cluster.json'} is damaged"
        f" (fix: stop the server and delete {tmp_path} to start afresh (inv dev.down --purge))"
    )


def _as_nobody(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "nobody", "--", *argv],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": os.environ.get("PATH", ""), "PGCONNECT_TIMEOUT": "5"},
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.integration
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("runuser") is None, reason="needs root to act as nobody")
def test_another_local_user_cannot_connect(pg_cluster: Cluster) -> None:
    """Issue 14.8: the socket was srwxrwxrwx with trust auth; any local user became a superuser."""
    psql = str(pg_cluster.server_bindir() / "psql")
    for host in (str(pg_cluster.socket_dir), "127.0.0.1"):
        result = _as_nobody(psql, "-w", "-h", host, "-p", str(pg_cluster.port), "-U", "postgres", "-c", "select 1")
        assert result.returncode != 0, f"nobody connected through {host}"
        assert "password" in result.stderr or "Permission denied" in result.stderr, result.stderr
    # The owner of the stack still connects, with the password from the 0600 state.
    with psycopg.connect(pg_cluster.socket_conninfo()) as conn:
        assert conn.execute("select current_user").fetchone() == ("postgres",)
    # nobody cannot read the password either.
    assert _as_nobody("cat", str(pg_cluster.meta_file)).returncode != 0


@pytest.mark.integration
def test_a_cluster_made_with_open_doors_is_closed_on_its_next_start() -> None:
    """Clusters made before issue 14.8 trusted every local user on a 0777 socket."""
    cluster = Cluster(reachable_tempdir("ops-pg-doors-") / "pg", settings=FAST_SETTINGS)
    try:
        cluster.start()
        hba = cluster.data_dir / "pg_hba.conf"
        hba.write_text(hba.read_text().replace("scram-sha-256", "trust"))
        with (cluster.data_dir / "postgresql.conf").open("a") as handle:
            handle.write("unix_socket_permissions = 0777\n")
        cluster.socket_dir.chmod(0o777)
        cluster.stop()
        cluster.start()
        cluster.stop()
        Cluster(cluster.state_dir).start()
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(
                f"host={cluster.socket_dir} port={cluster.port} user=postgres password=wrong", connect_timeout=5
            ).close()
        rules = [line for line in hba.read_text().splitlines() if line.strip() and not line.startswith("#")]
        assert rules and all(line.split()[-1] == "scram-sha-256" for line in rules)
        assert stat.S_IMODE(cluster.socket_dir.stat().st_mode) == 0o700
        with psycopg.connect(cluster.socket_conninfo()) as conn:
            assert conn.execute("show unix_socket_permissions").fetchone() == ("0700",)
    finally:
        cluster.destroy()


def test_new_clusters_copy_the_initdb_template_and_get_their_own_password(tmp_path, monkeypatch) -> None:
    """The second cluster of an installation is a copy of a pristine initdb (same system
    identifier), yet has its own password: the template's does not open it."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("OPS_INITDB_CACHE", str(cache))
    made: list[tuple[int, str]] = []
    for _ in range(2):
        base = reachable_tempdir("ops-test-template-")
        cluster = Cluster(base / "pg", settings=FAST_SETTINGS)
        try:
            assert cluster.start() is True
            with cluster.connection() as conn:
                system_id = conn.execute("select system_identifier from pg_control_system()").fetchone()[0]
                assert conn.execute("show port").fetchone()[0] == str(cluster.port)
            assert "pending_password" not in json.loads(cluster.meta_file.read_text())
            made.append((system_id, cluster.password))
            if len(made) == 2:
                (template,) = cache.iterdir()
                assert stat.S_IMODE(template.stat().st_mode) == 0o700
                assert stat.S_IMODE((template / "password").stat().st_mode) == 0o600
                template_password = (template / "password").read_text().strip()
                with pytest.raises(psycopg.OperationalError):
                    psycopg.connect(cluster.url(password=template_password), connect_timeout=5).close()
        finally:
            cluster.destroy()
            shutil.rmtree(base, ignore_errors=True)
    assert made[0][0] == made[1][0], "the second cluster was not copied from the template"
    assert made[0][1] != made[1][1]


def test_initdb_template_lives_in_the_user_cache_unless_turned_off(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    for setting in ("off", ""):
        monkeypatch.setenv("OPS_INITDB_CACHE", setting)
        base = reachable_tempdir("ops-test-template-xdg-")
        cluster = Cluster(base / "pg", settings=FAST_SETTINGS)
        try:
            cluster.start()
            with cluster.connection() as conn:
                assert conn.execute("select 1").fetchone() == (1,)
        finally:
            cluster.destroy()
            shutil.rmtree(base, ignore_errors=True)
        kept = list((tmp_path / "xdg" / "ops-toolkit" / "initdb").glob("*/complete"))
        assert len(kept) == (0 if setting == "off" else 1)


def _new_cluster(prefix: str, prepared: str | None = None) -> tuple[Cluster, Path]:
    base = reachable_tempdir(prefix)
    cluster = Cluster(base / "pg", settings=FAST_SETTINGS)
    cluster.init(prepared=prepared)
    return cluster, base


def test_a_prepared_template_is_kept_once_asked_twice_and_copied_with_its_schema(tmp_path, monkeypatch) -> None:
    """A cluster kept under a fingerprint comes back, with what was applied to it, only
    for that fingerprint; the copy has its own port and password (not those of the
    cluster it was taken from), and as root its data dir is the server account's, 0700."""
    monkeypatch.setenv("OPS_INITDB_CACHE", str(tmp_path / "cache"))
    made = []
    try:
        for expect_wanted in (False, True):
            cluster, base = _new_cluster("ops-test-prepared-", prepared="fingerprint-1")
            made.append((cluster, base))
            assert cluster.prepared_info is None and cluster.prepared_wanted is expect_wanted
        source = made[-1][0]
        source.start()
        with source.connection() as conn:
            conn.execute("create table kept (id int); insert into kept values (42)")
        source.stop()
        assert source.keep_prepared("fingerprint-1", {"done": "one table"}) is True

        copy, base = _new_cluster("ops-test-prepared-copy-", prepared="fingerprint-1")
        made.append((copy, base))
        assert copy.prepared_info == {"done": "one table"}
        assert copy.port != source.port and copy.password != source.password
        conf = (copy.data_dir / "postgresql.conf").read_text()
        assert f"port = {copy.port}" in conf and f"port = {source.port}" not in conf
        assert conf.count("# written by ops: a local cluster on loopback") == 1
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres").pw_uid
            assert copy.data_dir.stat().st_uid == owner and stat.S_IMODE(copy.data_dir.stat().st_mode) == 0o700
            assert all(path.stat().st_uid == owner for path in copy.data_dir.rglob("*"))
        copy.start()
        with copy.connection() as conn:
            assert conn.execute("select id from kept").fetchall() == [(42,)]
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(copy.url(password=source.password), connect_timeout=5).close()

        other, base = _new_cluster("ops-test-prepared-other-", prepared="fingerprint-2")
        made.append((other, base))
        assert other.prepared_info is None
        other.start()
        with other.connection() as conn:
            assert conn.execute("select to_regclass('public.kept')").fetchone() == (None,)
    finally:
        for cluster, base in made:
            cluster.destroy()
            shutil.rmtree(base, ignore_errors=True)


def _stored_template(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefix: str) -> Any:
    """The initdb template a first cluster left in a cache of the test's own."""
    from ops.pg.initdb_cache import InitdbTemplate

    monkeypatch.setenv("OPS_INITDB_CACHE", str(tmp_path / "cache"))
    first, base = _new_cluster(prefix)
    first.destroy()
    shutil.rmtree(base)
    template = InitdbTemplate.for_bindir(first.server_bindir())
    assert template is not None and template.available
    return template


def test_a_damaged_template_is_deleted_and_the_cluster_made_the_long_way(tmp_path, monkeypatch) -> None:
    template = _stored_template(tmp_path, monkeypatch, "ops-test-damaged-")
    victim = next(path for path in template.data.rglob("*") if path.is_file() and path.stat().st_size > 0)
    size = victim.stat().st_size
    victim.write_bytes(victim.read_bytes()[:-1])  # truncated: not what the manifest says
    second, base = _new_cluster("ops-test-damaged-again-")
    try:
        # Made by initdb, not copied (a copy would wait for its own password), and kept
        # as the new template in place of the damaged one.
        assert "pending_password" not in json.loads(second.meta_file.read_text())
        assert template.available and template.password() == second.password
        assert victim.stat().st_size == size
        second.start()
        with second.connection() as conn:
            assert conn.execute("select 1").fetchone() == (1,)
    finally:
        second.destroy()
        shutil.rmtree(base, ignore_errors=True)


def test_a_copy_that_cannot_be_written_keeps_the_template(tmp_path, monkeypatch) -> None:
    """A full disk where the copy goes is not the entry's fault: the copy fails, the entry stays."""
    template = _stored_template(tmp_path, monkeypatch, "ops-test-full-target-")
    with tiny_filesystem(tmp_path / "tiny", "1m") as tiny:
        assert template.restore_into(tiny / "data") is False
        assert not (tiny / "data").exists()  # no half copy left behind
    assert template.available
    assert template.restore_into(tmp_path / "data") is True


def test_the_template_is_keyed_by_the_initdb_program_not_its_path(tmp_path, monkeypatch) -> None:
    """A copy of the installation (the state dir's, for a server account that cannot reach
    the original) shares the entry instead of adding one per state dir."""
    from ops.pg.initdb_cache import InitdbTemplate

    monkeypatch.setenv("OPS_INITDB_CACHE", str(tmp_path / "cache"))
    copied = tmp_path / "copy" / "bin"
    copied.mkdir(parents=True)
    shutil.copyfile(find_bindir() / "initdb", copied / "initdb")
    original, moved = InitdbTemplate.for_bindir(find_bindir()), InitdbTemplate.for_bindir(copied)
    assert original is not None and moved is not None and original.root == moved.root
    (copied / "initdb").write_bytes(b"another build")
    changed = InitdbTemplate.for_bindir(copied)
    assert changed is not None and changed.root != original.root


def test_only_the_most_recently_used_prepared_templates_are_kept(tmp_path, monkeypatch) -> None:
    from ops.pg.initdb_cache import InitdbTemplate

    monkeypatch.setenv("OPS_INITDB_CACHE", str(tmp_path / "cache"))
    pristine = InitdbTemplate.for_bindir(find_bindir())
    assert pristine is not None
    data = tmp_path / "data"
    data.mkdir()
    (data / "PG_VERSION").write_text("15\n")
    entries = []
    for number in range(InitdbTemplate.KEEP_PREPARED):
        entry = pristine.prepared(f"state-{number}", None)
        assert entry.store(data, "secret", info={"number": number}) is True
        os.utime(entry.root / "complete", (1_000_000 + number, 1_000_000 + number))
        entries.append(entry)
    # Using the oldest makes it the most recently used.
    assert entries[0].restore_into(tmp_path / "restored") is True
    assert entries[0].info() == {"number": 0}
    newer = [pristine.prepared(name, None) for name in ("state-a", "state-b")]
    for entry in newer:
        assert entry.store(data, "secret") is True
    kept = sorted(path.parent.name for path in (tmp_path / "cache").glob("*-prepared-*/complete"))
    assert kept == sorted(entry.root.name for entry in (entries[0], entries[3], *newer))
    assert stat.S_IMODE(newer[0].root.stat().st_mode) == 0o700
    assert stat.S_IMODE((newer[0].root / "password").stat().st_mode) == 0o600


def test_a_start_is_not_fooled_by_the_postmaster_pid_of_a_server_killed_just_after_it_started() -> None:
    """A server killed within a second of starting leaves postmaster.pid saying "ready", with a
    start time as recent as the new one's: start() returns only once the new server is ready."""
    import time

    base = reachable_tempdir("ops-test-stale-pidfile-")
    cluster = Cluster(base / "pg", settings=FAST_SETTINGS)
    try:
        cluster.start()
        lines = (cluster.data_dir / "postmaster.pid").read_text().splitlines()
        cluster.stop()
        for _ in range(3):
            dead = subprocess.Popen(["true"])  # a pid that no longer runs
            dead.wait()
            lines[0], lines[2] = str(dead.pid), str(int(time.time()))
            stale = cluster.data_dir / "postmaster.pid"
            stale.write_text("\n".join(lines) + "\n")
            os.utime(stale, (time.time() - 1, time.time() - 1))
            assert cluster.start() is True
            with psycopg.connect(cluster.url(), connect_timeout=5) as conn:
                assert conn.execute("select 1").fetchone() == (1,)
            cluster.stop()
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)


def test_a_copy_killed_right_after_its_first_start_keeps_its_own_password(tmp_path, monkeypatch) -> None:
    """The new password is durable before it is recorded, even with synchronous_commit off:
    a crash right after the first start does not bring back the template's."""
    import signal
    import time

    monkeypatch.setenv("OPS_INITDB_CACHE", str(tmp_path / "cache"))
    first, base = _new_cluster("ops-test-first-start-")
    first.destroy()
    shutil.rmtree(base)
    cluster, base = _new_cluster("ops-test-first-start-copy-")
    try:
        assert "pending_password" in json.loads(cluster.meta_file.read_text())
        cluster.start()
        pid = cluster.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        while cluster.is_running():
            time.sleep(0.02)
        cluster.start()
        with psycopg.connect(cluster.url(), connect_timeout=5) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)


def test_what_a_killed_writer_left_in_the_cache_is_deleted_by_the_next_one(tmp_path, monkeypatch) -> None:
    from ops.pg.initdb_cache import ABANDONED_AFTER, InitdbTemplate

    monkeypatch.setenv("OPS_INITDB_CACHE", str(tmp_path / "cache"))
    pristine = InitdbTemplate.for_bindir(find_bindir())
    assert pristine is not None
    abandoned, at_work = (tmp_path / "cache" / name for name in ("old.tmp-0001", "new.tmp-0002"))
    for leftover in (abandoned, at_work):
        (leftover / "data").mkdir(parents=True)
    long_ago = abandoned.stat().st_mtime - ABANDONED_AFTER - 60
    os.utime(abandoned, (long_ago, long_ago))
    data = tmp_path / "data"
    data.mkdir()
    (data / "PG_VERSION").write_text("15\n")
    assert pristine.prepared("state", None).store(data, "secret") is True
    assert not abandoned.exists() and at_work.exists()
