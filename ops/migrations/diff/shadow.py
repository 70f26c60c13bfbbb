"""Shadow databases: the migrated TEMPLATE database and the clones the self-check uses.

The migrated state is kept as a TEMPLATE database named after a hash of the
bootstrap and the migration files, so a run does not migrate from scratch.
It is built under a throwaway name and renamed when complete; nothing stays
connected to it, because ``CREATE DATABASE ... TEMPLATE`` refuses a template
that has sessions.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ops.errors import ExternalError
from ops.migrations.diff.engine import connect_to

if TYPE_CHECKING:
    from ops.config import Config
    from ops.pg.cluster import Cluster

SHADOW_PREFIX = "ops_shadow_"


TEMPLATE_PREFIX = "ops_shadow_template_"


# Earlier versions kept a migrated shadow under this prefix; cleaned up like stale templates.
_OLD_CACHE_PREFIX = "ops_shadow_cached_"


Step = Callable[[str], None]


def quiet(_text: str) -> None:
    pass


class Shadows:
    """Shadow databases: clones of one migrated template on one cluster.
    Thread-safe enough for a few worker threads: each call works on its own database."""

    def __init__(self, cluster: Cluster, template: str) -> None:
        self.cluster = cluster
        self.template = template
        self._alive: dict[str, str] = {}  # url -> name

    def new(self) -> str:
        """A new shadow database; its URL."""
        import psycopg

        name = new_shadow_name()
        url = self.cluster.url(name)
        self._alive[url] = name  # before it exists: a Ctrl-C during CREATE still drops it
        try:
            self.cluster.create_database(name, template=self.template)
        except psycopg.Error as exc:
            from ops.pg.connect import error_text

            raise ExternalError(
                f"cannot clone a shadow database from {self.template}: {error_text(exc)}",
                "close the sessions connected to it (pg_stat_activity); a dropped template is rebuilt by the next run",
            ) from None
        return url

    def drop(self, url: str) -> None:
        name = self._alive.pop(url, None)
        if name is not None:
            self.cluster.drop_database(name)

    def drop_all(self) -> None:
        """Drop every shadow, all at once: on PostgreSQL 15 each DROP DATABASE
        waits for a checkpoint, which then also has to sync the files of any
        shadow still alive. Dropped together, they share cheap checkpoints."""
        from concurrent.futures import ThreadPoolExecutor

        urls = list(self._alive)
        if len(urls) <= 1:
            for url in urls:
                self.drop(url)
            return
        with ThreadPoolExecutor(len(urls)) as pool:
            for done in [pool.submit(self.drop, url) for url in urls]:
                done.result()


@contextmanager
def template_session(cluster: Cluster, template: str) -> Iterator[Any]:
    """A session on the template that is gone, server side too, once the block
    is left: the server ends a backend a moment after its client closes, and
    a clone of the template refuses (or waits 100 ms at a time for) one still there."""
    with connect_to(cluster.url(template)) as conn:
        backend = conn.info.backend_pid
        yield conn
    with cluster.connection() as admin:
        for _ in range(1000):  # at most ~5 s; a backend that is closing takes a millisecond or two
            if admin.execute("select 1 from pg_stat_activity where pid = %s", (backend,)).fetchone() is None:
                return
            time.sleep(0.005)


@contextmanager
def shadow_databases(
    cfg: Config, cluster: Cluster, *, step: Step | None = None, cache: bool = True
) -> Iterator[Shadows]:
    """``Shadows`` cloned from the migrated template; every shadow is dropped
    on the way out, whatever happened (errors, Ctrl-C).

    With ``cache`` the template is kept for later runs (``migrated_template``);
    without, it is built under a throwaway name and dropped with the shadows."""
    step = step or quiet
    throwaway: str | None = None
    shadows: Shadows | None = None
    try:
        if cache:
            template = migrated_template(cfg, cluster, step)
        else:
            template = throwaway = new_shadow_name()
            _build(cfg, cluster, throwaway, step)
        shadows = Shadows(cluster, template)
        yield shadows
    finally:
        if shadows is not None:
            shadows.drop_all()
        if throwaway is not None:
            cluster.drop_database(throwaway)


def new_shadow_name() -> str:
    return SHADOW_PREFIX + secrets.token_hex(6)


def _build(cfg: Config, cluster: Cluster, name: str, step: Step) -> None:
    from ops.pg.bootstrap import apply_bootstrap

    step("creating the shadow database")
    cluster.create_database(name)
    with cluster.connection(name) as conn:
        apply_bootstrap(conn)
    step("applying the migrations to the shadow")
    apply_migrations(cfg, cluster.url(name))


def schema_fingerprint(cfg: Config) -> str:
    """A hash of everything the shadow is built from."""
    import hashlib

    from ops.migrations.files import load_migrations
    from ops.pg.bootstrap import bootstrap_sql

    digest = hashlib.sha256(bootstrap_sql().encode())
    for migration in load_migrations(cfg.migrations_dir):
        digest.update(b"\0" + migration.filename.encode() + b"\0" + migration.text.encode())
    return digest.hexdigest()[:16]


def template_name(cfg: Config) -> str:
    return TEMPLATE_PREFIX + schema_fingerprint(cfg)


def migrated_template(cfg: Config, cluster: Cluster, step: Step | None = None) -> str:
    """The name of the TEMPLATE database holding the bootstrap and every
    migration, built when missing. It is built under a throwaway name (dropped
    on failure or Ctrl-C) and renamed when complete, so no run ever clones half
    of it; templates of older files are dropped. Nothing stays connected to it:
    ``CREATE DATABASE ... TEMPLATE`` refuses a template that has sessions."""
    import psycopg
    from psycopg import sql

    step = step or quiet
    cached = template_name(cfg)
    if cluster.database_exists(cached):
        return cached
    building = new_shadow_name()
    try:
        _build(cfg, cluster, building, step)
        with cluster.connection() as conn:
            try:
                conn.execute(
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(building), sql.Identifier(cached))
                )
            except psycopg.errors.DuplicateDatabase:
                pass  # a concurrent run built the same template first; ours is dropped below
            else:
                conn.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE true").format(sql.Identifier(cached)))
    finally:
        cluster.drop_database(building)  # a no-op once renamed
    drop_stale_templates(cluster, keep=cached)
    return cached


def drop_stale_templates(cluster: Cluster, keep: str | None = None) -> list[str]:
    """Drop the migrated templates other than ``keep``; returns their names."""
    import psycopg
    from psycopg import sql

    patterns = [prefix.replace("_", r"\_") + "%" for prefix in (TEMPLATE_PREFIX, _OLD_CACHE_PREFIX)]
    with cluster.connection() as conn:
        stale = [
            row[0]
            for row in conn.execute(
                "select datname from pg_database where datname like any(%s) and datname is distinct from %s",
                (patterns, keep),
            ).fetchall()
        ]
        dropped = []
        for name in stale:
            try:
                # A template cannot be dropped; this one waits for a concurrent clone of it to finish.
                conn.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(sql.Identifier(name)))
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
            except psycopg.Error:  # in use right now (a run of older files): a later run drops it
                continue
            dropped.append(name)
    return dropped


def apply_migrations(cfg: Config, url: str) -> None:
    """Every migration in ``cfg.migrations_dir``, through the migration runner."""
    from ops.migrations import migrate

    migrate(cfg, url, include_all=True)
