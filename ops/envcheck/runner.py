"""``check``: the whole env.check pipeline for one environment.

Steps: gather sources -> parse every env file once -> per-file checks ->
merged-environment checks -> .env.example drift -> git hygiene.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.config import Config
from ops.console import register_secret
from ops.envcheck.checks import Setting, environment_findings, exposure_findings, file_findings
from ops.envcheck.dotenv import EnvFile, parse_file
from ops.envcheck.example import ExampleWritten, example_findings, render_and_write
from ops.envcheck.findings import ERROR, WARNING, Finding
from ops.envcheck.gitfiles import GitQuery, hygiene_findings, is_env_file_name
from ops.envcheck.kinds import is_live_stripe_key, secret_shape
from ops.envcheck.schema import Schema
from ops.envcheck.settings import env_settings, load_schema
from ops.errors import UsageError

PROCESS_ENV = "process env"


@dataclass
class Report:
    environment: str
    sources: list[str]
    variables_set: int
    findings: list[Finding] = field(default_factory=list)
    git: bool = False
    label: str = ""  # how the summary line starts; "env.check <environment>" by default

    @property
    def errors(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.severity == ERROR]

    @property
    def warnings(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.severity == WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def exit_code(self) -> int:
        """1 when a finding is an error (warnings alone pass)."""
        return 0 if self.ok else 1

    def summary(self) -> str:
        sources = ", ".join(self.sources) or "no sources"
        label = self.label or f"env.check {self.environment}"
        if self.ok:
            warned = f", {_plural(len(self.warnings), 'warning')}" if self.warnings else ""
            return f"{label}: ok ({self.variables_set} variables set from {sources}{warned})"
        warned = f" and {_plural(len(self.warnings), 'warning')}" if self.warnings else ""
        return f"{label}: {_plural(len(self.errors), 'problem')}{warned} (sources: {sources})"

    def to_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "ok": self.ok,
            "sources": self.sources,
            "variables_set": self.variables_set,
            "git": self.git,
            "counts": {"error": len(self.errors), "warning": len(self.warnings)},
            "findings": [finding.to_json() for finding in self.findings],
        }


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


class _Files:
    """Every env file of the run, parsed once, keyed by its display path."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.parsed: dict[str, EnvFile] = {}

    def display(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(self.root))
        except ValueError:
            return str(path)

    def get(self, path: Path) -> EnvFile:
        display = self.display(path)
        if display not in self.parsed:
            try:
                self.parsed[display] = parse_file(path, display)
            except OSError as exc:
                raise UsageError(f"cannot read {display}: {exc.strerror}", "check the file's permissions") from None
        return self.parsed[display]


def check(
    cfg: Config,
    environment: str = "local",
    files: Iterable[str | os.PathLike[str]] = (),
    process_env: Mapping[str, str] | None = None,
) -> Report:
    """Validate one environment's variables and the project's env files."""
    env_settings = cfg.env(environment)
    schema = load_schema(cfg)
    example_path = _example_path(cfg)
    extra = [Path(name) for name in files]
    for path in extra:
        if not path.is_file():
            raise UsageError(f"env file not found: {path}", "pass an existing file to --file")
    parsed = _Files(cfg.root)
    environ = (os.environ if process_env is None else process_env) if env_settings.process_env else None
    git = GitQuery(cfg.root)
    try:
        settings, sources = _environment_settings(cfg, env_settings.env_files, extra, environ, schema, parsed)
        example = parsed.get(example_path) if example_path.is_file() else None
        # Every env file of the project gets the per-file checks, not only the ones this environment reads.
        _parse_all(cfg.root, (path.name for path in cfg.root.iterdir() if is_env_file_name(path.name)), parsed)
    finally:
        view = git.result()
    _parse_all(cfg.root, view.tracked | view.unignored, parsed)

    findings: list[Finding] = []
    for env_file in parsed.parsed.values():
        _register_secrets(env_file.values, schema)
        _register_secret_keys(env_file)
        findings += file_findings(env_file)
        for key, assignment in env_file.assignments.items():
            findings += exposure_findings(key, assignment.value, env_file.display, assignment.line, schema)
    for key, setting in settings.items():
        if not setting.from_file:
            _register_secrets({key: setting.value}, schema)
            findings += exposure_findings(key, setting.value, PROCESS_ENV, None, schema)
    findings += environment_findings(environment, settings, schema, _where_to_set(env_settings.env_files))
    findings += example_findings(schema, example, parsed.display(example_path))
    findings += hygiene_findings(view)
    return Report(
        environment=environment,
        sources=sources,
        variables_set=sum(1 for setting in settings.values() if setting.value),
        findings=_ordered(findings),
        git=view.in_repository,
    )


def _environment_settings(
    cfg: Config,
    env_files: Iterable[str],
    extra: list[Path],
    environ: Mapping[str, str] | None,
    schema: Schema,
    parsed: _Files,
) -> tuple[dict[str, Setting], list[str]]:
    """What the environment ends up with: the process env (hosted environments), then each file; later wins."""
    settings: dict[str, Setting] = {}
    sources: list[str] = []
    if environ is not None:
        sources.append(PROCESS_ENV)
        for key, value in environ.items():
            # Only variables we know or that reach the browser: the rest of the process env is not ours to judge.
            if key in schema.variables or schema.public_prefix(key):
                settings[key] = Setting(value, PROCESS_ENV, None, from_file=False)
    for path in [cfg.path(name) for name in env_files if cfg.path(name).is_file()] + extra:
        env_file = parsed.get(path)
        sources.append(env_file.display)
        for key, assignment in env_file.assignments.items():
            settings[key] = Setting(assignment.value, env_file.display, assignment.line, from_file=True)
    return settings, sources


def _where_to_set(env_files: tuple[str, ...]) -> str:
    """What a missing variable's message tells the user to do: the last file wins, so it goes there."""
    if env_files:
        return f"add it to {env_files[-1]}; .env.example lists every variable"
    return "set it in the process environment or pass --file"


def _parse_all(root: Path, names: Iterable[str], parsed: _Files) -> None:
    for name in sorted(names):
        if (root / name).is_file():
            parsed.get(root / name)


def _example_path(cfg: Config) -> Path:
    return cfg.path(env_settings(cfg).example_file)


def _register_secrets(values: Mapping[str, str], schema: Schema) -> None:
    """Defence in depth: even a value that slips into a message gets masked."""
    for key, value in values.items():
        variable = schema.variables.get(key)
        if (variable is not None and variable.secret) or secret_shape(value):
            register_secret(value)


def _register_secret_keys(env_file: EnvFile) -> None:
    """A pasted secret can end up as a *key* (``sk_live_...: x``, a PEM's base64 line ending in ``=``),
    and findings name keys: mask those too."""
    for fragment in env_file.secret_fragments:
        register_secret(fragment)
    for key in env_file.assignments:
        if secret_shape(key) or is_live_stripe_key(key):
            register_secret(key)


def _ordered(findings: list[Finding]) -> list[Finding]:
    unique = list(dict.fromkeys(findings))
    return sorted(unique, key=lambda f: (f.where, f.line or 0, f.code, f.key or ""))


def example_check(cfg: Config) -> Report:
    """``env.example --check``: only the .env.example drift findings."""
    schema = load_schema(cfg)
    path = _example_path(cfg)
    parsed = _Files(cfg.root)
    example = parsed.get(path) if path.is_file() else None
    if example is not None:
        _register_secrets(example.values, schema)
    display = parsed.display(path)
    return Report(
        environment="example",
        sources=[display] if example else [],
        variables_set=len(example.assignments) if example else 0,
        findings=_ordered(example_findings(schema, example, display)),
        label="env.example --check",
    )


def write_example(cfg: Config) -> ExampleWritten:
    """``env.example``: write .env.example from the schema."""
    path = _example_path(cfg)
    files = _Files(cfg.root)
    previous = files.get(path) if path.is_file() else None
    dropped = env_settings(cfg).exclude
    return render_and_write(load_schema(cfg), path, files.display(path), previous, dropped)
