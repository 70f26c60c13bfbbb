"""PostgreSQL 15, 16 and 17 (issue 16.3): the binaries search and clusters of each major found here."""

from __future__ import annotations

import pytest

from ops.errors import BinaryNotFound, ConfigError
from ops.pg import binaries
from ops.pg.cluster import Cluster
from tests.conftest import FAST_SETTINGS, reachable_tempdir


def _majors_with_server() -> set[int]:
    return {inst.major for inst in binaries.installations() if inst.has_server}


def test_installations_are_found_with_their_major_versions() -> None:
    found = binaries.installations()
    assert found, "no PostgreSQL installation found"
    assert [inst.major for inst in found] == sorted((inst.major for inst in found), reverse=True)
    for inst in found:
        assert inst.major in range(10, 30)
        assert inst.program("pg_dump") or inst.has_server


def test_the_default_is_the_newest_installation_with_the_contrib_extensions() -> None:
    complete = [inst for inst in binaries.installations() if inst.has_server and inst.has_contrib]
    if not complete:
        pytest.skip("no installation with the contrib extensions")
    assert binaries.find_bindir() == complete[0].bindir


def test_an_unsupported_major_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="PostgreSQL 14 is not one Supabase runs"):
        binaries.find_bindir(version=14)


def test_a_missing_major_says_what_to_install() -> None:
    missing = next((v for v in binaries.SUPPORTED_MAJORS if v not in _majors_with_server()), None)
    if missing is None:
        pytest.skip("every supported major is installed")
    with pytest.raises(BinaryNotFound) as info:
        binaries.find_bindir(version=missing)
    line = info.value.one_line()
    assert line.startswith(f"error: PostgreSQL {missing} server not found (installed: ")
    assert f"apt-get install postgresql-{missing}" in line and f"brew install postgresql@{missing}" in line


def test_client_binaries_of_a_major_or_newer() -> None:
    majors = sorted({inst.major for inst in binaries.installations() if inst.program("pg_dump")})
    lowest = majors[0]
    # The closest version that is new enough.
    assert binaries.client_bin("pg_dump", lowest).endswith("/pg_dump")
    chosen = binaries.client_bin("pg_dump", lowest)
    assert any(str(inst.bindir / "pg_dump") == chosen and inst.major == lowest for inst in binaries.installations())
    with pytest.raises(BinaryNotFound) as info:
        binaries.client_bin("pg_restore", majors[-1] + 1)
    assert info.value.one_line().startswith(f"error: no pg_restore of PostgreSQL {majors[-1] + 1} or newer (found: ")
    assert f"apt-get install postgresql-client-{majors[-1] + 1}" in info.value.one_line()


def _run_cluster(version: int) -> None:
    if version not in _majors_with_server():
        pytest.skip(f"PostgreSQL {version} is not installed here")
    cluster = Cluster(reachable_tempdir(f"ops-pg{version}-") / "pg", settings=FAST_SETTINGS, version=version)
    try:
        assert cluster.start() is True
        assert cluster.data_major == version
        with cluster.connection() as conn:
            (num,) = conn.execute("select current_setting('server_version_num')::int").fetchone()
            assert num // 10000 == version
        cluster.stop()
        # An existing cluster keeps its major version, and refuses another.
        again = Cluster(cluster.state_dir)
        assert again.server_bindir() == cluster.server_bindir()
        other = next(v for v in binaries.SUPPORTED_MAJORS if v != version)
        with pytest.raises(ConfigError, match=f"created with PostgreSQL {version}, and pg_version asks for {other}"):
            Cluster(cluster.state_dir, version=other).start()
    finally:
        cluster.destroy()


@pytest.mark.integration
def test_a_postgresql_15_cluster() -> None:
    """Debian's postgresql-15."""
    _run_cluster(15)


@pytest.mark.integration
def test_a_postgresql_16_cluster() -> None:
    """The embedded-Postgres wheel (pgserver) carries PostgreSQL 16."""
    _run_cluster(16)


@pytest.mark.integration
def test_a_postgresql_17_cluster() -> None:
    _run_cluster(17)
