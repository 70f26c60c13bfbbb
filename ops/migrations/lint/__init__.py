"""``db.lint``: squawk plus our own Supabase security rules, per migration file.

``squawk`` runs squawk on each file the way the runner executes it; ``rules``
holds our rules, which read every migration in order. This module picks the
files, runs both, applies the configured severities and renders the report.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops.errors import CheckFailed, OpsError, UsageError
from ops.migrations.lint.findings import Finding
from ops.migrations.lint.rules import SchemaModel
from ops.migrations.lint.squawk import run_squawk
from ops.migrations.settings import LintSettings, lint_settings

if TYPE_CHECKING:
    from ops.config import Config
    from ops.migrations.split import Statement

__all__ = ["Finding", "LintReport", "lint", "lint_paths", "render"]


@dataclass
class LintReport:
    files: list[str]
    findings: list[Finding] = field(default_factory=list)
    fail_on_warnings: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    @property
    def failed(self) -> bool:
        return bool(self.errors or (self.fail_on_warnings and self.warnings))

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def failure(self) -> OpsError | None:
        if not self.failed:
            return None
        return CheckFailed(
            f"db.lint found {self.errors} error(s) and {self.warnings} warning(s)",
            "fix the findings above, or set a rule's severity in [tool.ops.lint]",
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "errors": self.errors,
            "warnings": self.warnings,
            "failed": self.failed,
            "notes": self.notes,
            "findings": [asdict(f) for f in self.findings],
        }


# -- entry points -----------------------------------------------------------------


def lint(cfg: Config, files: Iterable[str | Path] = (), *, include_all: bool = False) -> LintReport:
    """Lint ``files``; none given: every migration with ``include_all``, else
    the pending migrations plus the migration files changed in git."""
    settings = lint_settings(cfg)
    notes: list[str] = []
    if files:
        targets = [cfg.path(f) for f in files]
    elif include_all:
        targets = [m.path for m in _migrations(cfg)]
    else:
        targets, notes = default_targets(cfg)
    missing = [str(t) for t in targets if not t.is_file()]
    if missing:
        raise UsageError(f"no such file: {missing[0]}", "pass existing .sql files")
    report = lint_paths(targets, context=[m.path for m in _migrations(cfg)], settings=settings, root=cfg.root)
    report.notes = notes + report.notes
    return report


def lint_paths(
    targets: Iterable[Path],
    *,
    context: Iterable[Path] = (),
    settings: LintSettings | None = None,
    root: Path | None = None,
) -> LintReport:
    """Lint ``targets``; ``context`` is every migration, in order, which our
    rules read to know the schema the targets run against."""
    settings = settings or LintSettings()
    targets = [Path(t).resolve() for t in targets]
    context = [Path(c).resolve() for c in context]
    shown = {t: _display(t, root) for t in targets}
    parsed = {path: _split(path, shown.get(path, path.name)) for path in dict.fromkeys([*context, *targets])}
    findings: list[Finding] = []
    for path in targets:
        findings += run_squawk(path, parsed[path], shown[path], settings)
    order = list(dict.fromkeys([*context, *sorted(set(targets) - set(context))]))
    findings += SchemaModel(settings.exposed_schemas).check(
        [(path, parsed[path]) for path in order], {path: shown[path] for path in targets}
    )
    findings = _apply_severity(findings, settings)
    findings.sort(key=lambda f: (f.file, f.line, f.rule))
    return LintReport(files=[shown[t] for t in targets], findings=findings, fail_on_warnings=settings.fail_on_warnings)


def default_targets(cfg: Config) -> tuple[list[Path], list[str]]:
    """Pending migrations (not yet applied to the local database) plus the
    migration files git reports as changed or new."""
    notes: list[str] = []
    migrations = _migrations(cfg)
    targets: list[Path] = []
    applied = _applied_versions(cfg)
    if applied is None:
        notes.append("local database not reachable: linting the migration files changed in git")
    else:
        targets += [m.path for m in migrations if m.version not in applied]
    targets += _changed_in_git(cfg.root, cfg.migrations_dir)
    return sorted(set(targets)), notes


def _migrations(cfg: Config) -> list[Any]:
    from ops.migrations.files import load_migrations

    return load_migrations(cfg.migrations_dir)


def _applied_versions(cfg: Config) -> set[str] | None:
    """Versions applied to the local dev database; None when it is not running."""
    import psycopg

    from ops.migrations import history
    from ops.pg.connect import connect
    from ops.targets import db_url

    try:
        with connect(db_url(cfg, "local"), application_name="ops db.lint", connect_timeout=5) as conn:
            return set(history.read_applied(conn))
    except (OpsError, psycopg.Error):
        return None


def _changed_in_git(root: Path, directory: Path) -> list[Path]:
    git = shutil.which("git")
    if git is None or not directory.is_dir():
        return []
    result = subprocess.run(
        [git, "status", "--porcelain", "--untracked-files=all", "--", str(directory)],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        return []
    toplevel = subprocess.run([git, "rev-parse", "--show-toplevel"], cwd=root, capture_output=True, text=True)
    base = Path(toplevel.stdout.strip()) if toplevel.returncode == 0 else root
    paths: list[Path] = []
    for line in result.stdout.splitlines():
        status, name = line[:2], line[3:].split(" -> ")[-1].strip('"')
        path = base / name
        if "D" not in status and path.suffix == ".sql" and path.is_file():
            paths.append(path.resolve())
    return paths


def _display(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(path.relative_to(Path(root).resolve()))
        except ValueError:
            pass
    return str(path)


def _split(path: Path, shown: str) -> list[Statement]:
    from ops.migrations.split import split_sql

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {shown}: {exc}", "check the file") from None
    return split_sql(text, source=shown)


def _apply_severity(findings: list[Finding], settings: LintSettings) -> list[Finding]:
    overrides = settings.severity
    kept: list[Finding] = []
    for finding in findings:
        level = overrides.get(finding.rule, finding.severity)
        if level != "off":
            finding.severity = level
            kept.append(finding)
    return kept


# -- rendering -------------------------------------------------------------------


def render(out: Any, report: LintReport) -> None:
    """One line per finding, a summary, the JSON document (``report.failure()``
    is the closing error line)."""
    for note in report.notes:
        out.line(f"note: {note}")
    if not report.files:
        out.line("No migrations to lint")
    for finding in report.findings:
        out.line(finding.render())
    if report.files:
        out.line(f"{len(report.files)} file(s) linted: {report.errors} error(s), {report.warnings} warning(s)")
    out.result(report.to_dict())
