"""``[tool.ops.dev]``: every bad value is a one-line config error (exit 2), never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO, make_stack_project, run_cli

from ops.config import load
from ops.errors import ConfigError
from ops.stack.caddy import template_path
from ops.stack.compose import ComposeStack


def _fix(key: str) -> str:
    return f" (fix: fix {key} in [tool.ops.dev] of pyproject.toml)"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            {"ready_timeout": "abc"},
            "[tool.ops.dev] ready_timeout: Input should be a valid number, unable to parse string as a number"
            + _fix("ready_timeout"),
        ),
        ({"ready_timeout": 0}, "[tool.ops.dev] ready_timeout: Input should be greater than 0" + _fix("ready_timeout")),
        ({"seed": "no"}, "[tool.ops.dev] seed: Input should be a valid boolean" + _fix("seed")),
        (
            {"https_port": 70000},
            "[tool.ops.dev] https_port: Input should be less than or equal to 65535" + _fix("https_port"),
        ),
        (
            {"app_ready_path": "readyz"},
            "[tool.ops.dev] app_ready_path: must be a URL path starting with /" + _fix("app_ready_path"),
        ),
        ({"app_command": 1}, "[tool.ops.dev] app_command: Input should be a valid string" + _fix("app_command")),
        (
            {"app_command": "{python} -m http.server {listen_port}"},
            "[tool.ops.dev] app_command: cannot be used: unknown placeholder {listen_port};"
            " use a shell-style command with placeholders {port}, {host}, {python}" + _fix("app_command"),
        ),
        ({"app_env": "X=1"}, "[tool.ops.dev] app_env: must be a table of strings" + _fix("app_env")),
        (
            {"https-port": 1},
            "[tool.ops.dev] unknown key 'https-port' (fix: did you mean 'https_port'? (in pyproject.toml))",
        ),
    ],
    ids=["timeout-text", "timeout-zero", "seed", "port", "ready-path", "command", "placeholder", "env", "typo"],
)
def test_a_bad_setting_is_a_one_line_config_error(tmp_path: Path, setting: dict[str, object], message: str) -> None:
    root = make_stack_project(tmp_path / "project", **setting)
    for task in ("dev.up", "dev.status"):
        result = run_cli(task, cwd=root, env={"OPS_PROJECT_ROOT": str(root)})
        assert (result.code, result.stderr.strip(), result.stdout) == (2, f"error: {message}", "")
    assert not (root / ".ops").exists()


def test_templates_left_at_their_default_fall_back_to_the_toolkits_own(tmp_path: Path) -> None:
    cfg = load(make_stack_project(tmp_path / "project"))
    assert template_path(cfg) == REPO / "ops" / "resources" / "caddy" / "Caddyfile"
    assert ComposeStack.load(cfg).compose_file == REPO / "ops" / "resources" / "docker" / "compose.yml"


def test_a_template_path_the_user_set_must_exist(tmp_path: Path) -> None:
    root = make_stack_project(tmp_path / "project", caddyfile="ops/Caddyfile", compose_file="ops/compose.yml")
    cfg = load(root)
    with pytest.raises(ConfigError) as caught:
        template_path(cfg)
    assert caught.value.one_line() == (
        f"error: caddyfile {root / 'ops' / 'Caddyfile'} does not exist"
        " (fix: create it, or remove caddyfile from [tool.ops.dev] to use the toolkit's own)"
    )
    with pytest.raises(ConfigError, match=r"^compose_file .* does not exist$"):
        _ = ComposeStack.load(cfg).compose_file
    (root / "ops").mkdir()
    (root / "ops" / "Caddyfile").write_text("localhost {\n}\n")
    assert template_path(cfg) == root / "ops" / "Caddyfile"


def _services(tmp_path: Path, services: dict[str, dict[str, object]], **dev: object) -> object:
    from ops.local.settings import dev_settings

    root = make_stack_project(tmp_path / "project", **dev)
    lines = []
    for name, table in services.items():
        lines.append(f"\n[tool.ops.dev.services.{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    with (root / "pyproject.toml").open("a") as handle:
        handle.write("\n".join(lines) + "\n")
    return dev_settings(load(root))


@pytest.mark.parametrize(
    ("services", "message"),
    [
        (
            {"web": {"command": "node web.js", "ready_path": "/", "ready_tcp": True}},
            "services.web: give one of ready_path, ready_tcp or ready_after",
        ),
        ({"web": {"ready_path": "/"}}, "services.web: a service needs a command"),
        ({"redis": {"kind": "redis", "command": "redis-server"}}, "services.redis: a redis service takes no command"),
        ({"caddy": {"command": "x"}}, "service name 'caddy' must be lower-case letters, digits, - or _"),
        (
            {"a": {"command": "x", "depends_on": ["b"]}, "b": {"command": "x", "depends_on": ["a"]}},
            "services depend on each other in a circle: a, b",
        ),
        ({"web": {"command": "node {script}.js"}}, "services.web: cannot be used: unknown placeholder {script}"),
        ({"web": {"command": "x", "ready_after": "soon"}}, "services.web.ready_after: must be a duration"),
        ({"web": {"command": "x", "prot": 1}}, "unknown key 'services.web.prot' (fix: did you mean 'port'?"),
    ],
    ids=["two-readiness", "no-command", "redis-command", "reserved", "circle", "placeholder", "duration", "typo"],
)
def test_bad_services_are_one_line_config_errors(
    tmp_path: Path, services: dict[str, dict[str, object]], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _services(tmp_path, services)
    assert message in caught.value.one_line()


def test_services_wave_by_dependency_and_redis_comes_first(tmp_path: Path) -> None:
    settings = _services(
        tmp_path,
        {
            "worker": {"command": "node worker.js", "depends_on": ["api"]},
            "api": {"command": "node api.js", "ready_path": "/healthz"},
            "web": {"command": "node web.js", "ready_tcp": True},
            "redis": {"kind": "redis"},
        },
    )
    assert settings.order() == [["redis"], ["api", "web"], ["worker"]]  # type: ignore[attr-defined]
    assert settings.default_service == "api"  # type: ignore[attr-defined]  # the first with a ready path
    assert "app" not in settings.service_table()  # type: ignore[attr-defined]  # no sample app next to them
    ports = settings.ports  # type: ignore[attr-defined]
    assert ports["api"] == 0 and ports["web"] == 0 and "worker" not in ports and ports["redis"] == 0


def test_a_route_must_name_a_service_with_a_port(tmp_path: Path) -> None:
    root = make_stack_project(tmp_path / "project")
    with (root / "pyproject.toml").open("a") as handle:
        handle.write('\n[tool.ops.dev.services.worker]\ncommand = "x"\n\n[tool.ops.dev.routes]\n"/api/*" = "worker"\n')
    from ops.local.settings import dev_settings

    with pytest.raises(ConfigError, match="route '/api/\\*' names 'worker', which is not a service with a port"):
        dev_settings(load(root))
