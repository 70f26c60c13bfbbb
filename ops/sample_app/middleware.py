"""One pure-ASGI middleware for what every request shares: its id, the per-IP
rate limit on /api/*, and a JSON access log line."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ops.sample_app.logs import request_id_var
from ops.sample_app.ratelimit import SlidingWindowLimiter, bypass_granted, client_ip
from ops.sample_app.settings import Settings

REQUEST_ID_HEADER = "x-request-id"
BYPASS_HEADER = "x-ratelimit-bypass"
RATE_LIMITED_PREFIX = "/api/"
# An incoming id is echoed only if it is a plain token: it ends up in logs and headers.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")

access_log = logging.getLogger("app.access")
error_log = logging.getLogger("app")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.limiter = SlidingWindowLimiter(settings.rate_limit_per_minute)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = _headers(scope)
        incoming = headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else str(uuid.uuid4())
        token = request_id_var.set(request_id)
        peer = scope["client"][0] if scope.get("client") else None
        client = client_ip(peer, headers.get("x-forwarded-for"), self.settings.trusted_proxies)
        extra_headers = [(b"x-request-id", request_id.encode())]
        status = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                message["headers"] = [*message.get("headers", []), *extra_headers]
            await send(message)

        try:
            rejected = self._rate_limit(scope["path"], client, headers, extra_headers)
            if rejected is not None:
                await _send_json(send_with_headers, 429, rejected[0], rejected[1])
            else:
                await self.app(scope, receive, send_with_headers)
        except Exception:
            # Answered here rather than by Starlette's outer error middleware, so that a 500
            # also carries X-Request-Id and its log line the request id.
            error_log.exception("unhandled error")
            if response_started:
                raise
            await _send_json(send_with_headers, 500, {"error": "internal error", "request_id": request_id}, [])
        finally:
            access_log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "client_ip": client,
                },
            )
            request_id_var.reset(token)

    def _rate_limit(
        self, path: str, client: str, headers: dict[str, str], extra_headers: list[tuple[bytes, bytes]]
    ) -> tuple[dict[str, Any], list[tuple[bytes, bytes]]] | None:
        """None when the request may go on; else the 429 body and headers."""
        limit = self.settings.rate_limit_per_minute
        if not limit or not path.startswith(RATE_LIMITED_PREFIX):
            return None
        if bypass_granted(headers.get(BYPASS_HEADER), self.settings.rate_limit_bypass_token):
            return None
        decision = self.limiter.hit(client)
        extra_headers += [
            (b"x-ratelimit-limit", str(decision.limit).encode()),
            (b"x-ratelimit-remaining", str(decision.remaining).encode()),
        ]
        if decision.allowed:
            return None
        body = {"error": f"rate limit exceeded: {limit} requests per minute", "retry_after": decision.retry_after}
        return body, [(b"retry-after", str(decision.retry_after).encode())]


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope.get("headers", [])}


async def _send_json(send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]) -> None:
    payload = json.dumps(body).encode()
    response_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": response_headers})
    await send({"type": "http.response.body", "body": payload})
