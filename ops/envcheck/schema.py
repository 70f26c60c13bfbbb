"""The env schema: the single source of truth for a project's variables.

It is the Python counterpart of the seeds' Zod ``src/config/env.ts``. The
shipped variables are declared below; a project adds or overrides variables
in ``[tool.ops.env.variables.NAME]`` and drops shipped ones with
``[tool.ops.env] exclude``. Project declarations are validated with pydantic
(``ops.envcheck.declaration``), imported only when a project declares any:
``env.check`` runs on every commit and pydantic costs ~40 ms to import. The
shipped declarations are checked against the same pydantic model by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ops.envcheck.variable import Variable
from ops.errors import ConfigError

if TYPE_CHECKING:
    from ops.config import Config

LOCAL, STAGING, PRODUCTION = "local", "staging", "production"
# Nothing shipped is required in local: the dev stack (inv dev.up) runs without Supabase or Stripe
# keys, so a fresh clone passes env.check with no .env.local at all. Values set locally are still
# checked (type, live Stripe keys, exposure). A project whose local app needs a key re-declares it
# with required_in = ["local", "staging", "production"] in [tool.ops.env.variables].
HOSTED = frozenset({STAGING, PRODUCTION})
# Defaults for [tool.ops.env]; the table itself is read in ops.envcheck.runner.
SECTION_DEFAULTS: dict[str, Any] = {"example_file": ".env.example", "variables": {}, "exclude": []}


SHIPPED: tuple[Variable, ...] = (
    # Supabase (seed 002 §3.3)
    Variable(
        "NEXT_PUBLIC_SUPABASE_URL",
        "url",
        "Supabase project URL (public)",
        required_in=HOSTED,
        example="http://127.0.0.1:54321",
    ),
    Variable(
        "NEXT_PUBLIC_SUPABASE_ANON_KEY",
        "supabase_anon_key",
        "Supabase anon key (public, RLS applies)",
        required_in=HOSTED,
    ),
    Variable(
        "SUPABASE_SERVICE_ROLE_KEY",
        "supabase_service_role_key",
        "Supabase service role key: bypasses RLS, server only",
        secret=True,
        required_in=HOSTED,
    ),
    Variable(
        "SUPABASE_DB_URL",
        "postgres_url",
        "Production database URL (migrations from CI)",
        secret=True,
        required_in=frozenset({PRODUCTION}),
    ),
    Variable(
        "SUPABASE_STAGING_DB_URL",
        "postgres_url",
        "Staging database URL (migrations from CI)",
        secret=True,
        required_in=frozenset({STAGING}),
    ),
    # Stripe: local and staging always use test keys (seed 002 §2.1)
    Variable(
        "STRIPE_SECRET_KEY",
        "stripe_secret_key",
        "Stripe secret key (sk_test_ outside production)",
        secret=True,
        required_in=HOSTED,
    ),
    Variable(
        "NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY",
        "stripe_publishable_key",
        "Stripe publishable key (public)",
        required_in=HOSTED,
    ),
    Variable(
        "STRIPE_WEBHOOK_SECRET",
        "stripe_webhook_secret",
        "Stripe webhook signing secret",
        secret=True,
        required_in=HOSTED,
    ),
    # Monitoring, rate limiting, analytics, email, storage (seeds 000, 002)
    Variable("SENTRY_DSN", "sentry_dsn", "Sentry DSN for error reporting", required_in=HOSTED),
    Variable("UPSTASH_REDIS_REST_URL", "url", "Upstash Redis REST URL (rate limiting)", required_in=HOSTED),
    Variable("UPSTASH_REDIS_REST_TOKEN", "string", "Upstash Redis REST token", secret=True, required_in=HOSTED),
    Variable("NEXT_PUBLIC_POSTHOG_KEY", "posthog_key", "PostHog project key (public)"),
    Variable("RESEND_API_KEY", "resend_key", "Resend API key (transactional email)", secret=True),
    Variable("R2_ACCOUNT_ID", "hex32", "Cloudflare R2 account id"),
    Variable("R2_ACCESS_KEY_ID", "hex32", "Cloudflare R2 access key id"),
    Variable("R2_SECRET_ACCESS_KEY", "hex64", "Cloudflare R2 secret access key", secret=True),
    Variable("R2_BUCKET_NAME", "string", "Cloudflare R2 bucket name"),
    Variable("R2_PUBLIC_URL", "url", "Public CDN URL of the R2 bucket"),
    # The app itself
    Variable(
        "NEXT_PUBLIC_SITE_URL",
        "url",
        "Public base URL of the site",
        example="https://localhost:8443",
    ),
    Variable(
        "NODE_ENV",
        "enum",
        "Node runtime mode",
        choices=("development", "test", "production"),
        example="development",
    ),
)


@dataclass(frozen=True)
class Schema:
    variables: dict[str, Variable]
    public_prefixes: tuple[str, ...]

    def public_prefix(self, key: str) -> str | None:
        """The client-exposed prefix ``key`` starts with, if any."""
        return next((prefix for prefix in self.public_prefixes if key.startswith(prefix)), None)


def load_schema(cfg: Config) -> Schema:
    """The shipped variables, adjusted by the project's ``[tool.ops.env]``."""
    section = cfg.section("env", SECTION_DEFAULTS)
    exclude = section.get("exclude", [])
    declared = section.get("variables", {})
    if not isinstance(exclude, list) or not all(isinstance(name, str) for name in exclude):
        raise ConfigError("[tool.ops.env] exclude must be a list of variable names", "fix pyproject.toml")
    variables = {variable.name: variable for variable in SHIPPED if variable.name not in exclude}
    if declared:
        from ops.envcheck.declaration import parse_declarations

        variables.update(parse_declarations(declared))
    schema = Schema(variables=variables, public_prefixes=cfg.public_prefixes)
    for variable in schema.variables.values():
        prefix = schema.public_prefix(variable.name)
        if variable.secret and prefix:
            raise ConfigError(
                f"{variable.name} is declared secret but {prefix} exposes it to the browser",
                f"rename it without {prefix} or declare it secret = false in [tool.ops.env.variables]",
            )
    return schema
