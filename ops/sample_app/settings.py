"""Settings from the process environment, checked once at start-up."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

DEFAULT_RATE_LIMIT_PER_MINUTE = 30
DEFAULT_TRUSTED_PROXIES = ("127.0.0.1", "::1")
DEFAULT_DB_POOL_MAX_SIZE = 10
DEFAULT_DB_POOL_TIMEOUT = 5.0
READY_TIMEOUT_SECONDS = 2.0


class SettingsError(ValueError):
    """A missing or malformed environment variable; the message names it and the fix."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    admin_token: str | None = None
    rate_limit_per_minute: int = DEFAULT_RATE_LIMIT_PER_MINUTE
    rate_limit_bypass_token: str | None = None
    trusted_proxies: frozenset[str] = field(default_factory=lambda: frozenset(DEFAULT_TRUSTED_PROXIES))
    db_pool_max_size: int = DEFAULT_DB_POOL_MAX_SIZE
    db_pool_timeout: float = DEFAULT_DB_POOL_TIMEOUT
    ready_timeout: float = READY_TIMEOUT_SECONDS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        database_url = env.get("DATABASE_URL", "").strip()
        if not database_url:
            raise SettingsError("DATABASE_URL is not set (fix: export DATABASE_URL=postgresql://..., see inv dev.env)")
        return cls(
            database_url=database_url,
            admin_token=env.get("ADMIN_TOKEN") or None,
            rate_limit_per_minute=_non_negative_int(env, "RATE_LIMIT_PER_MINUTE", DEFAULT_RATE_LIMIT_PER_MINUTE),
            rate_limit_bypass_token=env.get("RATE_LIMIT_BYPASS_TOKEN") or None,
            trusted_proxies=_addresses(env, "TRUSTED_PROXIES", DEFAULT_TRUSTED_PROXIES),
            db_pool_max_size=max(1, _non_negative_int(env, "DB_POOL_MAX_SIZE", DEFAULT_DB_POOL_MAX_SIZE)),
            db_pool_timeout=_positive_float(env, "DB_POOL_TIMEOUT", DEFAULT_DB_POOL_TIMEOUT),
        )


def _non_negative_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise SettingsError(f"{name} must be a whole number >= 0, got {raw!r} (fix: unset it to use {default})")
    return value


def _positive_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise SettingsError(f"{name} must be a number of seconds > 0, got {raw!r} (fix: unset it to use {default:g})")
    return value


def _addresses(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> frozenset[str]:
    raw = env.get(name)
    if raw is None:
        return frozenset(default)
    parts = [part.strip() for part in raw.split(",") if part.strip()]
    try:
        return frozenset(str(ipaddress.ip_address(part)) for part in parts)
    except ValueError:
        raise SettingsError(f"{name} must be a comma-separated list of IP addresses, got {raw!r}") from None
