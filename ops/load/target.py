"""Where a load run goes, and what the engine needs to reach it.

The guard runs first, on the environment name and on the resolved URL, so a
run aimed at production stops before any engine starts or any byte is sent.
The scripts never hold the URL: it reaches them as ``BASE_URL``, with the
tokens as environment variables (never on a command line).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ops.config import Config
from ops.console import register_secret
from ops.errors import ConfigError
from ops.guards import refuse_production_target
from ops.load.settings import LoadSettings

ACTION = "load.run"


@dataclass(frozen=True)
class Target:
    env: str
    base_url: str
    ca_files: tuple[Path, ...] = ()
    # Variables the scripts read: BASE_URL, the tokens, the rate limit.
    variables: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def guard(cfg: Config, env: str, base_url: str | None = None) -> None:
    """Refuse production by name, or by a URL equal to production's base URL."""
    refuse_production_target(cfg, env, ACTION, base_url=base_url)


def resolve_target(cfg: Config, env: str, settings: LoadSettings, scenario: str, base_url: str | None = None) -> Target:
    """The guarded target of a run: its URL, the CAs to trust and the scripts' variables."""
    from ops.targets import base_url as env_base_url

    guard(cfg, env)
    url = (base_url or env_base_url(cfg, env)).rstrip("/")
    guard(cfg, env, url)

    app_env: dict[str, str] = {}
    ca_files: list[Path] = []
    if env == "local" and base_url is None:
        from ops.local import local_app_env, local_ca_path

        app_env = local_app_env(cfg)
        ca_files.append(local_ca_path(cfg))
    if settings.ca_file is not None:
        if not settings.ca_file.is_file():
            raise ConfigError(f"ca_file {settings.ca_file} does not exist", "fix ca_file in [tool.ops.load]")
        ca_files.append(settings.ca_file)

    def lookup(name: str) -> str:
        return app_env.get(name) or os.environ.get(name, "")

    variables = {"BASE_URL": url, "RATE_LIMIT_PER_MINUTE": str(settings.rate_limit_per_minute)}
    if app_env.get("RATE_LIMIT_PER_MINUTE"):
        variables["RATE_LIMIT_PER_MINUTE"] = app_env["RATE_LIMIT_PER_MINUTE"]
    warnings: list[str] = []
    bypass = lookup(settings.bypass_token_env)
    admin = lookup(settings.admin_token_env)
    if bypass:
        variables["RATE_LIMIT_BYPASS_TOKEN"] = bypass
    elif scenario != "ratelimit":
        warnings.append(
            f"{settings.bypass_token_env} is not set: requests count against the app's rate limit and may get 429"
        )
    if admin:
        variables["ADMIN_TOKEN"] = admin
    elif scenario == "admin":
        raise ConfigError(
            "the admin scenario needs the app's admin token", f"set {settings.admin_token_env} in the environment"
        )
    for secret in (bypass, admin):
        register_secret(secret)
    return Target(env=env, base_url=url, ca_files=tuple(ca_files), variables=variables, warnings=tuple(warnings))


def trust_bundle(target: Target, run_dir: Path) -> Path | None:
    """A PEM bundle with the system roots plus the target's extra CAs.

    k6 has no --cacert: Go's crypto/x509 on Linux reads SSL_CERT_FILE instead
    of the system store, so the bundle must carry the system roots too, or a
    staging URL with a public certificate would stop verifying.
    """
    if not target.ca_files:
        return None
    import ssl  # here, not at the top: only a run that trusts an extra CA needs it

    parts: list[str] = []
    system = ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
    if Path(system).is_file():
        parts.append(Path(system).read_text())
    for ca in target.ca_files:
        try:
            parts.append(ca.read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read CA file {ca}: {exc.strerror}", "check ca_file in [tool.ops.load]") from None
    bundle = run_dir / "ca-bundle.pem"
    bundle.write_text("\n".join(part.strip() + "\n" for part in parts))
    return bundle
