"""A sliding-window rate limit per client IP, in process (seed 002 §7: 30 requests/min per IP)."""

from __future__ import annotations

import hmac
import ipaddress
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # whole seconds until a slot frees up; 0 when allowed


class SlidingWindowLimiter:
    """Remembers the time of each allowed request per key, at most ``limit`` of them,
    so a key gets exactly ``limit`` requests in any ``window`` seconds."""

    def __init__(self, limit: int, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._next_sweep = clock() + window

    def hit(self, key: str) -> Decision:
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            retry_after = max(1, math.ceil(hits[0] + self.window - now))
            return Decision(False, self.limit, 0, retry_after)
        hits.append(now)
        return Decision(True, self.limit, self.limit - len(hits), 0)

    def _sweep(self, now: float) -> None:
        """Forget clients idle for a whole window, so memory follows active clients only."""
        cutoff = now - self.window
        for key in [key for key, hits in self._hits.items() if not hits or hits[-1] <= cutoff]:
            del self._hits[key]
        self._next_sweep = now + self.window


def client_ip(peer: str | None, forwarded_for: str | None, trusted_proxies: Iterable[str]) -> str:
    """The client's address: from X-Forwarded-For only when the peer is a trusted proxy (Caddy
    on loopback), taking the right-most address that is not itself a trusted proxy, because
    the left part of the header is whatever the client chose to send."""
    trusted = set(trusted_proxies)
    if peer is None:
        return "unknown"
    if not forwarded_for or _normalise(peer) not in trusted:
        return peer
    for candidate in reversed([part.strip() for part in forwarded_for.split(",")]):
        address = _normalise(candidate)
        if address is None:
            break
        if address not in trusted:
            return address
    return peer


def _normalise(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def bypass_granted(presented: str | None, expected: str | None) -> bool:
    if not presented or not expected:
        return False
    return hmac.compare_digest(presented.encode(), expected.encode())
