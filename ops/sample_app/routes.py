"""The HTTP routes. Each parses the request, calls one query in app.db and answers JSON."""

from __future__ import annotations

import hmac
import json
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ops.sample_app import db

MAX_LINES = 50
MAX_QUANTITY = 1000
DEFAULT_ADMIN_LIMIT = 100
MAX_ADMIN_LIMIT = 1000
MAX_BIGINT = 2**63 - 1


def error(status: int, message: str, **headers: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    app_state = request.app.state
    database = await db.ping(app_state.pool, app_state.settings.database_url, app_state.settings.ready_timeout)
    ok = database["status"] == "ok"
    return JSONResponse(
        {"status": "ok" if ok else "fail", "checks": {"database": database}}, status_code=200 if ok else 503
    )


async def products(request: Request) -> JSONResponse:
    rows = await db.list_products(request.app.state.pool)
    return JSONResponse({"products": rows, "count": len(rows)})


async def product(request: Request) -> JSONResponse:
    product_id: int = request.path_params["product_id"]
    row = await db.get_product(request.app.state.pool, product_id) if product_id <= MAX_BIGINT else None
    if row is None:
        return error(404, f"product {product_id} not found")
    return JSONResponse(row)


async def checkout(request: Request) -> JSONResponse:
    raw_user = request.headers.get("x-user-id")
    if not raw_user:
        return error(401, "missing X-User-Id header")
    try:
        user_id = uuid.UUID(raw_user)
    except ValueError:
        return error(401, "X-User-Id must be a UUID")
    try:
        body = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error(400, "body must be JSON")
    items = parse_basket(body)
    if isinstance(items, str):
        return error(400, items)
    try:
        order = await db.checkout(request.app.state.pool, user_id, items)
    except db.CheckoutRejected as rejected:
        return error(rejected.status, rejected.message)
    return JSONResponse(order, status_code=201)


def parse_basket(body: Any) -> dict[int, int] | str:
    """``{product_id: quantity}`` from ``{"items": [{"product_id": 1, "quantity": 2}]}``,
    adding up repeated products; or the reason the body is invalid."""
    lines = body.get("items") if isinstance(body, dict) else None
    if not isinstance(lines, list) or not lines:
        return 'body must be {"items": [{"product_id": <id>, "quantity": <n>}, ...]} with at least one item'
    if len(lines) > MAX_LINES:
        return f"at most {MAX_LINES} items per order"
    basket: dict[int, int] = {}
    for index, line in enumerate(lines):
        if not isinstance(line, dict):
            return f"items[{index}] must be an object"
        product_id = _whole(line.get("product_id"))
        if product_id is None or not 0 < product_id <= MAX_BIGINT:
            return f"items[{index}].product_id must be a positive integer"
        quantity = _whole(line.get("quantity"))
        if quantity is None or not 0 < quantity <= MAX_QUANTITY:
            return f"items[{index}].quantity must be an integer from 1 to {MAX_QUANTITY}"
        basket[product_id] = basket.get(product_id, 0) + quantity
    if any(quantity > MAX_QUANTITY for quantity in basket.values()):
        return f"at most {MAX_QUANTITY} of one product per order"
    return basket


def _whole(value: Any) -> int | None:
    """``value`` if it is a JSON integer (not a bool, a float or a string), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def admin_orders(request: Request) -> JSONResponse:
    expected = request.app.state.settings.admin_token
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    if not expected or scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), expected.encode()):
        return error(401, "admin token required", **{"WWW-Authenticate": "Bearer"})
    raw_limit = request.query_params.get("limit", str(DEFAULT_ADMIN_LIMIT))
    if not raw_limit.isdigit() or not 0 < int(raw_limit) <= MAX_ADMIN_LIMIT:
        return error(400, f"limit must be an integer from 1 to {MAX_ADMIN_LIMIT}")
    rows = await db.admin_orders(request.app.state.pool, int(raw_limit))
    return JSONResponse({"orders": rows, "count": len(rows)})


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/api/products", products, methods=["GET"]),
    Route("/api/products/{product_id:int}", product, methods=["GET"]),
    Route("/api/checkout", checkout, methods=["POST"]),
    Route("/api/admin/orders", admin_orders, methods=["GET"]),
]
