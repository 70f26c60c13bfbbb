"""Database access: a small async connection pool and the queries behind each route.

Reads and writes run under the Supabase roles (``anon``, ``authenticated``,
``service_role``) the way PostgREST does, so the RLS policies in
supabase/migrations are what decides who sees what.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ops.sample_app.logs import redact

CONNECT_TIMEOUT_SECONDS = 2
# Give up on a failing background connect quickly: the next request then starts a fresh
# attempt at once, instead of waiting out an exponential backoff after the DB comes back.
RECONNECT_TIMEOUT_SECONDS = 2.0
PRODUCT_COLUMNS = "id, slug, name, price_cents, stock"


class DatabaseUnavailable(Exception):
    """The database cannot be reached right now (answered as 503)."""


class CheckoutRejected(Exception):
    """The basket cannot be ordered; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def create_pool(database_url: str, max_size: int, wait_timeout: float) -> AsyncConnectionPool:
    return AsyncConnectionPool(
        database_url,
        min_size=1,
        max_size=max_size,
        open=False,
        kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_SECONDS, "application_name": "sample-app"},
        # A restarted Postgres leaves dead connections in the pool; test each one on checkout.
        check=AsyncConnectionPool.check_connection,
        reconnect_timeout=RECONNECT_TIMEOUT_SECONDS,
        timeout=wait_timeout,
        name="app",
    )


async def ping(pool: AsyncConnectionPool, database_url: str, timeout: float) -> dict[str, Any]:
    """The /readyz database check: ``select 1`` within ``timeout`` seconds."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            try:
                async with pool.connection(timeout=timeout / 2) as conn:
                    await conn.execute("select 1")
            except PoolTimeout:
                # The pool only says that it waited; one direct attempt says why (refused, auth, no such DB).
                direct = await psycopg.AsyncConnection.connect(database_url, connect_timeout=CONNECT_TIMEOUT_SECONDS)
                async with direct:
                    await direct.execute("select 1")
    except TimeoutError:
        return {"status": "fail", "error": f"no answer within {timeout:g} s"}
    except Exception as exc:  # any driver or pool failure means "not ready", reported without secrets
        return {"status": "fail", "error": _describe(exc)}
    return {"status": "ok", "latency_ms": round((time.perf_counter() - started) * 1000, 1)}


async def list_products(pool: AsyncConnectionPool) -> list[dict[str, Any]]:
    async with _connection(pool) as conn, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await _act_as(cur, "anon")
        await cur.execute(f"select {PRODUCT_COLUMNS} from public.products order by id")
        return await cur.fetchall()


async def get_product(pool: AsyncConnectionPool, product_id: int) -> dict[str, Any] | None:
    async with _connection(pool) as conn, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await _act_as(cur, "anon")
        await cur.execute(f"select {PRODUCT_COLUMNS}, description from public.products where id = %s", (product_id,))
        return await cur.fetchone()


async def checkout(pool: AsyncConnectionPool, user_id: uuid.UUID, items: dict[int, int]) -> dict[str, Any]:
    """Create an order for ``user_id`` from ``{product_id: quantity}``, priced from the DB.

    Stock is taken as the pool's own role (products have no update policy, by design),
    then the order is written as ``authenticated`` with the user's claims, so RLS checks
    that the order really belongs to that user. One transaction: all or nothing.
    """
    product_ids = sorted(items)
    quantities = [items[product_id] for product_id in product_ids]
    async with _connection(pool) as conn, conn.transaction(), conn.cursor() as cur:
        # Lock in id order so concurrent checkouts of overlapping baskets cannot deadlock.
        await cur.execute(
            "select id, price_cents, stock from public.products where id = any(%s) order by id for update",
            (product_ids,),
        )
        found = {row[0]: (row[1], row[2]) for row in await cur.fetchall()}
        missing = [product_id for product_id in product_ids if product_id not in found]
        if missing:
            raise CheckoutRejected(400, f"unknown product {missing[0]}")
        short = [product_id for product_id in product_ids if found[product_id][1] < items[product_id]]
        if short:
            raise CheckoutRejected(409, f"not enough stock for product {short[0]}")
        await cur.execute(
            "update public.products p set stock = p.stock - line.quantity"
            " from unnest(%s::bigint[], %s::int[]) as line (product_id, quantity) where p.id = line.product_id",
            (product_ids, quantities),
        )
        total_cents = sum(found[product_id][0] * items[product_id] for product_id in product_ids)
        await _act_as(cur, "authenticated", {"sub": str(user_id), "role": "authenticated", "aud": "authenticated"})
        try:
            await cur.execute(
                "insert into public.orders (total_cents) values (%s) returning id", (total_cents,)
            )  # user_id defaults to auth.uid()
        except psycopg.errors.ForeignKeyViolation:
            raise CheckoutRejected(401, "X-User-Id does not name a known user") from None
        row = await cur.fetchone()
        assert row is not None
        order_id = row[0]
        await cur.execute(
            "insert into public.order_items (order_id, product_id, quantity, unit_price_cents)"
            " select %s, line.product_id, line.quantity, line.unit_price_cents"
            " from unnest(%s::bigint[], %s::int[], %s::int[]) as line (product_id, quantity, unit_price_cents)",
            (order_id, product_ids, quantities, [found[product_id][0] for product_id in product_ids]),
        )
    return {"order_id": str(order_id), "total_cents": total_cents}


async def admin_orders(pool: AsyncConnectionPool, limit: int) -> list[dict[str, Any]]:
    """The newest orders of all users, with their lines (as service_role, which bypasses RLS)."""
    async with _connection(pool) as conn, conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await _act_as(cur, "service_role")
        await cur.execute(
            """
            select o.id::text as id, o.user_id::text as user_id, o.status, o.total_cents, o.created_at,
                   coalesce(json_agg(json_build_object('product_id', i.product_id, 'quantity', i.quantity,
                                                       'unit_price_cents', i.unit_price_cents)
                                     order by i.product_id) filter (where i.order_id is not null),
                            '[]') as items
            from public.orders o
            left join public.order_items i on i.order_id = o.id
            group by o.id
            order by o.created_at desc, o.id
            limit %s
            """,
            (limit,),
        )
        rows = await cur.fetchall()
    for row in rows:
        row["created_at"] = row["created_at"].isoformat()
    return rows


async def _act_as(cur: psycopg.AsyncCursor[Any], role: str, claims: dict[str, str] | None = None) -> None:
    """Switch role for the rest of the transaction, as PostgREST does for each request."""
    await cur.execute(
        "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
        (role, json.dumps(claims or {"role": role})),
    )


@asynccontextmanager
async def _connection(pool: AsyncConnectionPool) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """``pool.connection()``, turning "cannot reach the database" into DatabaseUnavailable."""
    try:
        async with pool.connection() as conn:
            yield conn
    except (PoolTimeout, psycopg.OperationalError) as exc:
        raise DatabaseUnavailable(_describe(exc)) from exc


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return redact(first)[:300]
