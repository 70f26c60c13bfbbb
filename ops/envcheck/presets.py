"""The shipped variables, as opt-in presets.

A project turns on what it uses with ``[tool.ops.env] presets = ["supabase",
"stripe"]`` (``ops init`` picks them from ``package.json``). Nothing is pushed into a repo that does not use the
service. Always on, whatever the presets: the database URL variables that
``[tool.ops.environments]`` names, because the toolkit itself reads them.
"""

from __future__ import annotations

from ops.envcheck.schema import HOSTED, PRODUCTION, STAGING, Variable

PRESETS: dict[str, tuple[Variable, ...]] = {
    # Supabase (seed 002 §3.3). The current key names (publishable/secret, sb_publishable_…/sb_secret_…)
    # and the legacy JWT ones (anon/service_role): a project sets either pair.
    "supabase": (
        Variable(
            "NEXT_PUBLIC_SUPABASE_URL",
            "url",
            "Supabase project URL (public)",
            required_in=HOSTED,
            example="http://127.0.0.1:54321",
        ),
        Variable(
            "NEXT_PUBLIC_SUPABASE_PUBLISHABLE_KEY",
            "supabase_publishable_key",
            "Supabase publishable key, sb_publishable_… (public, RLS applies)",
            required_in=HOSTED,
            alternatives=("NEXT_PUBLIC_SUPABASE_ANON_KEY",),
        ),
        Variable(
            "SUPABASE_SECRET_KEY",
            "supabase_secret_key",
            "Supabase secret key, sb_secret_…: bypasses RLS, server only",
            secret=True,
            required_in=HOSTED,
            alternatives=("SUPABASE_SERVICE_ROLE_KEY",),
        ),
        Variable(
            "NEXT_PUBLIC_SUPABASE_ANON_KEY",
            "supabase_anon_key",
            "Legacy Supabase anon key (public JWT); or use the publishable key",
        ),
        Variable(
            "SUPABASE_SERVICE_ROLE_KEY",
            "supabase_service_role_key",
            "Legacy Supabase service role key (JWT): bypasses RLS, server only; or use the secret key",
            secret=True,
        ),
    ),
    # Stripe: local and staging always use test keys (seed 002 §2.1)
    "stripe": (
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
    ),
    "sentry": (Variable("SENTRY_DSN", "sentry_dsn", "Sentry DSN for error reporting", required_in=HOSTED),),
    "upstash": (
        Variable("UPSTASH_REDIS_REST_URL", "url", "Upstash Redis REST URL (rate limiting)", required_in=HOSTED),
        Variable("UPSTASH_REDIS_REST_TOKEN", "string", "Upstash Redis REST token", secret=True, required_in=HOSTED),
    ),
    "posthog": (Variable("NEXT_PUBLIC_POSTHOG_KEY", "posthog_key", "PostHog project key (public)"),),
    "resend": (Variable("RESEND_API_KEY", "resend_key", "Resend API key (transactional email)", secret=True),),
    "r2": (
        Variable("R2_ACCOUNT_ID", "hex32", "Cloudflare R2 account id"),
        Variable("R2_ACCESS_KEY_ID", "hex32", "Cloudflare R2 access key id"),
        Variable("R2_SECRET_ACCESS_KEY", "hex64", "Cloudflare R2 secret access key", secret=True),
        Variable("R2_BUCKET_NAME", "string", "Cloudflare R2 bucket name"),
        Variable("R2_PUBLIC_URL", "url", "Public CDN URL of the R2 bucket"),
    ),
    # A Next.js app's own basics.
    "nextjs": (
        Variable("NEXT_PUBLIC_SITE_URL", "url", "Public base URL of the site", example="https://localhost:8443"),
        Variable(
            "NODE_ENV",
            "enum",
            "Node runtime mode",
            choices=("development", "test", "production"),
            example="development",
        ),
    ),
}

# The database URL variables the toolkit reads, by environment (their names come from config).
DATABASE_URL_DESCRIPTIONS = {
    STAGING: "Staging database URL (migrations from CI)",
    PRODUCTION: "Production database URL (migrations from CI)",
}


def database_url_variables(db_url_envs: dict[str, str | None]) -> tuple[Variable, ...]:
    """The always-on variables: each hosted environment's database URL, required there."""
    variables: list[Variable] = []
    for env in (PRODUCTION, STAGING):
        name = db_url_envs.get(env)
        if name:
            description = DATABASE_URL_DESCRIPTIONS[env]
            variables.append(Variable(name, "postgres_url", description, secret=True, required_in=frozenset({env})))
    return tuple(variables)
