"""The sample app against real parts: uvicorn on a loopback port, a real Supabase-shaped
database with supabase/migrations and supabase/seed.sql applied, real HTTP with httpx."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from ops.pg.bootstrap import apply_bootstrap
from ops.pg.cluster import Cluster, free_port
from ops.sample_app.ratelimit import SlidingWindowLimiter, client_ip
from ops.sample_app.routes import parse_basket

REPO = Path(__file__).resolve().parents[1]
MIGRATIONS = REPO / "supabase" / "migrations"
SEED = REPO / "supabase" / "seed.sql"
ALICE = "00000000-0000-0000-0000-000000000001"
BOB = "00000000-0000-0000-0000-000000000002"
ADMIN_TOKEN = "admin-token-for-tests"
BYPASS_TOKEN = "bypass-token-for-tests"
PRODUCT_KEYS = {"id", "slug", "name", "price_cents", "stock"}
STARTUP_DEADLINE_SECONDS = 30
UVICORN = (sys.executable, "-m", "uvicorn", "ops.sample_app.main:app", "--host", "127.0.0.1", "--no-access-log")


def apply_schema(conn: psycopg.Connection[Any]) -> None:
    """Each migration file in order, then the seed: what the migration runner does, minus history."""
    for path in sorted(MIGRATIONS.glob("*.sql")):
        conn.execute(path.read_text())  # type: ignore[arg-type]
    conn.execute(SEED.read_text())  # type: ignore[arg-type]


def as_user(conn: psycopg.Connection[Any], role: str, user_id: str | None = None) -> None:
    """Impersonate a request the way PostgREST does (call inside a transaction)."""
    claims = {"role": role, **({"sub": user_id} if user_id else {})}
    conn.execute(
        "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)", (role, json.dumps(claims))
    )


# -- the running app --------------------------------------------------------------


@dataclass
class RunningApp:
    url: str
    log_file: Path
    process: subprocess.Popen[bytes]

    def log_records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.log_file.read_text().splitlines() if line.strip()]

    def records_for(self, request_id: str) -> list[dict[str, Any]]:
        """The log records of one request, once its access line is written (after the response)."""
        deadline = time.monotonic() + 10
        while True:
            records = [record for record in self.log_records() if record.get("request_id") == request_id]
            if any(record["logger"] == "app.access" for record in records) or time.monotonic() > deadline:
                return records
            time.sleep(0.02)


def start_app(database_url: str, log_file: Path, **extra_env: str) -> RunningApp:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "ADMIN_TOKEN": ADMIN_TOKEN,
        "RATE_LIMIT_BYPASS_TOKEN": BYPASS_TOKEN,
        **extra_env,
    }
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            [*UVICORN, "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    app = RunningApp(f"http://127.0.0.1:{port}", log_file, process)
    deadline = time.monotonic() + STARTUP_DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"app exited with {process.returncode}:\n{log_file.read_text()}")
        try:
            if httpx.get(f"{app.url}/healthz", timeout=1).status_code == 200:
                return app
        except httpx.TransportError:
            time.sleep(0.05)
    stop_app(app)
    pytest.fail(f"app did not answer /healthz:\n{log_file.read_text()}")


def stop_app(app: RunningApp) -> None:
    app.process.terminate()
    try:
        app.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        app.process.kill()
        app.process.wait()


@pytest.fixture(scope="module")
def app_db(pg_cluster: Cluster, template_db: str) -> Iterator[str]:
    """A database with the app's schema and seed, shared by the HTTP tests of this module."""
    name = f"app_{uuid.uuid4().hex[:10]}"
    pg_cluster.create_database(name, template=template_db)
    with pg_cluster.connection(name) as conn:
        apply_schema(conn)
    try:
        yield name
    finally:
        pg_cluster.drop_database(name)


@pytest.fixture(scope="module")
def running_app(pg_cluster: Cluster, app_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    app = start_app(pg_cluster.url(app_db), tmp_path_factory.mktemp("app") / "app.log")
    try:
        yield app
    finally:
        stop_app(app)


_client_numbers = itertools.count(1)


@pytest.fixture
def client(running_app: RunningApp) -> Iterator[httpx.Client]:
    """A client with its own address (X-Forwarded-For from a loopback proxy, as Caddy sends it),
    so each test has its own rate-limit budget."""
    address = f"198.51.100.{next(_client_numbers)}"
    with httpx.Client(base_url=running_app.url, headers={"X-Forwarded-For": address}, timeout=10) as http:
        yield http


@pytest.fixture
def db(pg_cluster: Cluster, app_db: str) -> Iterator[psycopg.Connection[Any]]:
    with pg_cluster.connection(app_db) as conn:
        yield conn


# -- schema, seed and RLS, straight in the database --------------------------------


def test_migrations_and_seed_apply_on_the_supabase_shaped_bootstrap(database: Any) -> None:
    with database.connect() as conn:
        apply_schema(conn)
        rls = dict(
            conn.execute(
                "select relname, relrowsecurity from pg_class where relnamespace = 'public'::regnamespace"
                " and relname in ('products', 'orders', 'order_items')"
            ).fetchall()
        )
        assert rls == {"products": True, "orders": True, "order_items": True}
        policies = conn.execute("select tablename, cmd from pg_policies where schemaname = 'public' order by 1, 2")
        assert policies.fetchall() == [
            ("order_items", "INSERT"),
            ("order_items", "SELECT"),
            ("orders", "INSERT"),
            ("orders", "SELECT"),
            ("products", "SELECT"),
        ]
        counts = "select (select count(*) from public.products), (select count(*) from public.orders)"
        before = conn.execute(counts).fetchone()
        assert before is not None and before[0] >= 20
        users = conn.execute("select id::text, email from auth.users order by id").fetchall()
        assert users == [(ALICE, "alice@example.com"), (BOB, "bob@example.com")]
        per_user = conn.execute("select user_id::text, count(*) from public.orders group by 1 order by 1").fetchall()
        assert per_user == [(ALICE, 2), (BOB, 2)]
        mismatched = conn.execute(
            "select o.id from public.orders o join public.order_items i on i.order_id = o.id"
            " group by o.id having o.total_cents <> sum(i.quantity * i.unit_price_cents)"
        ).fetchall()
        assert mismatched == []
        # Seeding again (db.seed --force) adds nothing.
        conn.execute(SEED.read_text())  # type: ignore[arg-type]
        assert conn.execute(counts).fetchone() == before


def test_rls_lets_a_user_see_and_create_only_their_own_orders(db: psycopg.Connection[Any]) -> None:
    with db.transaction(force_rollback=True):
        as_user(db, "authenticated", ALICE)
        owners = db.execute("select distinct user_id::text from public.orders").fetchall()
        assert owners == [(ALICE,)]
        line_owners = db.execute(
            "select distinct o.user_id::text from public.order_items i join public.orders o on o.id = i.order_id"
        ).fetchall()
        assert line_owners == [(ALICE,)]
        assert db.execute("select count(*) from public.orders where user_id = %s", (BOB,)).fetchone() == (0,)
        assert db.execute("select count(*) from public.products").fetchone()[0] >= 20  # type: ignore[index]
    with db.transaction(force_rollback=True):
        as_user(db, "authenticated", ALICE)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            db.execute("insert into public.orders (user_id) values (%s)", (BOB,))
    with db.transaction(force_rollback=True):
        as_user(db, "anon")
        assert db.execute("select count(*) from public.orders").fetchone() == (0,)
        assert db.execute("select count(*) from public.products").fetchone()[0] >= 20  # type: ignore[index]


# -- HTTP: every route ---------------------------------------------------------------


def test_healthz(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_reports_the_database_check(client: httpx.Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database"}
    assert body["checks"]["database"]["status"] == "ok"
    assert isinstance(body["checks"]["database"]["latency_ms"], float)


def test_products_lists_the_catalog_from_the_database(client: httpx.Client, db: psycopg.Connection[Any]) -> None:
    response = client.get("/api/products")
    assert response.status_code == 200
    body = response.json()
    expected = db.execute("select count(*) from public.products").fetchone()
    assert body["count"] == len(body["products"]) == expected[0]  # type: ignore[index]
    assert all(set(product) == PRODUCT_KEYS for product in body["products"])
    first = body["products"][0]
    assert (first["id"], first["slug"], first["price_cents"]) == (1, "air-runner-classic", 11999)


def test_product_by_id_and_not_found(client: httpx.Client) -> None:
    response = client.get("/api/products/2")
    assert response.status_code == 200
    assert response.json()["slug"] == "court-legend-low"
    assert set(response.json()) >= PRODUCT_KEYS
    missing = client.get("/api/products/999999")
    assert (missing.status_code, missing.json()) == (404, {"error": "product 999999 not found"})
    assert client.get("/api/products/abc").status_code == 404
    assert client.get(f"/api/products/{2**70}").status_code == 404
    unknown_route = client.get("/nope")
    assert (unknown_route.status_code, unknown_route.json()) == (404, {"error": "Not Found"})


def test_checkout_prices_from_the_database_takes_stock_and_belongs_to_the_user(
    client: httpx.Client, db: psycopg.Connection[Any]
) -> None:
    stock_before = dict(db.execute("select id, stock from public.products where id in (3, 4)").fetchall())
    basket = {"items": [{"product_id": 3, "quantity": 2}, {"product_id": 4, "quantity": 1}]}
    response = client.post("/api/checkout", json=basket, headers={"X-User-Id": BOB})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"order_id", "total_cents"}
    assert body["total_cents"] == 2 * 10999 + 15999
    order = db.execute(
        "select user_id::text, total_cents, status from public.orders where id = %s", (body["order_id"],)
    )
    assert order.fetchone() == (BOB, 2 * 10999 + 15999, "pending")
    lines = db.execute(
        "select product_id, quantity, unit_price_cents from public.order_items where order_id = %s order by 1",
        (body["order_id"],),
    )
    assert lines.fetchall() == [(3, 2, 10999), (4, 1, 15999)]
    stock_after = dict(db.execute("select id, stock from public.products where id in (3, 4)").fetchall())
    assert stock_after == {3: stock_before[3] - 2, 4: stock_before[4] - 1}


def test_checkout_adds_up_repeated_products(client: httpx.Client) -> None:
    basket = {"items": [{"product_id": 5, "quantity": 1}, {"product_id": 5, "quantity": 2}]}
    response = client.post("/api/checkout", json=basket, headers={"X-User-Id": ALICE})
    assert (response.status_code, response.json()["total_cents"]) == (201, 3 * 5999)


@pytest.mark.parametrize(
    ("headers", "body", "status", "message"),
    [
        ({}, {"items": [{"product_id": 1, "quantity": 1}]}, 401, "missing X-User-Id header"),
        ({"X-User-Id": "alice"}, {"items": [{"product_id": 1, "quantity": 1}]}, 401, "X-User-Id must be a UUID"),
        (
            {"X-User-Id": str(uuid.UUID(int=99))},
            {"items": [{"product_id": 1, "quantity": 1}]},
            401,
            "X-User-Id does not name a known user",
        ),
        ({"X-User-Id": ALICE}, "not json", 400, "body must be JSON"),
        (
            {"X-User-Id": ALICE},
            {"items": []},
            400,
            'body must be {"items": [{"product_id": <id>, "quantity": <n>}, ...]} with at least one item',
        ),
        ({"X-User-Id": ALICE}, {"items": [{"product_id": 1, "quantity": 0}]}, 400, None),
        ({"X-User-Id": ALICE}, {"items": [{"product_id": "1", "quantity": 1}]}, 400, None),
        ({"X-User-Id": ALICE}, {"items": [{"product_id": 1, "quantity": 1}, 7]}, 400, "items[1] must be an object"),
        ({"X-User-Id": ALICE}, {"items": [{"product_id": 999999, "quantity": 1}]}, 400, "unknown product 999999"),
        ({"X-User-Id": ALICE}, {"items": [{"product_id": 1, "quantity": 1000}]}, 409, "not enough stock for product 1"),
    ],
    ids=[
        "no-user",
        "bad-user",
        "unknown-user",
        "not-json",
        "no-items",
        "zero",
        "string-id",
        "not-object",
        "unknown",
        "stock",
    ],
)
def test_checkout_rejections_change_nothing(
    client: httpx.Client,
    db: psycopg.Connection[Any],
    headers: dict[str, str],
    body: Any,
    status: int,
    message: str | None,
) -> None:
    # Product 1 holds less than 1000, so the last case runs out of stock.
    db.execute("update public.products set stock = 5 where id = 1")
    state = "select (select count(*) from public.orders), (select stock from public.products where id = 1)"
    before = db.execute(state).fetchone()
    if isinstance(body, str):
        response = client.post("/api/checkout", content=body, headers=headers)
    else:
        response = client.post("/api/checkout", json=body, headers=headers)
    assert response.status_code == status
    if message is not None:
        assert response.json() == {"error": message}
    assert db.execute(state).fetchone() == before


def test_admin_orders_needs_the_token_and_sees_every_user(client: httpx.Client) -> None:
    assert client.get("/api/admin/orders").status_code == 401
    wrong = client.get("/api/admin/orders", headers={"Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.json()) == (401, {"error": "admin token required"})
    response = client.get("/api/admin/orders", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == len(body["orders"]) >= 4
    assert {ALICE, BOB} <= {order["user_id"] for order in body["orders"]}
    seeded = next(order for order in body["orders"] if order["id"] == "10000000-0000-0000-0000-000000000001")
    assert seeded["items"] == [
        {"product_id": 1, "quantity": 1, "unit_price_cents": 11999},
        {"product_id": 5, "quantity": 2, "unit_price_cents": 5999},
    ]
    assert seeded["total_cents"] == 11999 + 2 * 5999
    limited = client.get("/api/admin/orders?limit=1", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert limited.json()["count"] == 1


def test_request_id_is_echoed_or_generated_and_logged(client: httpx.Client, running_app: RunningApp) -> None:
    echoed = client.get("/api/products/1", headers={"X-Request-Id": "req-abc.123"})
    assert echoed.headers["X-Request-Id"] == "req-abc.123"
    generated = client.get("/healthz")
    assert uuid.UUID(generated.headers["X-Request-Id"])
    unsafe = client.get("/healthz", headers={"X-Request-Id": "bad id\twith spaces"})
    assert unsafe.headers["X-Request-Id"] != "bad id\twith spaces"
    records = running_app.records_for("req-abc.123")
    assert [(r["msg"], r["method"], r["path"], r["status"]) for r in records] == [
        ("request", "GET", "/api/products/1", 200)
    ]


def test_rate_limit_answers_429_after_30_requests_and_honours_the_bypass(running_app: RunningApp) -> None:
    with httpx.Client(base_url=running_app.url, headers={"X-Forwarded-For": "203.0.113.7"}) as http:
        remaining = [int(http.get("/api/products/1").headers["X-RateLimit-Remaining"]) for _ in range(30)]
        assert remaining == list(range(29, -1, -1))
        limited = http.get("/api/products")
        assert limited.status_code == 429
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.json()["error"] == "rate limit exceeded: 30 requests per minute"
        assert http.get("/api/products", headers={"X-RateLimit-Bypass": BYPASS_TOKEN}).status_code == 200
        assert http.get("/api/products", headers={"X-RateLimit-Bypass": "wrong"}).status_code == 429
        assert http.get("/healthz").status_code == 200  # only /api/* is limited
    other = httpx.get(f"{running_app.url}/api/products/1", headers={"X-Forwarded-For": "203.0.113.8"})
    assert other.status_code == 200


def test_pooled_connections_killed_under_the_app_are_replaced(
    client: httpx.Client, db: psycopg.Connection[Any]
) -> None:
    """As after a Postgres restart: the next requests succeed on fresh connections."""
    assert client.get("/api/products/1").status_code == 200
    killed = db.execute(
        "select count(*) from (select pg_terminate_backend(pid) from pg_stat_activity"
        " where application_name = 'sample-app' and datname = current_database()) as terminated"
    ).fetchone()
    assert killed is not None and killed[0] >= 1
    assert [client.get("/api/products/1").status_code for _ in range(3)] == [200, 200, 200]
    assert client.get("/readyz").status_code == 200


def test_an_unexpected_error_is_a_json_500_with_the_request_id(
    client: httpx.Client, db: psycopg.Connection[Any], running_app: RunningApp
) -> None:
    db.execute("alter table public.products rename to products_gone")  # a schema the app does not expect
    try:
        response = client.get("/api/products", headers={"X-Request-Id": "req-broken-schema"})
    finally:
        db.execute("alter table public.products_gone rename to products")
    assert response.status_code == 500
    assert response.json() == {"error": "internal error", "request_id": "req-broken-schema"}
    assert response.headers["X-Request-Id"] == "req-broken-schema"
    records = running_app.records_for("req-broken-schema")
    assert [(r["level"], r["msg"]) for r in records] == [("error", "unhandled error"), ("info", "request")]
    assert 'relation "public.products" does not exist' in records[0]["exc"]
    assert records[1]["status"] == 500


# -- failure paths with their own app process ----------------------------------------


@pytest.mark.integration
def test_readyz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    password = "pw-that-must-not-leak"
    closed = f"postgresql://postgres:{password}@127.0.0.1:{free_port()}/postgres"
    app = start_app(closed, tmp_path / "app.log", DB_POOL_TIMEOUT="0.5")
    try:
        response = httpx.get(f"{app.url}/readyz", timeout=10)
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "fail"
        assert body["checks"]["database"]["status"] == "fail"
        assert "Connection refused" in body["checks"]["database"]["error"]
        assert httpx.get(f"{app.url}/healthz").status_code == 200
        products = httpx.get(f"{app.url}/api/products", timeout=15)
        assert (products.status_code, products.json()) == (503, {"error": "database unavailable"})
    finally:
        stop_app(app)
    assert password not in response.text
    assert password not in app.log_file.read_text()


@pytest.mark.integration
def test_the_app_recovers_when_postgres_comes_back(tmp_path: Path) -> None:
    """Started while Postgres is down, then Postgres killed and restarted under it, as
    dev.up does after a crash: readiness follows the database with no app restart."""
    state = Path(tempfile.mkdtemp(prefix="ops-test-app-pg-"))
    state.chmod(0o755)  # the unprivileged server account must enter it when we are root
    cluster = Cluster(state / "pg", settings={"fsync": "off"})
    app: RunningApp | None = None
    try:
        cluster.init()
        cluster.start()
        cluster.create_database("shop")
        with cluster.connection("shop") as conn:
            apply_bootstrap(conn)
            apply_schema(conn)
        cluster.stop("immediate")
        app = start_app(cluster.url("shop"), tmp_path / "app.log", DB_POOL_TIMEOUT="0.5")
        readiness = [httpx.get(f"{app.url}/readyz", timeout=10).status_code]
        cluster.start()
        readiness.append(httpx.get(f"{app.url}/readyz", timeout=10).status_code)
        assert httpx.get(f"{app.url}/api/products/1").status_code == 200
        cluster.stop("immediate")
        readiness.append(httpx.get(f"{app.url}/readyz", timeout=10).status_code)
        assert httpx.get(f"{app.url}/api/products/1", timeout=10).status_code == 503
        cluster.start()
        readiness.append(httpx.get(f"{app.url}/readyz", timeout=10).status_code)
        assert readiness == [503, 200, 503, 200]
        assert httpx.get(f"{app.url}/api/products/1").status_code == 200
    finally:
        if app is not None:
            stop_app(app)
        cluster.destroy()
        shutil.rmtree(state, ignore_errors=True)


def test_app_refuses_to_start_without_database_url() -> None:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    result = subprocess.run(
        [sys.executable, "-c", "import ops.sample_app.main"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    record = json.loads(result.stdout.strip())
    assert record["level"] == "error"
    assert record["msg"] == "DATABASE_URL is not set (fix: export DATABASE_URL=postgresql://..., see inv dev.env)"
    assert "Traceback" not in result.stderr


# -- pure parts ----------------------------------------------------------------------


def test_sliding_window_frees_a_slot_when_the_oldest_request_leaves_the_window() -> None:
    now = [1000.0]
    limiter = SlidingWindowLimiter(limit=3, window=60, clock=lambda: now[0])
    assert [limiter.hit("a").allowed for _ in range(3)] == [True, True, True]
    now[0] += 20
    refused = limiter.hit("a")
    assert (refused.allowed, refused.retry_after) == (False, 40)
    assert limiter.hit("b").allowed
    now[0] += 40
    assert limiter.hit("a").allowed


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("127.0.0.1", "198.51.100.4", "198.51.100.4"),
        ("127.0.0.1", "6.6.6.6, 198.51.100.4", "198.51.100.4"),  # the left part is the client's own claim
        ("127.0.0.1", "198.51.100.4, 127.0.0.1", "198.51.100.4"),
        ("::1", "2001:db8::1", "2001:db8::1"),
        ("192.0.2.10", "198.51.100.4", "192.0.2.10"),  # untrusted peer: header ignored
        ("127.0.0.1", "garbage", "127.0.0.1"),
        ("127.0.0.1", None, "127.0.0.1"),
    ],
)
def test_client_ip_trusts_forwarded_for_only_from_a_loopback_proxy(
    peer: str, forwarded: str | None, expected: str
) -> None:
    assert client_ip(peer, forwarded, {"127.0.0.1", "::1"}) == expected


def test_parse_basket_merges_repeated_products_and_caps_quantities() -> None:
    lines = [{"product_id": 2, "quantity": 1}, {"product_id": 2, "quantity": 3}]
    assert parse_basket({"items": lines}) == {2: 4}
    assert parse_basket({"items": [{"product_id": 2, "quantity": True}]}) == (
        "items[0].quantity must be an integer from 1 to 1000"
    )
    assert parse_basket({"items": [{"product_id": 2, "quantity": 600}] * 2}) == "at most 1000 of one product per order"
