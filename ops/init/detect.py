"""What ``ops init`` can tell about a repository before writing anything.

Everything comes from files already there: ``package.json`` (dependencies,
scripts, workspaces), lock files, ``apps/*/package.json``, ``pyproject.toml``
and ``supabase/``. Nothing is run and nothing is fetched.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops.errors import ConfigError

# Env presets (ops.envcheck) a dependency asks for. The first match wins per preset.
PRESET_DEPENDENCIES: dict[str, tuple[str, ...]] = {
    "supabase": ("@supabase/supabase-js", "@supabase/ssr", "@supabase/auth-helpers-nextjs"),
    "stripe": ("stripe", "@stripe/stripe-js"),
    "sentry": ("@sentry/nextjs", "@sentry/node", "@sentry/react"),
    "upstash": ("@upstash/redis", "@upstash/ratelimit"),
    "posthog": ("posthog-js", "posthog-node"),
    "resend": ("resend",),
    "r2": ("@aws-sdk/client-s3",),
}
# A dependency that needs a Redis server next to the app.
REDIS_DEPENDENCIES = ("bullmq", "ioredis", "redis", "bull")
# Scripts a team already runs as its own checks, in the order CI runs them.
CHECK_SCRIPTS = ("lint", "typecheck", "test")
# Where supabase gen types usually writes the typed client's types.
TYPES_FILES = (
    "database.types.ts",
    "src/database.types.ts",
    "types/database.types.ts",
    "src/types/database.types.ts",
    "lib/database.types.ts",
    "src/lib/database.types.ts",
    "supabase/database.types.ts",
)


@dataclass(frozen=True)
class Service:
    """One app of a monorepo that has a ``dev`` script."""

    name: str
    directory: str  # relative to the root
    command: str
    ready_path: str | None  # None: ready when its port accepts connections
    worker: bool = False  # no port: ready once it stays up
    web: bool = False  # a web framework's dev server (Next.js, Vite...)


@dataclass
class Project:
    root: Path
    package_json: dict[str, Any] | None = None
    package_manager: str = "npm"  # npm | pnpm | yarn
    lockfile: str | None = None
    has_pyproject: bool = False
    pyproject_has_ops: bool = False
    has_ops_toml: bool = False
    next_app: bool = False
    app_command: str | None = None
    dependencies: set[str] = field(default_factory=set)
    presets: list[str] = field(default_factory=list)
    redis: bool = False
    services: list[Service] = field(default_factory=list)
    check_scripts: list[str] = field(default_factory=list)
    functions: bool = False
    types_file: str | None = None
    node_version: str = "22"

    @property
    def is_node(self) -> bool:
        return self.package_json is not None

    @property
    def monorepo(self) -> bool:
        return bool(self.services)

    def run_script(self, script: str) -> str:
        """How this repo's package manager runs ``script``."""
        if self.package_manager == "npm":
            return f"npm run {script}"
        return f"{self.package_manager} run {script}"


def _read_package_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}", "fix package.json, then run ops init again") from None
    return data if isinstance(data, dict) else None


def _dependencies(package: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for key in ("dependencies", "devDependencies", "optionalDependencies"):
        table = package.get(key)
        if isinstance(table, dict):
            names.update(str(name) for name in table)
    return names


def _scripts(package: dict[str, Any]) -> dict[str, str]:
    scripts = package.get("scripts")
    return {str(k): str(v) for k, v in scripts.items()} if isinstance(scripts, dict) else {}


def source_mentions(root: Path, words: tuple[str, ...]) -> set[str]:
    """Which of ``words`` occur in the JavaScript/TypeScript sources under ``root`` (text or path)."""
    found: set[str] = set()
    skip = {"node_modules", ".git", ".next", "dist", "build", ".ops", ".venv", "coverage"}
    budget = 3000  # files: a large repo is not read whole
    stack = [root]
    while stack and budget > 0 and len(found) < len(words):
        directory = stack.pop()
        try:
            entries = sorted(directory.iterdir())
        except OSError:
            continue
        for entry in entries:
            if entry.name in skip or entry.is_symlink():
                continue
            if entry.is_dir():
                stack.append(entry)
            elif entry.suffix in {".js", ".mjs", ".cjs", ".ts", ".tsx", ".jsx"}:
                budget -= 1
                try:
                    text = entry.read_text(encoding="utf-8", errors="replace")
                except OSError:
                    continue
                # The route's text ("/readyz") or its place (Next.js: app/readyz/route.ts).
                where = entry.relative_to(root).as_posix()
                found.update(word for word in words if word in text or word in where)
    return found


def _workspace_globs(root: Path, package: dict[str, Any] | None) -> list[str]:
    """Workspace patterns from package.json (npm/yarn), pnpm-workspace.yaml, else ``apps/*``."""
    globs: list[str] = []
    workspaces = (package or {}).get("workspaces")
    if isinstance(workspaces, dict):
        workspaces = workspaces.get("packages")
    if isinstance(workspaces, list):
        globs.extend(str(item) for item in workspaces)
    pnpm = root / "pnpm-workspace.yaml"
    if pnpm.is_file():
        # The packages list of pnpm-workspace.yaml, read without a YAML parser: "- 'apps/*'" lines.
        in_packages = False
        for line in pnpm.read_text(encoding="utf-8").splitlines():
            if re.match(r"^packages\s*:", line):
                in_packages = True
                continue
            if in_packages:
                item = re.match(r"^\s+-\s*['\"]?([^'\"#]+?)['\"]?\s*(#.*)?$", line)
                if item:
                    globs.append(item.group(1).strip())
                elif line.strip() and not line.startswith((" ", "\t")):
                    in_packages = False
    if not globs and (root / "apps").is_dir():
        globs.append("apps/*")
    return [glob for glob in dict.fromkeys(globs) if not glob.startswith("!")]


PORT_FLAG_TOOLS = ("next", "vite", "astro", "nuxt", "remix")


def _takes_port_flag(script: str) -> bool:
    """Next.js, Vite, Astro... take ``--port``; a plain node program reads ``PORT`` (which ops sets)."""
    return any(re.search(rf"\b{tool}\b", script) for tool in PORT_FLAG_TOOLS)


def _workspace_command(manager: str, directory: str, package_name: str, script: str) -> str:
    """Run one workspace's ``dev`` script from the root."""
    port = " --port {port}" if _takes_port_flag(script) else ""
    if manager == "pnpm":
        return f"pnpm --filter {package_name} run dev{port}"
    if manager == "yarn":
        return f"yarn workspace {package_name} run dev{port}"
    return f"npm run dev --workspace {directory}" + (f" --{port}" if port else "")


def _services(project: Project) -> list[Service]:
    services: list[Service] = []
    seen: set[str] = set()
    for glob in _workspace_globs(project.root, project.package_json):
        for manifest in sorted(project.root.glob(f"{glob.rstrip('/')}/package.json")):
            package = _read_package_json(manifest)
            if not package:
                continue
            scripts = _scripts(package)
            if "dev" not in scripts:
                continue
            directory = manifest.parent.relative_to(project.root).as_posix()
            package_name = str(package.get("name") or manifest.parent.name)
            name = re.sub(r"[^a-z0-9_]+", "_", manifest.parent.name.lower()).strip("_") or "app"
            if name in seen:
                continue
            seen.add(name)
            deps = _dependencies(package)
            project.dependencies |= deps
            web = _takes_port_flag(scripts["dev"])
            servers = {"next", "fastify", "express", "koa", "hono", "@nestjs/core", "vite"}
            worker = not web and ("worker" in name or ("bullmq" in deps and not servers & deps))
            mentioned = source_mentions(manifest.parent, ("readyz", "healthz"))
            ready = next((f"/{word}" for word in ("readyz", "healthz") if word in mentioned), "/" if web else None)
            command = _workspace_command(project.package_manager, directory, package_name, scripts["dev"])
            services.append(Service(name, directory, command, ready, worker=worker, web=web))
    # The first web app is the default service (Caddy sends it every path no route names).
    services.sort(key=lambda service: not service.web)
    return services


def detect(root: Path) -> Project:
    project = Project(root=root)
    pyproject = root / "pyproject.toml"
    project.has_pyproject = pyproject.is_file()
    if project.has_pyproject:
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{pyproject} is not valid TOML: {exc}", "fix the TOML syntax") from None
        project.pyproject_has_ops = "ops" in data.get("tool", {})
    project.has_ops_toml = (root / "ops.toml").is_file()
    project.package_json = _read_package_json(root / "package.json")
    for lockfile, manager in (("pnpm-lock.yaml", "pnpm"), ("yarn.lock", "yarn"), ("package-lock.json", "npm")):
        if (root / lockfile).is_file():
            project.package_manager, project.lockfile = manager, lockfile
            break
    project.functions = (root / "supabase" / "functions").is_dir()
    project.types_file = next((name for name in TYPES_FILES if (root / name).is_file()), None)
    if project.package_json is None:
        return project

    package = project.package_json
    project.dependencies = _dependencies(package)
    scripts = _scripts(package)
    engines = package.get("engines")
    if isinstance(engines, dict) and isinstance(engines.get("node"), str):
        major = re.search(r"\d+", engines["node"])
        if major:
            project.node_version = major.group(0)
    project.services = _services(project)
    project.next_app = "next" in project.dependencies
    if not project.monorepo:
        if "dev" in scripts:
            takes_port = _takes_port_flag(scripts["dev"])
            project.app_command = project.run_script("dev") + (" -- --port {port}" if takes_port else "")
        elif "start" in scripts:
            project.app_command = project.run_script("start")
    project.check_scripts = [name for name in CHECK_SCRIPTS if name in scripts]
    project.presets = [
        preset for preset, deps in PRESET_DEPENDENCIES.items() if any(dep in project.dependencies for dep in deps)
    ]
    project.redis = any(dep in project.dependencies for dep in REDIS_DEPENDENCIES)
    return project
