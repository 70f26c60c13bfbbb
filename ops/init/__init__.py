"""``ops init``: scaffold a team's repository for the toolkit, like ``supabase init``.

It writes what a repository needs to run every task: ``tasks.py``, the
settings (``[tool.ops]`` appended to pyproject.toml, else a standalone
``ops.toml``), ``supabase/`` when missing, ``.env.example`` from the env
schema, the pre-commit hooks, the GitHub workflows, a load scenario, a pgTAP
RLS example and the ``.gitignore`` entries. What it can tell from the
repository (``package.json``: the app command, env presets, monorepo apps,
Redis, the team's own lint/test scripts) goes into the settings and the
workflows. It never overwrites a file unless ``force``; ``pyproject.toml``
and ``.gitignore`` are only ever appended to.

Python API: ``ops.init.init(root, dry_run=False, force=False)`` returns an
:class:`InitReport`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops import __version__
from ops.errors import UsageError
from ops.init import render
from ops.init.detect import Project, detect

__all__ = ["InitReport", "init"]

DEFAULT_REQUIREMENT = f"ops-toolkit[all]=={__version__}"

CREATED, UPDATED, OVERWRITTEN, LEFT_ALONE = "created", "updated", "overwritten", "left alone"


@dataclass
class FileResult:
    path: str  # relative to the root, with a trailing / for a directory
    action: str  # created | updated | overwritten | left alone (prefixed "would be" in a dry run)
    detail: str = ""


@dataclass
class InitReport:
    root: Path
    dry_run: bool
    project: Project
    files: list[FileResult] = field(default_factory=list)
    exit_code: int = 0

    def written(self) -> list[str]:
        return [f.path for f in self.files if f.action in (CREATED, UPDATED, OVERWRITTEN)]

    def to_dict(self) -> dict[str, Any]:
        project = self.project
        return {
            "root": str(self.root),
            "dry_run": self.dry_run,
            "files": [{"path": f.path, "action": f.action, "detail": f.detail} for f in self.files],
            "detected": {
                "node": project.is_node,
                "package_manager": project.package_manager if project.is_node else None,
                "app_command": project.app_command,
                "services": [s.name for s in project.services],
                "redis": project.redis,
                "env_presets": project.presets,
                "ci_commands": project.check_scripts,
                "edge_functions": project.functions,
                "types_file": project.types_file,
            },
        }


@dataclass
class _Planned:
    path: str
    content: Callable[[], str] | None  # None: a directory
    exists: bool
    overwritable: bool = True  # --force may replace it
    append: bool = False  # appended to an existing file (pyproject.toml, .gitignore)
    keep_reason: str = ""


def init(
    root: Path | str,
    *,
    dry_run: bool = False,
    force: bool = False,
    refresh_workflow: bool = False,
    requirement: str | None = None,
    only: list[str] | None = None,
) -> InitReport:
    """Scaffold ``root``; returns what was (or, with ``dry_run``, would be) written.

    ``only`` limits it to these paths (a directory covers what is under it), for
    example ``only=[".github/workflows/ci.yml"], force=True`` re-renders just CI."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise UsageError(f"{root} is not a directory", "run ops init in your repository's root")
    project = detect(root)
    report = InitReport(root=root, dry_run=dry_run, project=project)
    requirement = requirement or DEFAULT_REQUIREMENT

    wanted = [path.strip("/") for path in only or []]

    # The settings first: every other file is rendered from them (CI steps, env names), so
    # they are read when the first file's text is rendered, after the settings are written.
    config = _plan_config(project)
    loaded: list[Any] = []

    def cfg() -> Any:
        if not loaded:
            loaded.append(_load(root))
        return loaded[0]

    planned = [config, *_plan_files(project, cfg, refresh_workflow, requirement)]
    for path in wanted:
        if not any(_under(p.path, path) for p in planned):
            raise UsageError(f"ops init does not write {path}", "pass paths that ops init --dry-run lists")
    for item in planned:
        if not wanted or any(_under(item.path, path) for path in wanted):
            _apply(report, item, force)
    return report


def _under(path: str, wanted: str) -> bool:
    path = path.rstrip("/")
    return path == wanted or path.startswith(wanted + "/")


def _load(root: Path) -> Any:
    from ops.config import load

    return load(root)


def _plan_config(project: Project) -> _Planned:
    if project.pyproject_has_ops:
        return _Planned("pyproject.toml", None, True, overwritable=False, keep_reason="already has [tool.ops]")
    if project.has_ops_toml:
        return _Planned("ops.toml", lambda: render.config_text(project).text, True)
    text = render.config_text(project)
    if text.standalone:
        return _Planned("ops.toml", lambda: text.text, False)
    return _Planned("pyproject.toml", lambda: text.text, False, append=True)


def _plan_files(project: Project, cfg: Callable[[], Any], refresh: bool, requirement: str) -> list[_Planned]:
    root = project.root

    def planned(path: str, content: Callable[[], str] | None, **kwargs: Any) -> _Planned:
        return _Planned(path, content, (root / path.rstrip("/")).exists(), **kwargs)

    files = [planned("tasks.py", lambda: render.template("tasks.py.txt"))]

    new_supabase_config = not (root / "supabase" / "config.toml").exists()
    files.append(planned("supabase/migrations/", None))
    files.append(planned("supabase/config.toml", lambda: render.supabase_config(project)))
    if new_supabase_config or (root / "supabase" / "seed.sql").exists():
        files.append(planned("supabase/seed.sql", lambda: render.template("supabase", "seed.sql")))
    tests_dir = root / "supabase" / "tests"
    has_tests = tests_dir.is_dir() and any(tests_dir.glob("*.sql"))
    example = planned("supabase/tests/rls_test.sql", lambda: render.template("supabase", "tests", "rls_test.sql"))
    if has_tests and not example.exists:
        example.exists, example.overwritable, example.keep_reason = True, False, "supabase/tests/ has tests already"
    files.append(example)

    files.append(planned(".env.example", lambda: _env_example(cfg())))
    files.append(planned(".pre-commit-config.yaml", lambda: render.template("pre-commit-config.yaml")))

    for name, content in _workflows(project, cfg, refresh, requirement).items():
        files.append(planned(f".github/workflows/{name}", content))
    for name, scenario in _lazy_scenarios(project).items():
        files.append(planned(f"infra/tests/load/{name}", scenario))

    gitignore = root / ".gitignore"
    present = set(gitignore.read_text(encoding="utf-8").splitlines()) if gitignore.is_file() else set()
    missing = [entry for entry in render.GITIGNORE_ENTRIES if entry not in present]
    if gitignore.is_file() and not missing:
        files.append(_Planned(".gitignore", None, True, overwritable=False, keep_reason="has every entry"))
    else:
        lines = "".join(f"{entry}\n" for entry in missing)
        text = ("\n# ops toolkit: local state and env files with secrets\n" + lines) if present else lines
        files.append(_Planned(".gitignore", lambda: text, False, append=gitignore.is_file()))
    return files


def _lazy_scenarios(project: Project) -> dict[str, Callable[[], str]]:
    cache: dict[str, str] = {}

    def scenario(name: str) -> Callable[[], str]:
        def text() -> str:
            if not cache:
                cache.update(render.load_scenarios(project))
            return cache[name]

        return text

    return {name: scenario(name) for name in ("smoke.js", "smoke.yml")}


def _workflows(
    project: Project, cfg: Callable[[], Any], refresh: bool, requirement: str
) -> dict[str, Callable[[], str]]:
    def environment(name: str) -> tuple[str, str]:
        settings = cfg().env(name)
        return settings.db_url_env or "", settings.base_url_env or ""

    def ci() -> str:
        from ops.ci import ci_settings, pipeline

        return render.ci_workflow(project, pipeline(ci_settings(cfg())), cfg().source_name, requirement)

    def staging() -> str:
        return render.deploy_workflow(project, "staging", *environment("staging"), requirement)

    def production() -> str:
        return render.deploy_workflow(project, "production", *environment("production"), requirement)

    def backup() -> str:
        return render.backup_workflow(project, environment("production")[0], environment("staging")[0], requirement)

    def refresh_staging() -> str:
        return render.refresh_workflow(project, environment("production")[0], environment("staging")[0], requirement)

    workflows = {"ci.yml": ci, "deploy-staging.yml": staging, "deploy-prod.yml": production, "backup.yml": backup}
    if refresh:
        workflows["refresh-staging.yml"] = refresh_staging
    return workflows


def _env_example(cfg: Any) -> str:
    from ops.envcheck.example import render_example
    from ops.envcheck.settings import load_schema

    return render_example(load_schema(cfg))


def _apply(report: InitReport, planned: _Planned, force: bool) -> None:
    target = report.root / planned.path.rstrip("/")
    prefix = "would be " if report.dry_run else ""
    if planned.content is None:
        if planned.exists:
            report.files.append(FileResult(planned.path, LEFT_ALONE, planned.keep_reason or "exists"))
            return
        if not report.dry_run:
            target.mkdir(parents=True, exist_ok=True)
        report.files.append(FileResult(planned.path, prefix + CREATED))
        return
    if planned.append:
        if not report.dry_run:
            existing = target.read_text(encoding="utf-8")
            separator = "" if not existing or existing.endswith("\n") else "\n"
            _write(target, existing + separator + planned.content())
        report.files.append(FileResult(planned.path, prefix + UPDATED, "appended"))
        return
    if planned.exists and not (force and planned.overwritable):
        hint = planned.keep_reason or ("exists; --force overwrites it" if planned.overwritable else "exists")
        report.files.append(FileResult(planned.path, LEFT_ALONE, hint))
        return
    action = OVERWRITTEN if planned.exists else CREATED
    if not report.dry_run:
        target.parent.mkdir(parents=True, exist_ok=True)
        _write(target, planned.content())
    report.files.append(FileResult(planned.path, prefix + action))


def _write(path: Path, text: str) -> None:
    """Atomically: an interrupted init never leaves half a file."""
    temporary = path.with_name(f".{path.name}.ops-init-{os.getpid()}")
    temporary.write_text(text, encoding="utf-8")
    temporary.chmod(0o644)
    temporary.replace(path)
