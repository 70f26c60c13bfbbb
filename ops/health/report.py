"""What a health check found: one ``EndpointResult`` per endpoint, gathered in a ``HealthReport``.

The report's ``exit_code`` is the verdict (0 healthy, 1 unhealthy, 3 unreachable)
and ``failure()`` the one line that says which endpoint failed and why.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from http import HTTPStatus
from typing import Any

from ops.errors import CheckFailed, ExternalError, OpsError

# What a body's own "status" (or a check's) says when all is well.
HEALTHY_WORDS = frozenset({"ok", "healthy", "pass"})


@dataclass
class EndpointResult:
    """One endpoint's answer (or the lack of one)."""

    path: str
    url: str
    status: int | None = None
    latency_ms: float | None = None
    body: Any = None
    error: str | None = None
    attempts: int = 0

    @property
    def reachable(self) -> bool:
        return self.status is not None

    @property
    def healthy(self) -> bool:
        if self.status is None or not 200 <= self.status < 300:
            return False
        # The body's own verdict wins over a 2xx: {"status": "fail"} is not healthy.
        if isinstance(self.body, dict) and "status" in self.body:
            return self.body["status"] in HEALTHY_WORDS
        return True

    @property
    def checks(self) -> dict[str, Any]:
        """Per-dependency results from a readyz-style body (``{"checks": {...}}``)."""
        if isinstance(self.body, dict) and isinstance(self.body.get("checks"), dict):
            return self.body["checks"]
        return {}


@dataclass
class HealthReport:
    base_url: str
    endpoints: list[EndpointResult] = field(default_factory=list)
    rounds: int = 1
    waited_s: float = 0.0

    @property
    def reachable(self) -> bool:
        return all(endpoint.reachable for endpoint in self.endpoints)

    @property
    def healthy(self) -> bool:
        return all(endpoint.healthy for endpoint in self.endpoints)

    @property
    def verdict(self) -> str:
        if self.healthy:
            return "healthy"
        return "unhealthy" if self.reachable else "unreachable"

    @property
    def exit_code(self) -> int:
        return {"healthy": 0, "unhealthy": CheckFailed.exit_code, "unreachable": ExternalError.exit_code}[self.verdict]

    def failure(self) -> OpsError | None:
        """The first endpoint that is unreachable (exit 3) or unhealthy (exit 1)."""
        if self.verdict == "unreachable":
            failed = next(endpoint for endpoint in self.endpoints if not endpoint.reachable)
            return ExternalError(
                f"{failed.url} is unreachable: {failed.error}",
                "start the app (local: inv dev.up) or check the base URL",
            )
        if self.verdict == "unhealthy":
            failed = next(endpoint for endpoint in self.endpoints if not endpoint.healthy)
            return CheckFailed(
                f"{failed.url} is unhealthy: {describe(failed)}",
                "see the failing check above and the app's logs",
            )
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "status": self.verdict,
            "healthy": self.healthy,
            "rounds": self.rounds,
            "waited_s": round(self.waited_s, 3),
            "endpoints": [
                {**asdict(endpoint), "healthy": endpoint.healthy, "reachable": endpoint.reachable}
                for endpoint in self.endpoints
            ],
        }


def describe(endpoint: EndpointResult) -> str:
    """A short human verdict for one endpoint: ``200 ok``, ``503 database: fail (...)``."""
    if endpoint.status is None:
        return f"unreachable ({endpoint.error})"
    failing = [
        f"{name}: {value.get('status')}" + (f" ({value['error']})" if value.get("error") else "")
        for name, value in endpoint.checks.items()
        if isinstance(value, dict) and value.get("status") not in HEALTHY_WORDS
    ]
    if failing:
        return f"{endpoint.status} " + "; ".join(failing)
    if isinstance(endpoint.body, dict) and "status" in endpoint.body:
        return f"{endpoint.status} {endpoint.body['status']}"
    if endpoint.healthy:
        return f"{endpoint.status} ok"
    try:
        return f"{endpoint.status} {HTTPStatus(endpoint.status).phrase}"
    except ValueError:
        return f"{endpoint.status} unexpected status"
