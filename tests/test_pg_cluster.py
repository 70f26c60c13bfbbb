from __future__ import annotations

import os
import pwd

import psycopg
import pytest

from ops.errors import ExternalError
from ops.pg.binaries import find_bindir
from ops.pg.cluster import Cluster, free_port
from tests.conftest import FAST_SETTINGS, reachable_tempdir


def test_bindir_has_server_programs() -> None:
    bindir = find_bindir()
    assert (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file()


def test_explicit_bindir_that_lacks_server_is_one_line_error(tmp_path) -> None:
    from ops.errors import BinaryNotFound

    find_bindir.cache_clear()
    with pytest.raises(BinaryNotFound) as info:
        find_bindir(str(tmp_path))
    assert "initdb" in info.value.message and info.value.hint and "\n" not in info.value.one_line()
    find_bindir.cache_clear()


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
        # The unix socket in the state dir is trusted.
        with psycopg.connect(cluster.socket_conninfo()) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
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
            assert str(port) in info.value.message and "db_port" in (info.value.hint or "")
        finally:
            cluster.destroy()


def test_template_clone_keeps_supabase_search_path(database) -> None:
    with database.connect() as conn:
        path = conn.execute("show search_path").fetchone()[0]
        assert "extensions" in path
        # pgcrypto lives in extensions and resolves unqualified.
        assert len(conn.execute("select gen_random_bytes(8)").fetchone()[0]) == 8
