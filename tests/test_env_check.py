"""env.check and env.example through the real command line, on real temp projects.

Each project is a directory with its own pyproject.toml ([tool.ops]), a git
repository and real .env files; the CLI runs in a subprocess.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ops.config import load
from ops.envcheck import check
from ops.envcheck.declaration import validate_shipped
from ops.envcheck.example import render_example
from ops.envcheck.findings import CODES
from ops.envcheck.kinds import KINDS
from ops.envcheck.presets import PRESETS
from ops.envcheck.settings import load_schema
from ops.errors import ConfigError
from tests.conftest import REPO, CliResult, run_cli


def _jwt(claims: dict[str, str]) -> str:
    def part(data: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJlLXNlY3JldA"


ANON_JWT = _jwt({"iss": "supabase", "role": "anon"})
# Known secret values: none of them may ever appear in any output.
SERVICE_JWT = _jwt({"iss": "supabase", "role": "service_role", "ref": "k3ysecretref"})
LIVE_SECRET = "sk_live_51HhLiveSecretAbCdEfGhIjKl"
LIVE_PUBLISHABLE = "pk_live_51HhLivePublishAbCdEfGh"
TEST_SECRET = "sk_test_51HhTestSecretQwErTyUiOp"
WEBHOOK_SECRET = "whsec_Wh00kS3cretValueAbCdEf"
PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDPemBody"
PEM = f"-----BEGIN PRIVATE KEY-----\\n{PEM_BODY}\\n-----END PRIVATE KEY-----"
DB_PASSWORD = "Pg-Pa55word-9f3kQ"
UPSTASH_TOKEN = "AXupstashT0kenValue9876"
SECRETS = (SERVICE_JWT, LIVE_SECRET, TEST_SECRET, WEBHOOK_SECRET, PEM_BODY, DB_PASSWORD, UPSTASH_TOKEN)

PYPROJECT = """\
[project]
name = "sample-app"
version = "0.0.0"

[tool.ops]
public_prefixes = ["NEXT_PUBLIC_", "VITE_", "PUBLIC_"]

[tool.ops.env]
presets = ["supabase", "stripe", "sentry", "upstash", "posthog", "resend", "r2", "nextjs"]
"""
GITIGNORE = ".env\n.env.local\n.env.*.local\n"
# Nothing shipped is required in local; a project whose local app needs a key declares it so.
REQUIRE_STRIPE_LOCALLY = PYPROJECT + (
    '\n[tool.ops.env.variables.STRIPE_SECRET_KEY]\nkind = "stripe_secret_key"\ndescription = "Stripe secret key"\n'
    'secret = true\nrequired_in = ["local", "staging", "production"]\n'
)
CLEAN_LOCAL = f"""\
NEXT_PUBLIC_SUPABASE_URL=http://127.0.0.1:54321
NEXT_PUBLIC_SUPABASE_ANON_KEY={ANON_JWT}
STRIPE_SECRET_KEY={TEST_SECRET}
NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY=pk_test_51HhPublishableAbCd
NODE_ENV=development
"""
STAGING_ENV = {
    "NEXT_PUBLIC_SUPABASE_URL": "https://abcd.supabase.co",
    "NEXT_PUBLIC_SUPABASE_ANON_KEY": ANON_JWT,
    "SUPABASE_SERVICE_ROLE_KEY": SERVICE_JWT,
    "SUPABASE_STAGING_DB_URL": f"postgresql://postgres:{DB_PASSWORD}@db.abcd.supabase.co:5432/postgres",
    "STRIPE_SECRET_KEY": TEST_SECRET,
    "NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY": "pk_test_51HhPublishableAbCd",
    "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "SENTRY_DSN": "https://abc123@o42.ingest.sentry.io/4242",
    "UPSTASH_REDIS_REST_URL": "https://eu1-sample.upstash.io",
    "UPSTASH_REDIS_REST_TOKEN": UPSTASH_TOKEN,
}
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


class Project:
    """A temp project: pyproject.toml with [tool.ops], .gitignore, git repo, .env.example."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.write("pyproject.toml", PYPROJECT)
        self.write(".gitignore", GITIGNORE)
        self.git("init", "-q")
        self.write(".env.example", render_example(load_schema(load(root))))

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(text, encoding="utf-8")
        return path

    def git(self, *args: str) -> str:
        env = {**os.environ, **GIT_ENV}
        return subprocess.run(["git", *args], cwd=self.root, env=env, check=True, capture_output=True, text=True).stdout

    def run(self, *args: str, env: dict[str, str] | None = None) -> CliResult:
        return run_cli(*args, cwd=self.root, env=env)


@pytest.fixture
def project(tmp_path: Path) -> Project:
    made = Project(tmp_path)
    made.write(".env.local", CLEAN_LOCAL)
    return made


def assert_no_secrets(result: CliResult) -> None:
    for secret in SECRETS:
        assert secret not in result.output, f"secret leaked: {secret[:10]}…"
    assert "Traceback" not in result.output


def lines(result: CliResult) -> list[str]:
    return result.stdout.splitlines()


# --- clean runs and exit code 0 ---


def test_clean_local_project_exits_0(project: Project) -> None:
    result = project.run("env.check")
    assert result.code == 0, result.output
    assert lines(result) == ["env.check local: ok (5 variables set from .env.local)"]


def test_local_reads_env_then_env_local_later_wins(project: Project) -> None:
    project.write(".env", "NODE_ENV=bogus\nR2_BUCKET_NAME=media\n")
    result = project.run("env.check")
    assert result.code == 0, result.output
    assert lines(result) == ["env.check local: ok (6 variables set from .env, .env.local)"]


def test_staging_reads_process_env(project: Project) -> None:
    result = project.run("env.check", "--env", "staging", env=STAGING_ENV)
    assert result.code == 0, result.output
    assert lines(result) == ["env.check staging: ok (10 variables set from process env)"]
    assert_no_secrets(result)


def test_production_accepts_live_stripe_keys(project: Project) -> None:
    env = {
        **STAGING_ENV,
        "SUPABASE_STAGING_DB_URL": "",
        "SUPABASE_DB_URL": STAGING_ENV["SUPABASE_STAGING_DB_URL"],
        "STRIPE_SECRET_KEY": LIVE_SECRET,
        "NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY": LIVE_PUBLISHABLE,
    }
    result = project.run("env.check", "--env", "production", env=env)
    assert result.code == 0, result.output
    assert_no_secrets(result)


def test_file_options_are_read_over_process_env_in_order(project: Project) -> None:
    env = {**STAGING_ENV, "STRIPE_SECRET_KEY": "nope"}
    project.write(".env.ci.local", "STRIPE_SECRET_KEY=still-wrong\n")
    project.write(".env.ci2.local", f"STRIPE_SECRET_KEY={TEST_SECRET}\n")
    args = ("--file", ".env.ci.local", "--file", ".env.ci2.local")
    result = project.run("env.check", "--env", "staging", *args, env=env)
    assert result.code == 0, result.output
    assert lines(result) == ["env.check staging: ok (10 variables set from process env, .env.ci.local, .env.ci2.local)"]


def test_clean_path_imports_neither_pydantic_nor_rich(project: Project) -> None:
    """env.check runs on every commit: start-up cost matters (see bench/env_check.py)."""
    env = {key: value for key, value in os.environ.items() if key != "OPS_PROJECT_ROOT"}
    completed = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ops", "env.check"],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert completed.returncode == 0, completed.stdout
    imported = {line.rsplit("|", 1)[-1].strip() for line in completed.stderr.splitlines() if "|" in line}
    assert not {name for name in imported if name.split(".")[0] in ("pydantic", "rich", "dotenv")}


# --- every finding type: exact line, exit code 1, no secret in the output ---

CASES: dict[str, tuple[dict[str, Any], str]] = {
    "ENV001-missing": (
        {
            "pyproject.toml": REQUIRE_STRIPE_LOCALLY,
            ".env.local": CLEAN_LOCAL.replace(f"STRIPE_SECRET_KEY={TEST_SECRET}\n", ""),
        },
        "local: ENV001 STRIPE_SECRET_KEY is required in local but not set (add it to .env.local; .env.example lists "
        "every variable)",
    ),
    "ENV001-empty": (
        {
            "pyproject.toml": REQUIRE_STRIPE_LOCALLY,
            ".env.local": CLEAN_LOCAL.replace(f"STRIPE_SECRET_KEY={TEST_SECRET}", "STRIPE_SECRET_KEY="),
        },
        ".env.local: ENV001 STRIPE_SECRET_KEY is required in local but empty (add it to .env.local; .env.example "
        "lists every variable)",
    ),
    "ENV002-url": (
        {".env.local": CLEAN_LOCAL.replace("http://127.0.0.1:54321", "not a url")},
        ".env.local:1: ENV002 NEXT_PUBLIC_SUPABASE_URL is not valid: expected an http(s) URL",
    ),
    "ENV002-secret-in-wrong-variable": (
        {".env.local": CLEAN_LOCAL.replace(TEST_SECRET, WEBHOOK_SECRET)},
        ".env.local:3: ENV002 STRIPE_SECRET_KEY is not valid: expected a Stripe secret key (sk_test_…/rk_test_…)",
    ),
    "ENV002-enum": (
        {".env.local": CLEAN_LOCAL.replace("NODE_ENV=development", "NODE_ENV=dev")},
        ".env.local:5: ENV002 NODE_ENV is not valid: expected one of: development, test, production",
    ),
    "ENV003": (
        {".env.local": CLEAN_LOCAL.replace(TEST_SECRET, LIVE_SECRET)},
        ".env.local:3: ENV003 STRIPE_SECRET_KEY holds a live Stripe key outside production; local uses test keys",
    ),
    "ENV004-schema-secret": (
        {".env.local": CLEAN_LOCAL + "NEXT_PUBLIC_STRIPE_SECRET_KEY=\n"},
        ".env.local:6: ENV004 NEXT_PUBLIC_STRIPE_SECRET_KEY names a secret (STRIPE_SECRET_KEY is a secret in the "
        "schema) but NEXT_PUBLIC_ ships it to the browser",
    ),
    "ENV004-name-pattern": (
        {".env.local": CLEAN_LOCAL + f"VITE_DB_PASSWORD={DB_PASSWORD}\n"},
        ".env.local:6: ENV004 VITE_DB_PASSWORD names a secret (the name contains PASSWORD) but VITE_ ships it to the "
        "browser",
    ),
    "ENV005-service-role-jwt": (
        {".env.local": CLEAN_LOCAL.replace(ANON_JWT, SERVICE_JWT)},
        ".env.local:2: ENV005 NEXT_PUBLIC_SUPABASE_ANON_KEY holds a Supabase service_role JWT but NEXT_PUBLIC_ ships "
        "it to the browser",
    ),
    "ENV005-stripe-secret": (
        {".env.local": CLEAN_LOCAL + f"PUBLIC_STRIPE={TEST_SECRET}\n"},
        ".env.local:6: ENV005 PUBLIC_STRIPE holds a Stripe secret key but PUBLIC_ ships it to the browser",
    ),
    "ENV005-webhook": (
        {".env.local": CLEAN_LOCAL + f"NEXT_PUBLIC_HOOK={WEBHOOK_SECRET}\n"},
        ".env.local:6: ENV005 NEXT_PUBLIC_HOOK holds a Stripe webhook secret but NEXT_PUBLIC_ ships it to the browser",
    ),
    "ENV005-pem": (
        {".env.local": CLEAN_LOCAL + f'VITE_SIGNING="{PEM}"\n'},
        ".env.local:6: ENV005 VITE_SIGNING holds a PEM private key but VITE_ ships it to the browser",
    ),
    "ENV010": (
        {".env.example": "NODE_ENV=development\n"},
        ".env.example: ENV010 STRIPE_SECRET_KEY is in the schema but missing from .env.example (run: inv env.example)",
    ),
    "ENV012-secret-variable": (
        {
            ".env.example": lambda example: example.replace(
                "UPSTASH_REDIS_REST_TOKEN=\n", f"UPSTASH_REDIS_REST_TOKEN={UPSTASH_TOKEN}\n"
            )
        },
        ".env.example:41: ENV012 UPSTASH_REDIS_REST_TOKEN holds a real-looking secret value; .env.example is "
        "committed, leave secrets blank",
    ),
    "ENV012-shape": (
        {".env.example": "__EXAMPLE__" + f"NEXT_PUBLIC_SUPABASE_ANON_KEY={SERVICE_JWT}\n"},
        ".env.example:69: ENV012 NEXT_PUBLIC_SUPABASE_ANON_KEY holds a real-looking secret (a Supabase service_role "
        "JWT); .env.example is committed, leave secrets blank",
    ),
    "ENV020": (
        {".env.local": CLEAN_LOCAL + f"STRIPE_SECRET_KEY={TEST_SECRET}\n"},
        ".env.local:6: ENV020 STRIPE_SECRET_KEY is set twice (first on line 3); the last one wins",
    ),
    "ENV021": (
        {".env.local": CLEAN_LOCAL + f"{LIVE_SECRET}\n"},
        ".env.local:6: ENV021 malformed line: expected KEY=VALUE, found a bare KEY",
    ),
    "ENV021-garbage": (
        {".env.local": CLEAN_LOCAL + f"this is {DB_PASSWORD} not an assignment\n"},
        ".env.local:6: ENV021 malformed line: expected KEY=VALUE",
    ),
    "ENV022-hash": (
        {".env.local": CLEAN_LOCAL + f"UPSTASH_REDIS_REST_TOKEN={UPSTASH_TOKEN}#tail\n"},
        ".env.local:6: ENV022 UPSTASH_REDIS_REST_TOKEN is read differently by Node's dotenv and python-dotenv "
        "(unquoted '#'); quote the value",
    ),
    "ENV022-unbalanced": (
        {".env.local": CLEAN_LOCAL + f'UPSTASH_REDIS_REST_TOKEN="{UPSTASH_TOKEN}\n'},
        ".env.local:6: ENV022 UPSTASH_REDIS_REST_TOKEN is read differently by Node's dotenv and python-dotenv "
        "(unbalanced quotes); quote the value",
    ),
    "ENV024": (
        {".env.staging": f"UPSTASH_REDIS_REST_TOKEN={UPSTASH_TOKEN}\n"},
        ".env.staging: ENV024 not ignored by .gitignore (add it there so it is never committed)",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_finding_line_exit_1_and_no_secret(project: Project, case: str) -> None:
    files, expected = CASES[case]
    example = (project.root / ".env.example").read_text()
    for name, text in files.items():
        project.write(name, text(example) if callable(text) else text.replace("__EXAMPLE__", example))
    result = project.run("env.check")
    assert result.code == 1, result.output
    assert expected in lines(result), result.output
    assert lines(result)[-1].startswith("env.check local: ")
    assert_no_secrets(result)


def test_tracked_env_file_is_reported(project: Project) -> None:
    project.git("add", "-f", ".env.local")
    result = project.run("env.check")
    assert result.code == 1
    assert ".env.local: ENV023 git tracks this env file (run: git rm --cached .env.local, then ignore it)" in lines(
        result
    )
    assert_no_secrets(result)


def test_env_local_not_ignored_is_reported(project: Project) -> None:
    project.write(".gitignore", ".env\n")
    result = project.run("env.check")
    assert result.code == 1
    assert lines(result) == [
        ".env.local: ENV024 not ignored by .gitignore (add it there so it is never committed)",
        "env.check local: 1 problem (sources: .env.local)",
    ]


def test_tracked_env_file_in_a_subdirectory_is_reported(project: Project) -> None:
    (project.root / "web").mkdir()
    project.write("web/.env.local", f"STRIPE_SECRET_KEY={TEST_SECRET}\n")
    project.git("add", "-f", "web/.env.local")
    result = project.run("env.check")
    assert result.code == 1
    assert lines(result) == [
        "web/.env.local: ENV023 git tracks this env file (run: git rm --cached web/.env.local, then ignore it)",
        "env.check local: 1 problem (sources: .env.local)",
    ]
    assert_no_secrets(result)


def test_fresh_clone_of_this_repo_passes_without_any_env_file(tmp_path: Path) -> None:
    """README's path: clone, install, run. The dev stack needs no keys, so neither does env.check local."""
    for name in ("pyproject.toml", ".gitignore", ".env.example"):
        shutil.copy(REPO / name, tmp_path / name)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    result = run_cli("env.check", cwd=tmp_path, env={"OPS_PROJECT_ROOT": str(tmp_path)})
    assert result.code == 0, result.output
    assert lines(result) == ["env.check local: ok (0 variables set from no sources)"]


# Pasted secrets that the readers take for keys: findings name keys, so these must be masked.
PEM_TAIL_LINE = "Zm9vYmFyYmF6cXV4Xy7ZabcQ"


def test_a_secret_read_as_a_key_is_never_printed(project: Project) -> None:
    project.write(
        ".env.local",
        CLEAN_LOCAL + "SIGNING_KEY=-----BEGIN PRIVATE KEY-----\n"
        f"{PEM_BODY}\n{PEM_TAIL_LINE}==\n-----END PRIVATE KEY-----\n"
        f"{LIVE_SECRET}: pasted\n",
    )
    human, document = project.run("env.check"), project.run("env.check", "--json")
    assert human.code == document.code == 1
    masked_key = ".env.local:8: ENV030 warning: *** is not in the schema (declare it in [tool.ops.env.variables] or "
    assert masked_key + "remove it)" in lines(human)
    assert {finding["key"] for finding in json.loads(document.stdout)["findings"] if finding["line"] in (8, 10)} == {
        "***"
    }
    for result in (human, document):
        assert PEM_TAIL_LINE not in result.output
        assert_no_secrets(result)


def test_unknown_key_is_a_warning_only(project: Project) -> None:
    project.write(".env.local", CLEAN_LOCAL + f"LEGACY_TOKEN={UPSTASH_TOKEN}\n")
    result = project.run("env.check")
    assert result.code == 0, result.output
    assert lines(result) == [
        ".env.local:6: ENV030 warning: LEGACY_TOKEN is not in the schema (declare it in [tool.ops.env.variables] or "
        "remove it)",
        "env.check local: ok (6 variables set from .env.local, 1 warning)",
    ]
    assert_no_secrets(result)


def test_hosted_environment_findings_name_the_process_env(project: Project) -> None:
    env = {**STAGING_ENV, "SUPABASE_STAGING_DB_URL": f"mysql://app:{DB_PASSWORD}@db/app"}
    env.pop("STRIPE_WEBHOOK_SECRET")
    result = project.run("env.check", "--env", "staging", env=env)
    assert result.code == 1
    assert lines(result) == [
        "process env: ENV002 SUPABASE_STAGING_DB_URL is not valid: expected a postgresql:// URL with a host",
        "staging: ENV001 STRIPE_WEBHOOK_SECRET is required in staging but not set (set it in the process environment "
        "or pass --file)",
        "env.check staging: 2 problems (sources: process env)",
    ]
    assert_no_secrets(result)


def test_live_key_in_staging_process_env(project: Project) -> None:
    env = {**STAGING_ENV, "STRIPE_SECRET_KEY": LIVE_SECRET}
    result = project.run("env.check", "--env", "staging", env=env)
    assert result.code == 1
    assert lines(result)[0] == (
        "process env: ENV003 STRIPE_SECRET_KEY holds a live Stripe key outside production; staging uses test keys"
    )
    assert_no_secrets(result)


# --- every finding type at once, human and --json: no secret anywhere ---


def _kitchen_sink(project: Project) -> None:
    # ENV001: this project requires NODE_ENV locally, and the .env.local below does not set it.
    project.write(
        "pyproject.toml",
        PYPROJECT + '\n[tool.ops.env.variables.NODE_ENV]\nkind = "enum"\ndescription = "Node runtime mode"\n'
        'choices = ["development", "test", "production"]\nrequired_in = ["local"]\n',
    )
    example = (project.root / ".env.example").read_text().replace("STRIPE_SECRET_KEY=\n", "")
    project.write(".env.example", example + f"LEGACY={UPSTASH_TOKEN}\nSTRIPE_WEBHOOK_SECRET={WEBHOOK_SECRET}\n")
    project.write(
        ".env.local",
        f"NEXT_PUBLIC_SUPABASE_URL=ftp://{DB_PASSWORD}\n"
        f"NEXT_PUBLIC_SUPABASE_ANON_KEY={SERVICE_JWT}\n"
        f"STRIPE_SECRET_KEY={LIVE_SECRET}\n"
        f"NEXT_PUBLIC_STRIPE_SECRET_KEY={TEST_SECRET}\n"
        f'VITE_KEY="{PEM}"\n'
        f"{WEBHOOK_SECRET}\n"
        f"R2_BUCKET_NAME=media#{UPSTASH_TOKEN}\n"
        f"UPSTASH_REDIS_REST_TOKEN={UPSTASH_TOKEN}\n"
        f"UPSTASH_REDIS_REST_TOKEN={UPSTASH_TOKEN}\n"
        f"LEGACY_SECRET={UPSTASH_TOKEN}\n",
    )
    project.write(".env.development", f"SUPABASE_SERVICE_ROLE_KEY={SERVICE_JWT}\n")
    project.git("add", ".env.development")
    project.write(".env.ci", f"STRIPE_WEBHOOK_SECRET={WEBHOOK_SECRET}\n")


def test_every_finding_type_human_output_has_no_secret(project: Project) -> None:
    _kitchen_sink(project)
    result = project.run("env.check")
    assert result.code == 1
    codes = {line.split(": ", 1)[1].split()[0] for line in lines(result)[:-1]}
    assert codes == set(CODES), result.output
    assert_no_secrets(result)


def test_every_finding_type_json_output_has_no_secret(project: Project) -> None:
    _kitchen_sink(project)
    result = project.run("env.check", "--json")
    assert result.code == 1
    document = json.loads(result.stdout)
    assert {finding["code"] for finding in document["findings"]} == set(CODES)
    assert document["ok"] is False and document["environment"] == "local"
    assert document["counts"]["warning"] == 4  # three ENV030, one ENV011
    assert result.stderr.splitlines()[-1].startswith("env.check local: ")
    assert_no_secrets(result)


def test_json_clean_document(project: Project) -> None:
    result = project.run("env.check", "--json")
    assert result.code == 0
    document = json.loads(result.stdout)
    assert document == {
        "environment": "local",
        "ok": True,
        "sources": [".env.local"],
        "variables_set": 5,
        "git": True,
        "counts": {"error": 0, "warning": 0},
        "findings": [],
    }
    assert result.stderr == "env.check local: ok (5 variables set from .env.local)\n"


# --- usage and config errors: exit 2, one line, no traceback, no secret ---


def test_unknown_environment_exits_2(project: Project) -> None:
    result = project.run("env.check", "--env", "prod")
    assert result.code == 2
    assert result.stderr.strip() == "error: unknown environment 'prod' (fix: use one of: local, staging, production)"


def test_missing_file_exits_2(project: Project) -> None:
    result = project.run("env.check", "--file", "nope.env")
    assert result.code == 2
    assert result.stderr.strip() == "error: env file not found: nope.env (fix: pass an existing file to --file)"


def test_bad_declaration_exits_2_without_echoing_input(project: Project) -> None:
    project.write(
        "pyproject.toml",
        PYPROJECT
        + f'\n[tool.ops.env.variables.API_TOKEN]\nkind = "string"\ndescription = "x"\nsecret = "{DB_PASSWORD}"\n',
    )
    result = project.run("env.check")
    assert result.code == 2
    assert result.stderr.strip() == (
        "error: [tool.ops.env] variables.API_TOKEN.secret: Input should be a valid boolean, unable to interpret input "
        "(fix: fix variables.API_TOKEN.secret in [tool.ops.env] of pyproject.toml)"
    )
    assert_no_secrets(result)


def test_secret_declared_under_public_prefix_is_a_config_error(project: Project) -> None:
    project.write(
        "pyproject.toml",
        PYPROJECT + '\n[tool.ops.env.variables.VITE_API_SECRET]\nkind = "string"\ndescription = "x"\nsecret = true\n',
    )
    result = project.run("env.check")
    assert result.code == 2
    assert result.stderr.strip() == (
        "error: VITE_API_SECRET is declared secret but VITE_ exposes it to the browser (fix: rename it without VITE_ "
        "or declare it secret = false in [tool.ops.env.variables])"
    )


def test_project_declarations_extend_and_exclude_the_schema(project: Project) -> None:
    project.write(
        "pyproject.toml",
        PYPROJECT + 'exclude = ["NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY"]\n\n'
        '[tool.ops.env.variables.RATE_LIMIT_PER_MINUTE]\nkind = "int"\ndescription = "requests per minute"\n'
        'required_in = ["local"]\nexample = "30"\n',
    )
    project.write(".env.local", CLEAN_LOCAL.replace("pk_test_51HhPublishableAbCd", "x") + "RATE_LIMIT_PER_MINUTE=ten\n")
    assert project.run("env.example").code == 0
    result = project.run("env.check")
    assert result.code == 1
    assert lines(result)[:-1] == [
        ".env.local:4: ENV030 warning: NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY is not in the schema (declare it in "
        "[tool.ops.env.variables] or remove it)",
        ".env.local:6: ENV002 RATE_LIMIT_PER_MINUTE is not valid: expected an integer",
    ]


def test_shipped_schema_passes_the_pydantic_declaration_model() -> None:
    shipped = tuple(variable for preset in PRESETS.values() for variable in preset)
    validate_shipped(shipped)
    names = {variable.name for variable in shipped}
    assert {
        "NEXT_PUBLIC_SUPABASE_URL",
        "NEXT_PUBLIC_SUPABASE_ANON_KEY",
        "SUPABASE_SERVICE_ROLE_KEY",
        "NEXT_PUBLIC_SUPABASE_PUBLISHABLE_KEY",
        "SUPABASE_SECRET_KEY",
        "STRIPE_SECRET_KEY",
        "NEXT_PUBLIC_STRIPE_PUBLISHABLE_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "SENTRY_DSN",
        "UPSTASH_REDIS_REST_URL",
        "UPSTASH_REDIS_REST_TOKEN",
        "NEXT_PUBLIC_POSTHOG_KEY",
        "RESEND_API_KEY",
        "R2_ACCOUNT_ID",
        "R2_ACCESS_KEY_ID",
        "R2_SECRET_ACCESS_KEY",
        "R2_BUCKET_NAME",
        "NODE_ENV",
    } <= names


# --- env.example ---


def test_env_example_writes_and_checks(tmp_path: Path) -> None:
    made = Project(tmp_path)
    (tmp_path / ".env.example").unlink()
    missing = made.run("env.example", "--check")
    assert missing.code == 1
    assert lines(missing) == [
        ".env.example: ENV010 .env.example is missing (run: inv env.example)",
        "env.example --check: 1 problem (sources: no sources)",
    ]
    written = made.run("env.example")
    assert written.code == 0 and lines(written) == ["wrote .env.example (22 variables)"]
    text = (tmp_path / ".env.example").read_text()
    assert "# Stripe secret key (sk_test_ outside production) [secret; required in staging, production]\n" in text
    assert "STRIPE_SECRET_KEY=\n" in text and "NODE_ENV=development\n" in text
    checked = made.run("env.example", "--check", "--json")
    assert checked.code == 0
    assert json.loads(checked.stdout)["ok"] is True


def test_env_example_keeps_the_teams_own_keys(tmp_path: Path) -> None:
    """Issue 12: a rewrite keeps keys the schema does not know, with their comments; the check warns only."""
    made = Project(tmp_path)
    example = (tmp_path / ".env.example").read_text()
    made.write(
        ".env.example",
        "# Our feature flags\nFEATURE_FLAGS=beta,search\n\nexport LEGACY_URL='https://old.example.com' # soon gone\n"
        + example.replace("SENTRY_DSN=\n", ""),
    )
    checked = made.run("env.example", "--check")
    assert checked.code == 1  # SENTRY_DSN is missing
    assert (
        ".env.example:2: ENV011 warning: FEATURE_FLAGS is in .env.example but not in the schema (kept; declare "
        "it to check it)" in lines(checked)
    )
    assert made.run("env.example").code == 0
    text = (tmp_path / ".env.example").read_text()
    assert text.endswith(
        "# Not in the env schema: kept as they were (declare them in [tool.ops.env.variables] to check them).\n"
        "# Our feature flags\nFEATURE_FLAGS=beta,search\n\n"
        "export LEGACY_URL='https://old.example.com' # soon gone\n"
    )
    assert "SENTRY_DSN=\n" in text
    rechecked = made.run("env.example", "--check")
    assert rechecked.code == 0, rechecked.output
    assert [line.split(": ")[1].split()[0] for line in lines(rechecked)[:-1]] == ["ENV011", "ENV011"]
    # A second rewrite is stable.
    assert made.run("env.example").code == 0
    assert (tmp_path / ".env.example").read_text() == text


def test_presets_are_opt_in(tmp_path: Path) -> None:
    """Issue 12: a team repo gets only the presets it names (and the database URLs the toolkit reads)."""
    (tmp_path / "pyproject.toml").write_text('[tool.ops]\n\n[tool.ops.env]\npresets = ["supabase"]\n')
    names = list(load_schema(load(tmp_path)).variables)
    assert names == [
        "SUPABASE_DB_URL",
        "SUPABASE_STAGING_DB_URL",
        "NEXT_PUBLIC_SUPABASE_URL",
        "NEXT_PUBLIC_SUPABASE_PUBLISHABLE_KEY",
        "SUPABASE_SECRET_KEY",
        "NEXT_PUBLIC_SUPABASE_ANON_KEY",
        "SUPABASE_SERVICE_ROLE_KEY",
    ]
    (tmp_path / "pyproject.toml").write_text("[tool.ops]\n")
    assert list(load_schema(load(tmp_path)).variables) == ["SUPABASE_DB_URL", "SUPABASE_STAGING_DB_URL"]


NEW_KEYS_STAGING = {
    "NEXT_PUBLIC_SUPABASE_URL": "https://abcd.supabase.co",
    "NEXT_PUBLIC_SUPABASE_PUBLISHABLE_KEY": "sb_publishable_AbCdEfGhIjKlMnOp",
    "SUPABASE_SECRET_KEY": "sb_secret_QrStUvWxYz0123456",
    "SUPABASE_STAGING_DB_URL": f"postgresql://postgres:{DB_PASSWORD}@db.abcd.supabase.co:5432/postgres",
}


def test_new_supabase_key_names(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.ops]\n\n[tool.ops.env]\npresets = ["supabase"]\n')
    (tmp_path / ".env.example").write_text(render_example(load_schema(load(tmp_path))))
    cfg = load(tmp_path)
    # The new names alone satisfy staging; the legacy names are alternatives, not requirements.
    assert check(cfg, "staging", process_env=NEW_KEYS_STAGING).ok
    legacy = {**NEW_KEYS_STAGING, "NEXT_PUBLIC_SUPABASE_ANON_KEY": ANON_JWT, "SUPABASE_SERVICE_ROLE_KEY": SERVICE_JWT}
    del legacy["NEXT_PUBLIC_SUPABASE_PUBLISHABLE_KEY"], legacy["SUPABASE_SECRET_KEY"]
    assert check(cfg, "staging", process_env=legacy).ok
    only_db = {"SUPABASE_STAGING_DB_URL": NEW_KEYS_STAGING["SUPABASE_STAGING_DB_URL"]}
    missing = check(cfg, "staging", process_env=only_db)
    assert [f.message for f in missing.findings if f.key == "SUPABASE_SECRET_KEY"] == [
        "SUPABASE_SECRET_KEY (or SUPABASE_SERVICE_ROLE_KEY) is required in staging but not set "
        "(set it in the process environment or pass --file)"
    ]
    wrong = check(cfg, "staging", process_env={**NEW_KEYS_STAGING, "SUPABASE_SECRET_KEY": "sb_publishable_AbCdEfGhIj"})
    assert [f.code for f in wrong.findings] == ["ENV002"]
    # A secret key under a public prefix is a secret by its value, whatever the name.
    exposed = {**NEW_KEYS_STAGING, "NEXT_PUBLIC_SUPABASE_PUBLISHABLE_KEY": NEW_KEYS_STAGING["SUPABASE_SECRET_KEY"]}
    findings = check(cfg, "staging", process_env=exposed).findings
    assert ("ENV005", "NEXT_PUBLIC_SUPABASE_PUBLISHABLE_KEY") in {(f.code, f.key) for f in findings}
    assert all(NEW_KEYS_STAGING["SUPABASE_SECRET_KEY"] not in f.render() for f in findings)


def test_repo_env_example_is_in_sync_with_the_schema() -> None:
    result = run_cli("env.example", "--check")
    assert result.code == 0, result.output


FIX = "(fix: fix {key} in [tool.ops.env] of pyproject.toml)"
CONFIG_ERRORS = {
    "example_file = 5\n": "error: [tool.ops.env] example_file: Input should be a valid string "
    + FIX.format(key="example_file"),
    'exclude = "R2_ACCOUNT_ID"\n': "error: [tool.ops.env] exclude: Input should be a valid list "
    + FIX.format(key="exclude"),
    'presets = ["supabase", "strype"]\n': "error: [tool.ops.env] presets.1: unknown preset 'strype' (presets: "
    "supabase, stripe, sentry, upstash, posthog, resend, r2, nextjs) " + FIX.format(key="presets.1"),
    'example_fle = ".env.example"\n': "error: [tool.ops.env] unknown key 'example_fle' "
    "(fix: did you mean 'example_file'? (in pyproject.toml))",
    '[tool.ops.env.variables.X]\nkind = "colour"\ndescription = "x"\n': (
        "error: [tool.ops.env] variables.X.kind: kind must be one of: "
        + ", ".join(KINDS)
        + " "
        + FIX.format(key="variables.X.kind")
    ),
    '[tool.ops.env.variables.X]\nkind = "enum"\ndescription = "x"\n': (
        "error: [tool.ops.env] variables.X: an enum needs choices " + FIX.format(key="variables.X")
    ),
    '[tool.ops.env.variables.X]\nkind = "int"\ndescription = "x"\nrequired_in = ["prod"]\n': (
        "error: [tool.ops.env] variables.X.required_in.0: Input should be 'local', 'staging' or 'production' "
        + FIX.format(key="variables.X.required_in.0")
    ),
    '[tool.ops.env.variables.X]\nkind = "string"\ndescription = "x"\nsecret = true\nexample = "hunter2hunter2"\n': (
        "error: [tool.ops.env] variables.X: a secret has no example value (.env.example is committed) "
        + FIX.format(key="variables.X")
    ),
    '[tool.ops.env.variables.X]\nkind = "int"\ndescription = "x"\nrequird_in = ["local"]\n': (
        "error: [tool.ops.env] unknown key 'variables.X.requird_in' "
        "(fix: did you mean 'required_in'? (in pyproject.toml))"
    ),
    '[tool.ops.env.variables."1BAD"]\nkind = "int"\ndescription = "x"\n': (
        "error: [tool.ops.env] variables: '1BAD' is not a valid variable name (use letters, digits and _) "
        + FIX.format(key="variables")
    ),
}


@pytest.mark.parametrize("table", sorted(CONFIG_ERRORS))
def test_env_settings_are_validated(tmp_path: Path, table: str) -> None:
    base = PYPROJECT.split("presets =")[0] if table.startswith("presets") else PYPROJECT
    (tmp_path / "pyproject.toml").write_text(base + "\n" + table)
    with pytest.raises(ConfigError) as raised:
        check(load(tmp_path), "local")
    assert raised.value.one_line() == CONFIG_ERRORS[table]
    assert raised.value.exit_code == 2 and "hunter2" not in raised.value.one_line()


KIND_EXAMPLES = {
    # kind: (valid values, invalid values)
    "url": (["https://x.supabase.co", "http://127.0.0.1:54321/path"], ["ftp://x", "https://", "http://x:99999", "a b"]),
    "postgres_url": (["postgresql://u:p@db:5432/app", "postgres://db/app"], ["mysql://db/app", "postgresql:///x"]),
    "int": (["30", "-1"], ["3.5", "ten"]),
    "bool": (["true", "0", "Yes"], ["maybe"]),
    "jwt": ([ANON_JWT, SERVICE_JWT], ["eyJhbGci.notjson.x", "abc"]),
    "supabase_anon_key": ([ANON_JWT, "sb_publishable_abcdefghij"], [SERVICE_JWT]),
    "supabase_service_role_key": ([SERVICE_JWT, "sb_secret_abcdefghijkl"], [ANON_JWT]),
    "supabase_publishable_key": (["sb_publishable_abcdefghij"], [ANON_JWT, "sb_secret_abcdefghijkl"]),
    "supabase_secret_key": (["sb_secret_abcdefghijkl"], [SERVICE_JWT, "sb_publishable_abcdefghij"]),
    "stripe_secret_key": ([TEST_SECRET, LIVE_SECRET, "rk_test_abcdefghij"], ["pk_test_abcdefghij", "sk_abc"]),
    "stripe_publishable_key": (["pk_test_abcdefghij"], [TEST_SECRET]),
    "stripe_webhook_secret": ([WEBHOOK_SECRET], ["whsec_"]),
    "sentry_dsn": (["https://abc@o1.ingest.sentry.io/42"], ["https://o1.ingest.sentry.io/42", "https://k@h/x"]),
    "posthog_key": (["phc_abcdefghijkl"], ["abc"]),
    "resend_key": (["re_abcdefghij"], ["rx_abcdefghij"]),
    "hex32": (["0123456789abcdef0123456789ABCDEF"], ["0123"]),
    "hex64": (["ab" * 32], ["ab" * 31 + "zz"]),
}


@pytest.mark.parametrize("kind", sorted(KIND_EXAMPLES))
def test_kinds_accept_and_reject(kind: str) -> None:
    from ops.envcheck.kinds import problem

    valid, invalid = KIND_EXAMPLES[kind]
    assert [value for value in valid if problem(kind, value)] == []
    assert [value for value in invalid if not problem(kind, value)] == []


def test_secret_shapes() -> None:
    from ops.envcheck.kinds import secret_shape

    assert secret_shape(SERVICE_JWT) == "a Supabase service_role JWT"
    assert secret_shape(ANON_JWT) is None
    assert secret_shape(TEST_SECRET) == secret_shape("rk_live_abcdefghij") == "a Stripe secret key"
    assert secret_shape("pk_live_abcdefghij") is None
    assert secret_shape(WEBHOOK_SECRET) == "a Stripe webhook secret"
    assert secret_shape(PEM.replace("\\n", "\n")) == "a PEM private key"
    assert secret_shape("-----BEGIN PUBLIC KEY-----") is None
