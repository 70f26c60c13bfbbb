"""``[tool.ops.dev]``: every bad value is a one-line config error (exit 2), never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO, make_stack_project, run_ops

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
        result = run_ops(task, cwd=root, env={"OPS_PROJECT_ROOT": str(root)})
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
