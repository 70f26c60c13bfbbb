"""The rules in force: the project's ``[tool.ops.anonymize]`` over the built-in
ones for Supabase's own schemas, and which tables a refresh copies, empties
or leaves alone."""

from __future__ import annotations

from dataclasses import dataclass

from ops.anonymize.settings import AnonymizeSettings, Strategy, parse_strategy

# Keys GoTrue and the OAuth providers write into raw_user_meta_data / identity_data.
_PROFILE_KEYS = (
    "json:{email: email, name: name, full_name: name, first_name: first_name, last_name: last_name,"
    " given_name: first_name, family_name: last_name, nickname: first_name, user_name: name,"
    " preferred_username: name, phone: phone, avatar_url: null, picture: null}"
)
_TOKEN = "fixed:"  # GoTrue's "no token" is the empty string

BUILTIN_RULES: dict[str, str] = {
    "auth.users.email": "email",
    "auth.users.phone": "phone",
    "auth.users.email_change": "email",
    "auth.users.phone_change": "phone",
    "auth.users.raw_user_meta_data": _PROFILE_KEYS,
    "auth.users.encrypted_password": "password",
    "auth.users.confirmation_token": _TOKEN,
    "auth.users.recovery_token": _TOKEN,
    "auth.users.email_change_token_new": _TOKEN,
    "auth.users.email_change_token_current": _TOKEN,
    "auth.users.phone_change_token": _TOKEN,
    "auth.users.reauthentication_token": _TOKEN,
    "auth.identities.identity_data": _PROFILE_KEYS,
    # Bucket names and object paths are the app's own keys.
    "storage.buckets.name": "keep",
    "storage.objects.name": "keep",
    "storage.prefixes.name": "keep",
    "auth.oauth_clients.client_name": "keep",
    "auth.saml_providers.name_id_format": "keep",
}

# Emptied in staging: sign-in state and secrets (never copy a session).
BUILTIN_EMPTY_TABLES = (
    "auth.sessions",
    "auth.refresh_tokens",
    "auth.mfa_factors",
    "auth.mfa_challenges",
    "auth.mfa_amr_claims",
    "auth.one_time_tokens",
    "auth.flow_state",
    "auth.saml_relay_states",
    "auth.audit_log_entries",
)

# Never copied: staging keeps its own rows (its secrets, the services' own migration history).
BUILTIN_SKIP_TABLES = ("auth.schema_migrations", "storage.migrations")

# Platform schemas a refresh never touches (staging keeps its own). ``vault``
# is here: vault.secrets is never copied.
PLATFORM_SCHEMAS = (
    "information_schema",
    "extensions",
    "graphql",
    "graphql_public",
    "realtime",
    "_realtime",
    "pgsodium",
    "pgsodium_masks",
    "vault",
    "net",
    "cron",
    "pgbouncer",
    "supabase_functions",
    "supabase_migrations",
    "_analytics",
    "pgtle",
    "tiger",
    "topology",
)


@dataclass(frozen=True)
class RuleSet:
    rules: dict[tuple[str, str, str], Strategy]
    project_keys: frozenset[tuple[str, str, str]]  # the rules the project wrote (stale ones are reported)
    empty_tables: frozenset[tuple[str, str]]
    skip_tables: frozenset[tuple[str, str]]
    skip_schemas: frozenset[str]

    def skipped(self, schema: str, table: str) -> bool:
        return schema in self.skip_schemas or schema.startswith("pg_") or (schema, table) in self.skip_tables

    def copied(self, schema: str, table: str) -> bool:
        """Rows of this table reach staging (masked)."""
        return not self.skipped(schema, table) and (schema, table) not in self.empty_tables


def rule_set(settings: AnonymizeSettings) -> RuleSet:
    rules: dict[tuple[str, str, str], Strategy] = {}
    if settings.builtin_rules:
        for key, raw in BUILTIN_RULES.items():
            rules[_key3(key)] = parse_strategy(raw)
    project = {_key3(key): strategy for key, strategy in settings.rules.items()}
    rules.update(project)
    empty = set(settings.empty_tables) | (set(BUILTIN_EMPTY_TABLES) if settings.builtin_rules else set())
    skip = set(settings.skip_tables) | (set(BUILTIN_SKIP_TABLES) if settings.builtin_rules else set())
    return RuleSet(
        rules=rules,
        project_keys=frozenset(project),
        empty_tables=frozenset(_key2(name) for name in empty),
        skip_tables=frozenset(_key2(name) for name in skip),
        skip_schemas=frozenset((*PLATFORM_SCHEMAS, "ops_anonymize", *settings.skip_schemas)),
    )


def _key3(key: str) -> tuple[str, str, str]:
    schema, table, column = key.split(".")
    return schema, table, column


def _key2(name: str) -> tuple[str, str]:
    schema, table = name.split(".")
    return schema, table
