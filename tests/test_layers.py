"""The import layers of ``ops/``: no cycles, and no module imports a layer above its own.

Every ``import``/``from ... import`` of every module is read with ``ast``, those inside
functions (lazy imports) included, since a lazy import is a dependency all the same.

Layers, top to bottom; a module may import its own layer and the layers below it:

    tasks -> workflow domains -> stack -> guards/targets -> local -> pg, envcheck
    -> settings/config -> console, errors

A new module or package goes into ``LAYERS`` below (its dotted name under ``ops``; the
longest matching prefix wins).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

OPS = Path(__file__).resolve().parents[1] / "ops"

# Rank 0 is the top floor. Keep one row per layer; add new modules to the row they belong to.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("entry points", ("ops.tasks", "ops.__main__", "ops.sample_app")),
    (
        "workflow domains",
        (
            "ops.migrations",
            "ops.backup",
            "ops.load",
            "ops.health",
            "ops.release",
            "ops.ci",
            "ops.init",
            "ops.anonymize",
        ),
    ),
    ("stack", ("ops.stack",)),
    ("guards/targets", ("ops.guards", "ops.targets")),
    ("local", ("ops.local",)),
    ("pg, envcheck", ("ops.pg", "ops.envcheck")),
    ("settings/config", ("ops.settings", "ops.config")),
    ("console, errors", ("ops.console", "ops.errors", "ops.resources", "ops")),
]

# The one sanctioned edge upwards, with why. `dev.up` applies the schema with the migration
# runner itself, so a stack's database has exactly the history `db.migrate` writes; the
# migration runner in turn never imports the stack (the cycle test holds it to that).
ALLOWED_UPWARD: dict[tuple[str, str], str] = {
    ("ops.stack.database", "ops.migrations"): "the stack applies the schema with ops.migrations.migrate/seed",
    ("ops.stack.database", "ops.migrations.extensions"): (
        "the local server preloads what the extensions the migrations create need (shared_preload_libraries)"
    ),
}


def layer_of(module: str) -> int | None:
    """The rank of ``module``: the row holding its longest matching prefix."""
    best: tuple[int, int] | None = None  # (prefix length, rank)
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), rank)
    return None if best is None else best[1]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(OPS.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(OPS.rglob("*.py"))}


def imported(path: Path, name: str, known: set[str]) -> Iterator[tuple[str, int]]:
    """The ``ops`` modules ``path`` imports, with the line of each import."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "ops" or alias.name.startswith("ops."):
                    yield _existing(alias.name, known), node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            if not (source == "ops" or source.startswith("ops.")):
                continue
            for alias in node.names:
                # `from ops.stack import caddy` imports the submodule ops.stack.caddy.
                submodule = f"{source}.{alias.name}"
                yield (submodule if submodule in known else _existing(source, known)), node.lineno


def _existing(name: str, known: set[str]) -> str:
    """The deepest module of ``name`` that exists (``ops.x.attr`` -> ``ops.x``)."""
    while name not in known and "." in name:
        name = name.rpartition(".")[0]
    return name


def import_graph() -> dict[str, dict[str, int]]:
    found = modules()
    known = set(found)
    graph: dict[str, dict[str, int]] = {}
    for name, path in found.items():
        edges = graph.setdefault(name, {})
        for target, line in imported(path, name, known):
            if target != name:
                edges.setdefault(target, line)
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Each strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_has_a_layer() -> None:
    missing = sorted(name for name in modules() if layer_of(name) is None)
    assert not missing, f"add these to LAYERS in tests/test_layers.py: {missing}"


def test_no_module_imports_a_layer_above_its_own() -> None:
    graph = import_graph()
    upward = []
    for name, edges in sorted(graph.items()):
        rank = layer_of(name)
        for target, line in sorted(edges.items()):
            target_rank = layer_of(target)
            if (name, target) in ALLOWED_UPWARD:
                continue
            if rank is not None and target_rank is not None and target_rank < rank:
                upward.append(f"{name} (line {line}) imports {target}: {LAYERS[rank][0]} -> {LAYERS[target_rank][0]}")
    assert not upward, "imports that go up a layer:\n" + "\n".join(upward)


def test_no_import_cycles_between_modules() -> None:
    graph = import_graph()
    found = cycles(graph)
    described = []
    for component in found:
        members = set(component)
        edges = [f"{a} -> {b} (line {line})" for a in component for b, line in graph[a].items() if b in members]
        described.append("; ".join(edges))
    assert not found, "import cycles:\n" + "\n".join(described)


@pytest.mark.parametrize(
    ("module", "layer"),
    [
        ("ops.tasks.dev", "entry points"),
        ("ops.migrations.runner", "workflow domains"),
        ("ops.stack.native", "stack"),
        ("ops.targets", "guards/targets"),
        ("ops.local", "local"),
        ("ops.pg.cluster", "pg, envcheck"),
        ("ops.errors", "console, errors"),
    ],
)
def test_layer_table_places_modules_where_the_readme_says(module: str, layer: str) -> None:
    rank = layer_of(module)
    assert rank is not None and LAYERS[rank][0] == layer


def test_the_checker_sees_lazy_imports_and_cycles(tmp_path: Path) -> None:
    # The checker itself must be able to fail: a lazy import inside a function is an edge,
    # and two modules importing each other are a cycle.
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from ops.stack import native\n")
    known = {"ops.stack", "ops.stack.native"}
    assert list(imported(source, "ops.local.m", known)) == [("ops.stack.native", 2)]
    assert cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [["a", "b", "c"]]
