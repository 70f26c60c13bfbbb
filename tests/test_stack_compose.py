"""The docker provider without a Docker engine: the compose file's validity,
provider selection and the exact commands built."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import REPO, make_stack_project, run_ops

from ops.config import load
from ops.local.state import StackPaths
from ops.stack.caddy import caddy_variables
from ops.stack.compose import ComposeStack, choose_provider, engine_available

COMPOSE = REPO / "ops" / "resources" / "docker" / "compose.yml"
CADDYFILE = REPO / "ops" / "resources" / "caddy" / "Caddyfile"
_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(:?[-?][^}]*)?\}")


# The Compose Specification's JSON schema, vendored from compose-spec/compose-spec (Apache-2.0):
# the same schema `docker compose config` validates with, usable without Docker.
COMPOSE_SCHEMA = REPO / "tests" / "data" / "compose-spec.json"


def compose_document() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_is_valid_against_the_compose_specification_schema() -> None:
    import jsonschema

    # The schema declares draft-07 under an id jsonschema does not recognise: name the draft.
    validator = jsonschema.Draft7Validator(json.loads(COMPOSE_SCHEMA.read_text()))
    validator.validate(compose_document())
    broken = compose_document()
    broken["services"]["db"]["imagee"] = "postgres:15"
    with pytest.raises(jsonschema.ValidationError, match="'imagee' does not match any of the regexes"):
        validator.validate(broken)


def test_compose_file_has_the_three_services_on_loopback_ports() -> None:
    document = compose_document()
    assert set(document["services"]) == {"db", "app", "caddy"}
    assert set(document["volumes"]) == {"db_data"}
    ports = [port for service in document["services"].values() for port in service.get("ports", [])]
    assert ports == [
        "127.0.0.1:${OPS_DB_PORT:-54322}:5432",
        "127.0.0.1:${OPS_APP_PORT:-3000}:3000",
        "127.0.0.1:${OPS_HTTP_PORT:-8080}:${OPS_HTTP_PORT:-8080}",
        "127.0.0.1:${OPS_HTTPS_PORT:-8443}:${OPS_HTTPS_PORT:-8443}",
    ]
    assert document["services"]["app"]["depends_on"] == {"db": {"condition": "service_healthy"}}


def _default_path(volume: str) -> tuple[Path, str]:
    """``${VAR:-default}:/target:ro`` -> (default resolved against the compose dir, target)."""
    match = re.fullmatch(r"\$\{[A-Z_]+:-([^}]+)\}:([^:]+)(?::ro)?", volume)
    assert match, volume
    return (COMPOSE.parent / match.group(1)).resolve(), match.group(2)


def test_compose_shares_the_bootstrap_sql_and_the_caddyfile_template_with_the_native_provider() -> None:
    services = compose_document()["services"]
    bootstrap, target = _default_path(services["db"]["volumes"][1])
    assert bootstrap == REPO / "ops" / "pg" / "sql" / "bootstrap.sql" and bootstrap.is_file()
    assert target == "/docker-entrypoint-initdb.d/00-bootstrap.sql"
    caddyfile, target = _default_path(services["caddy"]["volumes"][0])
    assert caddyfile == CADDYFILE and target == "/etc/caddy/Caddyfile"
    build = services["app"]["build"]
    context = (COMPOSE.parent / build["context"]).resolve()
    assert context == REPO / "ops" and (context / build["dockerfile"]).is_file()
    # Every {$NAME} in the template is set for the caddy container, and by the native renderer.
    placeholders = set(re.findall(r"\{\$([A-Z0-9_]+)\}", CADDYFILE.read_text()))
    assert placeholders == set(services["caddy"]["environment"])
    assert placeholders == set(
        caddy_variables(StackPaths(Path("/x")), dict.fromkeys(("app", "http", "https", "admin"), 1))
    )


def test_every_variable_compose_needs_is_set_by_dev_up(tmp_path: Path) -> None:
    stack = ComposeStack.load(load(make_stack_project(tmp_path / "project")))
    stack.state.ensure_tokens()
    provided = stack.environment()
    used = {match.group(1) for match in _VARIABLE.finditer(COMPOSE.read_text())}
    assert used - set(provided) == {"RATE_LIMIT_PER_MINUTE"}  # optional, defaults to 30
    assert provided["POSTGRES_PASSWORD"] == stack.state.db_password
    assert provided["OPS_CADDYFILE"] == str(CADDYFILE)
    assert provided["OPS_CADDY_DATA"] == str(stack.paths.caddy_storage)


def test_the_exact_compose_commands(tmp_path: Path) -> None:
    root = make_stack_project(tmp_path / "My Project", https_port=9443)
    stack = ComposeStack.load(load(root))
    base = ["docker", "compose", "--project-name", "ops-my-project", "--file", str(COMPOSE)]
    assert stack.up_command() == [*base, "up", "--detach", "--build", "--wait"]
    assert stack.down_command() == [*base, "down"]
    assert stack.down_command(purge=True) == [*base, "down", "--volumes"]
    assert stack.ps_command() == [*base, "ps", "--all", "--format", "json"]
    assert stack.logs_command("app", follow=True) == [*base, "logs", "--no-color", "--follow", "app"]
    assert stack.logs_command(None, follow=False) == [*base, "logs", "--no-color", "--tail", "200"]
    # Ports of 0 ("pick a free one") fall back to the fixed defaults: compose publishes fixed ports.
    assert stack.ports == {"db": 54322, "app": 3000, "http": 8080, "https": 9443, "admin": 2019}


@pytest.mark.parametrize(
    ("requested", "remembered", "engine", "expected"),
    [
        ("auto", None, True, "docker"),
        ("auto", None, False, "native"),
        ("auto", "native", True, "native"),  # a stack keeps the provider it was made with
        ("auto", "docker", False, "docker"),
        ("native", None, True, "native"),
        ("docker", "native", False, "docker"),
    ],
)
def test_provider_selection(requested: str, remembered: str | None, engine: bool, expected: str) -> None:
    probed: list[bool] = []

    def probe() -> bool:
        probed.append(True)
        return engine

    assert choose_provider(requested, remembered, probe) == expected
    # The engine is only probed when it decides: auto, with no stack yet.
    assert bool(probed) == (requested == "auto" and remembered is None)


def test_docker_provider_without_an_engine_is_a_one_line_error(tmp_path: Path) -> None:
    if engine_available():
        pytest.skip("a Docker engine answers on this machine; this test covers its absence")
    root = make_stack_project(tmp_path / "project")
    result = run_ops("dev.up", "--provider", "docker", cwd=root, env={"OPS_PROJECT_ROOT": str(root)})
    assert result.code == 3
    assert result.stderr.strip() == (
        "error: the docker provider needs a Docker engine, and none answers"
        " (fix: start Docker (docker info must answer), or use --provider native)"
    )
    assert not (root / ".ops").exists()


def compose_validator() -> list[str]:
    """`docker compose` (the v2 plugin) when installed, else `docker-compose` (v1, the Debian
    package scripts/bootstrap installs). Either checks a file with `config`, no engine needed."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    assert legacy, "neither `docker compose` nor `docker-compose` is installed: run scripts/bootstrap"
    return [legacy]


def test_docker_compose_config_accepts_the_file_with_the_variables_dev_up_sets(tmp_path: Path) -> None:
    stack = ComposeStack.load(load(make_stack_project(tmp_path / "project")))
    stack.state.ensure_tokens()
    assert stack.base_command()[:2] == ["docker", "compose"]
    config = [*compose_validator(), *stack.base_command()[2:], "config", "--quiet"]
    accepted = stack.run(config, check=False)
    assert (accepted.returncode, accepted.stderr) == (0, "")

    # The check can fail: without the password dev.up sets, compose refuses the file...
    stack.state.db_password = ""
    refused = stack.run(config, check=False)
    assert refused.returncode != 0 and "set POSTGRES_PASSWORD (inv dev.up does)" in refused.stderr
    # ...and a misspelt key is caught.
    stack.state.ensure_tokens()
    broken_dir = tmp_path / "broken" / "infra" / "docker"
    broken_dir.mkdir(parents=True)
    broken = compose_document()
    broken["services"]["db"]["imagee"] = broken["services"]["db"].pop("image")
    (broken_dir / "compose.yml").write_text(yaml.safe_dump(broken))
    config[config.index(str(COMPOSE))] = str(broken_dir / "compose.yml")
    typo = stack.run(config, check=False)
    assert typo.returncode != 0 and "imagee" in typo.stderr


def test_lookups_follow_a_stack_made_with_the_docker_provider(tmp_path: Path) -> None:
    from ops.errors import ExternalError
    from ops.stack import local_app_env, local_base_url, local_cluster, local_db_url

    cfg = load(make_stack_project(tmp_path / "project", db_port=6000, https_port=6443))
    stack = ComposeStack.load(cfg)
    stack.state.ensure_tokens()
    stack.state.provider = "docker"
    stack.state.ports = stack.ports
    stack.state.save(stack.paths)

    assert local_db_url(cfg).startswith("postgresql://postgres:") and local_db_url(cfg).endswith(
        "@127.0.0.1:6000/postgres"
    )
    assert local_base_url(cfg) == "https://localhost:6443"
    assert local_app_env(cfg)["DATABASE_URL"] == local_db_url(cfg)
    with pytest.raises(ExternalError, match="runs with the docker provider"):
        local_cluster(cfg)


def test_lookups_before_any_dev_up_say_how_to_start_the_stack(tmp_path: Path) -> None:
    from ops.errors import ExternalError
    from ops.stack import local_base_url, local_db_url

    cfg = load(make_stack_project(tmp_path / "project"))
    for lookup in (local_db_url, local_base_url):
        with pytest.raises(ExternalError) as caught:
            lookup(cfg)
        assert caught.value.one_line() == "error: the local dev stack has not been started (fix: run: inv dev.up)"


def test_docker_provider_renders_the_services_into_its_compose_project(tmp_path: Path) -> None:
    from test_stack_services import make_team_repo

    stack = ComposeStack.load(load(make_team_repo(tmp_path / "repo")))
    stack.state.ensure_tokens()
    document = json.loads(stack.write_project().read_text())
    services = document["services"]
    assert set(services) == {"db", "caddy", "redis", "web", "api", "worker"}  # no sample app
    ports = stack.ports
    assert services["redis"]["image"] == "redis:7"
    assert services["redis"]["ports"] == [f"127.0.0.1:{ports['redis']}:6379"]
    api = services["api"]
    assert api["image"] == "node:22-bookworm-slim" and api["command"] == ["sh", "-c", "node api.js"]
    assert api["environment"]["REDIS_URL"] == "redis://:${REDIS_PASSWORD}@redis:6379/0"
    assert api["environment"]["WEB_URL"] == f"http://web:{ports['web']}"
    assert api["environment"]["PORT"] == str(ports["api"])
    assert api["ports"] == [f"127.0.0.1:{ports['api']}:{ports['api']}"]
    assert "ports" not in services["worker"] and services["worker"]["depends_on"]["api"]
    caddy_env = services["caddy"]["environment"]
    assert caddy_env["OPS_ROUTES"] == f"reverse_proxy /api/* api:{ports['api']}"
    assert caddy_env["OPS_APP_UPSTREAM"] == f"web:{ports['web']}"
    # Every published port binds to loopback; no secret is written into the file.
    assert all(p.startswith("127.0.0.1:") for s in services.values() for p in s.get("ports", []))
    assert stack.state.redis_password not in stack.rendered_file.read_text()

    config = [*compose_validator(), *stack.base_command()[2:], "config", "--quiet"]
    accepted = stack.run(config, check=False)
    assert (accepted.returncode, accepted.stderr) == (0, "")
    stack.state.redis_password = ""
    refused = stack.run(config, check=False)
    assert refused.returncode != 0 and "set REDIS_PASSWORD (inv dev.up does)" in refused.stderr
