"""``[tool.ops.dev]``: every bad value is a one-line config error (exit 2), never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO, make_stack_project, run_ops

from ops.config import load
from ops.errors import ConfigError
from ops.stack.caddy import template_path
from ops.stack.compose import ComposeStack


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            {"ready_timeout": "abc"},
            "[tool.ops.dev] ready_timeout must be a number of seconds > 0"
            " (fix: fix ready_timeout in pyproject.toml, or remove it for the default 30.0)",
        ),
        (
            {"ready_timeout": 0},
            "[tool.ops.dev] ready_timeout must be a number of seconds > 0"
            " (fix: fix ready_timeout in pyproject.toml, or remove it for the default 30.0)",
        ),
        (
            {"seed": "no"},
            "[tool.ops.dev] seed must be true or false"
            " (fix: fix seed in pyproject.toml, or remove it for the default true)",
        ),
        (
            {"https_port": 70000},
            "[tool.ops.dev] https_port must be a port number (0 picks a free one)"
            " (fix: fix https_port in pyproject.toml, or remove it for the default 8443)",
        ),
        (
            {"app_ready_path": "readyz"},
            "[tool.ops.dev] app_ready_path must be a URL path starting with /"
            ' (fix: fix app_ready_path in pyproject.toml, or remove it for the default "/readyz")',
        ),
        (
            {"app_command": 1},
            "[tool.ops.dev] app_command must be a string (fix: fix app_command in pyproject.toml, or remove it)",
        ),
        (
            {"app_command": "{python} -m http.server {listen_port}"},
            "[tool.ops.dev] app_command cannot be used: unknown placeholder {listen_port}"
            " (fix: use a shell-style command; placeholders: {port}, {host}, {python})",
        ),
        (
            {"app_env": "X=1"},
            "[tool.ops.dev] app_env must be a table of strings (fix: fix app_env in pyproject.toml, or remove it)",
        ),
        (
            {"https-port": 1},
            "unknown key 'https-port' in [tool.ops.dev] (fix: allowed keys: admin_port, app_command, app_env,"
            " app_port, app_ready_path, caddy_bin, caddyfile, compose_file, db_port, http_port, https_port,"
            " provider, ready_timeout, seed)",
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
