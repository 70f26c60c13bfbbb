"""The ASGI app: ``python -m uvicorn ops.sample_app.main:app --host 127.0.0.1 --port PORT --no-access-log``.

Environment: DATABASE_URL (required), ADMIN_TOKEN, RATE_LIMIT_PER_MINUTE (30),
RATE_LIMIT_BYPASS_TOKEN, TRUSTED_PROXIES ("127.0.0.1,::1"), DB_POOL_MAX_SIZE (10),
DB_POOL_TIMEOUT (5 seconds to wait for a free connection before answering 503).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse

from ops.sample_app import db
from ops.sample_app.logs import configure_logging
from ops.sample_app.middleware import RequestContextMiddleware
from ops.sample_app.routes import error, routes
from ops.sample_app.settings import Settings, SettingsError

log = logging.getLogger("app")


def create_app(settings: Settings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # wait=False: start even while the database is down, so /healthz answers and /readyz says why.
        await app.state.pool.open(wait=False)
        log.info("started", extra={"rate_limit_per_minute": settings.rate_limit_per_minute})
        try:
            yield
        finally:
            await app.state.pool.close()

    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestContextMiddleware, settings=settings)],
        exception_handlers={
            HTTPException: http_error,
            db.DatabaseUnavailable: database_unavailable,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.pool = db.create_pool(settings.database_url, settings.db_pool_max_size, settings.db_pool_timeout)
    return app


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return error(exc.status_code, exc.detail, **(exc.headers or {}))


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", exc)
    return error(503, "database unavailable", **{"Retry-After": "1"})


def _app_from_env() -> Starlette:
    configure_logging()
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        log.error(str(exc))
        sys.exit(2)
    return create_app(settings)


app = _app_from_env()
