"""The Supabase-shaped bootstrap applied to every new local database."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

BOOTSTRAP_FILE = Path(__file__).with_name("sql") / "bootstrap.sql"

# The extensions a new hosted Supabase project has enabled, and their schemas
# (the sources are cited in sql/bootstrap.sql). The bootstrap enables those the
# server has; ``missing_defaults`` names the others.
DEFAULT_EXTENSIONS: dict[str, str] = {
    "uuid-ossp": "extensions",
    "pgcrypto": "extensions",
    "pg_stat_statements": "extensions",
    "supabase_vault": "vault",
}


@lru_cache(maxsize=1)
def bootstrap_sql() -> str:
    return BOOTSTRAP_FILE.read_text()


def apply_bootstrap(conn: Any) -> None:
    """Run the bootstrap on an open psycopg connection (autocommit or not).

    Idempotent: safe on a database that already has it. The new search_path
    applies to sessions opened afterwards.
    """
    conn.execute(bootstrap_sql())
    if not conn.autocommit:
        conn.commit()


def is_bootstrapped(conn: Any) -> bool:
    row = conn.execute(
        "select to_regclass('auth.users') is not null and to_regclass('storage.objects') is not null"
    ).fetchone()
    return bool(row and row[0])


def missing_defaults(conn: Any) -> list[str]:
    """Default Supabase extensions this database does not have (its server lacks them)."""
    rows = conn.execute("select extname from pg_extension").fetchall()
    present = {row[0] for row in rows}
    return [name for name in DEFAULT_EXTENSIONS if name not in present]
