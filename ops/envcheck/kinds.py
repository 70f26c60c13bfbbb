"""Value types of the schema, and recognising secrets by their shape.

``problem(kind, value)`` returns what was expected when the value does not fit,
never the value itself. ``secret_shape(value)`` names the kind of secret a value
looks like, so a secret under a client-exposed name is caught whatever the name.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from urllib.parse import urlsplit

KINDS = (
    "string",
    "url",
    "postgres_url",
    "int",
    "bool",
    "enum",
    "jwt",
    "supabase_anon_key",
    "supabase_service_role_key",
    "supabase_publishable_key",
    "supabase_secret_key",
    "stripe_secret_key",
    "stripe_publishable_key",
    "stripe_webhook_secret",
    "sentry_dsn",
    "posthog_key",
    "resend_key",
    "hex32",
    "hex64",
)

_JWT = re.compile(r"^eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
_STRIPE_SECRET = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9]{8,}$")
_STRIPE_PUBLISHABLE = re.compile(r"^pk_(test|live)_[A-Za-z0-9]{8,}$")
_STRIPE_WEBHOOK = re.compile(r"^whsec_[A-Za-z0-9+/=]{8,}$")
_STRIPE_LIVE = re.compile(r"^(sk|rk|pk)_live_")
_SUPABASE_PUBLISHABLE = re.compile(r"^sb_publishable_[A-Za-z0-9_-]{8,}$")
_SUPABASE_SECRET = re.compile(r"^sb_secret_[A-Za-z0-9_-]{8,}$")
_POSTHOG = re.compile(r"^phc_[A-Za-z0-9]{8,}$")
_RESEND = re.compile(r"^re_[A-Za-z0-9_]{8,}$")
_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_INT = re.compile(r"^[+-]?[0-9]+$")
_BOOLS = {"true", "false", "1", "0", "yes", "no", "on", "off"}
_PEM_PRIVATE = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")


def jwt_claims(value: str) -> dict[str, object] | None:
    """The claims of a JWT-shaped value (signature not checked), else None."""
    if not _JWT.match(value):
        return None
    payload = value.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return claims if isinstance(claims, dict) else None


def _url(value: str, schemes: tuple[str, ...]) -> bool:
    if any(char.isspace() for char in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    return parts.scheme in schemes and bool(parts.hostname)


def _supabase_key(value: str, role: str, new_prefix: str) -> bool:
    if value.startswith(new_prefix):
        return len(value) > len(new_prefix) + 8
    claims = jwt_claims(value)
    return claims is not None and claims.get("role") == role


def _sentry_dsn(value: str) -> bool:
    if not _url(value, ("https", "http")):
        return False
    parts = urlsplit(value)
    return bool(parts.username) and parts.path.strip("/").isdigit()


# kind -> (accepts, what was expected)
_RULES: dict[str, tuple[Callable[[str], bool], str]] = {
    "string": (lambda v: True, "a string"),
    "url": (lambda v: _url(v, ("http", "https")), "an http(s) URL"),
    "postgres_url": (
        lambda v: _url(v, ("postgres", "postgresql")),
        "a postgresql:// URL with a host",
    ),
    "int": (lambda v: bool(_INT.match(v)), "an integer"),
    "bool": (lambda v: v.lower() in _BOOLS, "a boolean (true/false/1/0/yes/no/on/off)"),
    "jwt": (lambda v: jwt_claims(v) is not None, "a JWT (header.payload.signature)"),
    "supabase_anon_key": (
        lambda v: _supabase_key(v, "anon", "sb_publishable_"),
        "a Supabase anon key (JWT with role anon, or sb_publishable_…)",
    ),
    "supabase_service_role_key": (
        lambda v: _supabase_key(v, "service_role", "sb_secret_"),
        "a Supabase service role key (JWT with role service_role, or sb_secret_…)",
    ),
    "supabase_publishable_key": (
        lambda v: bool(_SUPABASE_PUBLISHABLE.match(v)),
        "a Supabase publishable key (sb_publishable_…)",
    ),
    "supabase_secret_key": (lambda v: bool(_SUPABASE_SECRET.match(v)), "a Supabase secret key (sb_secret_…)"),
    "stripe_secret_key": (lambda v: bool(_STRIPE_SECRET.match(v)), "a Stripe secret key (sk_test_…/rk_test_…)"),
    "stripe_publishable_key": (lambda v: bool(_STRIPE_PUBLISHABLE.match(v)), "a Stripe publishable key (pk_test_…)"),
    "stripe_webhook_secret": (lambda v: bool(_STRIPE_WEBHOOK.match(v)), "a Stripe webhook secret (whsec_…)"),
    "sentry_dsn": (_sentry_dsn, "a Sentry DSN (https://KEY@HOST/PROJECT_ID)"),
    "posthog_key": (lambda v: bool(_POSTHOG.match(v)), "a PostHog project key (phc_…)"),
    "resend_key": (lambda v: bool(_RESEND.match(v)), "a Resend API key (re_…)"),
    "hex32": (lambda v: bool(_HEX32.match(v)), "32 hexadecimal characters"),
    "hex64": (lambda v: bool(_HEX64.match(v)), "64 hexadecimal characters"),
}


def problem(kind: str, value: str, choices: tuple[str, ...] = ()) -> str | None:
    """What was expected, when ``value`` is not a valid ``kind``; None when it is."""
    if kind == "enum":
        return None if value in choices else f"one of: {', '.join(choices)}"
    accepts, expected = _RULES[kind]
    return None if accepts(value) else expected


def is_live_stripe_key(value: str) -> bool:
    return bool(_STRIPE_LIVE.match(value))


def secret_shape(value: str) -> str | None:
    """What kind of secret ``value`` looks like, or None. Judged by the value alone."""
    if _STRIPE_SECRET.match(value):
        return "a Stripe secret key"
    if _STRIPE_WEBHOOK.match(value):
        return "a Stripe webhook secret"
    if _PEM_PRIVATE.search(value):
        return "a PEM private key"
    if value.startswith("sb_secret_"):
        return "a Supabase secret key"
    claims = jwt_claims(value)
    if claims is not None and claims.get("role") == "service_role":
        return "a Supabase service_role JWT"
    return None
