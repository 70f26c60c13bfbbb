"""The text of every file ``ops init`` writes, from the packaged templates.

Templates live in ``ops/resources/init/``. A ``%%name%%`` marker is replaced
by a value; a line holding only a marker is replaced by a block of lines (or
dropped when the block is empty). ``%%`` never occurs in GitHub's own
``${{ }}`` expressions, so the workflows keep theirs untouched.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ops.ci import Step
from ops.init.detect import Project, source_mentions
from ops.resources import read_text

_MARKER = re.compile(r"%%([a-z_]+)%%")
_BLOCK_LINE = re.compile(r"^[ \t]*%%([a-z_]+)%%[ \t]*\n", re.MULTILINE)

GITIGNORE_ENTRIES = (".ops/", ".env", ".env.local", ".env.*.local")
# Variables boto3 reads for an S3-compatible backup repository (issue: backups leave the machine).
BACKUP_SECRETS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_S3", "AWS_REGION")


def fill(template: str, values: dict[str, str]) -> str:
    """Blocks first (whole marker lines), then inline values; an unknown marker is a bug."""

    def block(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        text = values[name]
        return text if not text or text.endswith("\n") else text + "\n"

    def inline(match: re.Match[str]) -> str:
        return values[match.group(1)]

    return _MARKER.sub(inline, _BLOCK_LINE.sub(block, template))


def template(*parts: str) -> str:
    return read_text("init", *parts)


def smoke_scenario(paths: list[str]) -> str:
    """The packaged smoke scenario (``load.run``'s fallback), with this repo's paths."""
    text = read_text("load", "smoke.js")
    text = text.replace("Copy it into infra/tests/load/ to change it.", "Written by `ops init`: edit the paths.")
    return text.replace("'/healthz,/readyz'", json.dumps(",".join(paths)).replace('"', "'"))


# -- configuration -------------------------------------------------------------------------------


def toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(toml_string(v) for v in values) + "]"


@dataclass(frozen=True)
class ConfigText:
    """The project's settings: appended to pyproject.toml, or a standalone ops.toml."""

    text: str
    standalone: bool


def ready_path(project: Project) -> str:
    """What the app answers once ready: /readyz when the code mentions one, else /healthz, else /."""
    mentioned = source_mentions(project.root, ("readyz", "healthz"))
    if "readyz" in mentioned:
        return "/readyz"
    if "healthz" in mentioned:
        return "/healthz"
    return "/"


def config_text(project: Project) -> ConfigText:
    standalone = not project.has_pyproject
    prefix = "" if standalone else "tool.ops."
    lines: list[str] = []
    if not standalone:
        lines += ["", "# The ops toolkit (written by `ops init`): README, 'Use it in your repository'.", "[tool.ops]"]
    else:
        lines += [
            "# Settings of the ops toolkit (written by `ops init`): the same keys as [tool.ops] of a",
            "# pyproject.toml. Environments: staging reads SUPABASE_STAGING_DB_URL and STAGING_BASE_URL,",
            "# production SUPABASE_DB_URL and PRODUCTION_BASE_URL, from the process env (CI secrets).",
        ]
    lines += ['state_dir = ".ops"', ""]

    lines.append(f"[{prefix}dev]")
    if project.monorepo:
        lines.append("# One service per app with a `dev` script; ops picks the ports (0 = a free one, remembered).")
    elif project.app_command:
        lines.append(f"app_command = {toml_string(project.app_command)}")
        lines.append(f"app_ready_path = {toml_string(ready_path(project))}")
    else:
        lines.append('# app_command = "npm run dev -- --port {port}"   # your app; {port} {host} {python}')
    lines.append("")
    for service in project.services:
        lines.append(f"[{prefix}dev.services.{service.name}]")
        lines.append(f"command = {toml_string(service.command)}")
        if service.worker:
            lines.append('ready_after = "2s"   # a worker: ready once it stays up that long')
        else:
            lines.append("port = 0")
            lines.append(
                f"ready_path = {toml_string(service.ready_path)}" if service.ready_path else "ready_tcp = true"
            )
        if project.redis:
            lines.append('depends_on = ["redis"]')
        lines.append("")
    if project.redis:
        lines += [f"[{prefix}dev.services.redis]", 'kind = "redis"', ""]
    routes = api_routes(project)
    if routes:
        lines.append(f"[{prefix}dev.routes]   # through Caddy; every other path goes to the first web app")
        lines += [f"{toml_string(path)} = {toml_string(name)}" for path, name in routes.items()]
        lines.append("")

    if project.presets:
        lines += [f"[{prefix}env]", f"presets = {toml_list(project.presets)}", ""]

    if project.types_file:
        lines += [f"[{prefix}types]", f"output = {toml_string(project.types_file)}   # db.types --check in CI", ""]

    steps = ci_step_names(project)
    lines.append(f"[{prefix}ci]")
    lines.append(f"steps = {toml_list(steps)}")
    lines.append("")
    for script in project.check_scripts:
        lines.append(f"[{prefix}ci.commands.{script}]")
        lines.append(f"run = {toml_string(project.run_script(script))}")
        if script != "test":
            lines.append("fast = true")
        lines.append("")
    lines += [
        "# Backups off the machine (backup.yml runs them): an S3-compatible repository (AWS_* secrets)",
        "# and the age recipients that encrypt them; the identity stays in the OPS_BACKUP_IDENTITY secret.",
        f"# [{prefix}backup]",
        '# repository = "s3://my-bucket/backups"',
        '# encrypt_to = ["age1..."]',
    ]
    return ConfigText("\n".join(lines).rstrip("\n") + "\n", standalone)


def api_routes(project: Project) -> dict[str, str]:
    """``/api/*`` to an app named api (or server) when a web app serves everything else."""
    names = {service.name for service in project.services}
    web = [s for s in project.services if not s.worker and s.name not in {"api", "server"}]
    target = next((name for name in ("api", "server") if name in names), None)
    return {"/api/*": target} if target and web else {}


def ci_step_names(project: Project) -> list[str]:
    """The toolkit's checks, db-types when the repo has generated types, then its own scripts."""
    toolkit = ["env-check", "env-example", "db-lint", "db-test"]
    if project.types_file:
        toolkit.append("db-types")
    return [*toolkit, *project.check_scripts]


# -- workflows -------------------------------------------------------------------------------------


def _step(name: str, run: str) -> str:
    if "\n" in run:
        body = "\n".join(("          " + line) if line else "" for line in run.splitlines())
        return f"      - name: {name}\n        run: |\n{body}\n"
    return f"      - name: {name}\n        run: {run}\n"


def setup_block(project: Project, *, node: bool, postgres: str | None, redis: bool = False) -> str:
    """Python, Node and the app's packages when wanted, PostgreSQL tools, then the toolkit."""
    text = '      - uses: actions/setup-python@v6\n        with:\n          python-version: "3.12"\n'
    if node and project.is_node:
        if project.package_manager == "pnpm":
            text += "      - uses: pnpm/action-setup@v4\n"
        text += "      - uses: actions/setup-node@v5\n        with:\n"
        text += f'          node-version: "{project.node_version}"\n'
        if project.lockfile:
            text += f"          cache: {project.package_manager}\n"
        install = {
            "pnpm": "pnpm install --frozen-lockfile",
            "yarn": "yarn install --frozen-lockfile",
            "npm": "npm ci" if project.lockfile else "npm install",
        }[project.package_manager]
        text += _step("Install the app's packages", install)
    if postgres == "server":
        packages = "libtap-parser-sourcehandler-pgtap-perl" + (" redis-server" if redis else "")
        text += _step(
            "Install PostgreSQL, pgTAP" + (" and Redis" if redis else ""),
            "sudo apt-get update -q\n"
            "sudo apt-get install -y -q --no-install-recommends postgresql postgresql-contrib\n"
            'major=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf "%f\\n" | sort -n | tail -1)\n'
            f'sudo apt-get install -y -q --no-install-recommends "postgresql-$major-pgtap" {packages}',
        )
    elif postgres == "client":
        # pg_dump/pg_restore must be at least the server's major (Supabase runs 15 to 17).
        text += _step(
            "Install the PostgreSQL 17 client (pg_dump, pg_restore)",
            "sudo /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y\n"
            "sudo apt-get install -y -q --no-install-recommends postgresql-client-17",
        )
    text += _step("Install the ops toolkit", 'python -m pip install "$OPS_TOOLKIT"')
    return text


def _env_lines(names: list[str]) -> str:
    return "".join(f"      {name}: ${{{{ secrets.{name} }}}}\n" for name in names)


def ci_workflow(project: Project, steps: list[Step], config_file: str, requirement: str) -> str:
    needs_stack = any(step.needs_stack for step in steps)
    body = ""
    if needs_stack:
        body += _step("Start the local stack (Postgres, the app, Caddy)", "inv dev.up")
    for step in steps:
        body += _step(step.title, step.workflow_run)
    if needs_stack:
        body += "      - name: Stop the local stack\n        if: always()\n        run: inv dev.down\n"
    return fill(
        template("workflows", "ci.yml"),
        {
            "config_file": config_file,
            "requirement": requirement,
            "setup": setup_block(project, node=True, postgres="server" if needs_stack else None, redis=project.redis),
            "steps": body,
        },
    )


def _functions_job(environment: str, project_ref_secret: str) -> str:
    return (
        "  functions:\n"
        "    needs: migrate\n"
        "    runs-on: ubuntu-latest\n"
        "    timeout-minutes: 15\n"
        f"    environment: {environment}\n"
        "    env:\n"
        "      SUPABASE_ACCESS_TOKEN: ${{ secrets.SUPABASE_ACCESS_TOKEN }}\n"
        f"      SUPABASE_PROJECT_REF: ${{{{ secrets.{project_ref_secret} }}}}\n"
        "    steps:\n"
        "      - uses: actions/checkout@v5\n"
        "      - uses: supabase/setup-cli@v1\n"
        "        with:\n"
        "          version: latest\n"
        + _step(
            "Deploy the Edge Functions (supabase/functions), after the migrations",
            'supabase functions deploy --project-ref "$SUPABASE_PROJECT_REF"',
        )
        + "\n"
    )


def deploy_workflow(project: Project, environment: str, db_url_env: str, base_url_env: str, requirement: str) -> str:
    production = environment == "production"
    ref_secret = "SUPABASE_PROJECT_REF" if production else "SUPABASE_STAGING_PROJECT_REF"
    values = {
        "requirement": requirement,
        "db_url_env": db_url_env,
        "base_url_env": base_url_env,
        "functions_note": ", the Edge Functions deployed" if project.functions else "",
        "functions_job": _functions_job(environment, ref_secret) if project.functions else "",
        "smoke_needs": "[migrate, functions]" if project.functions else "migrate",
        "backup_env": _env_lines(list(BACKUP_SECRETS)) if production else "",
        # pg_dump for the pre-migration backup; the smoke job needs only the toolkit.
        "setup": setup_block(project, node=False, postgres="client" if production else None),
        "setup_smoke": setup_block(project, node=False, postgres=None),
    }
    return fill(template("workflows", "deploy-prod.yml" if production else "deploy-staging.yml"), values)


def backup_workflow(project: Project, db_url_env: str, staging_db_url_env: str, requirement: str) -> str:
    return fill(
        template("workflows", "backup.yml"),
        {
            "requirement": requirement,
            "db_url_env": db_url_env,
            "staging_db_url_env": staging_db_url_env,
            "backup_env": _env_lines(list(BACKUP_SECRETS)),
            "setup_export": setup_block(project, node=False, postgres="client"),
            # The drill starts the app on the restored database: Node and the app's packages too.
            "setup_drill": setup_block(project, node=True, postgres="client"),
        },
    )


def refresh_workflow(project: Project, db_url_env: str, staging_db_url_env: str, requirement: str) -> str:
    return fill(
        template("workflows", "refresh-staging.yml"),
        {
            "requirement": requirement,
            "db_url_env": db_url_env,
            "staging_db_url_env": staging_db_url_env,
            "backup_env": _env_lines(list(BACKUP_SECRETS)),
            "setup": setup_block(project, node=False, postgres="server"),
        },
    )


# -- other files -----------------------------------------------------------------------------------


def load_paths(project: Project) -> list[str]:
    """What the smoke scenario asks for: the app's health endpoints when it has them, and its home page."""
    mentioned = source_mentions(project.root, ("healthz", "readyz"))
    paths = [f"/{word}" for word in ("healthz", "readyz") if word in mentioned]
    return paths or ["/"]


def load_scenarios(project: Project) -> dict[str, str]:
    paths = load_paths(project)
    flow = "".join(f"      - get:\n          url: {path}\n" for path in paths)
    return {
        "smoke.js": smoke_scenario(paths),
        "smoke.yml": fill(template("load-smoke.yml"), {"flow": flow}),
    }


def supabase_config(project: Project) -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", project.root.name.lower()).strip("-") or "app"
    return fill(template("supabase", "config.toml"), {"project_id": slug})
