"""The command line: one Invoke collection per namespace.

Task modules import their ``ops`` domain modules inside the task bodies, so
building the namespace stays cheap (``env.check`` runs on every commit).
"""

from __future__ import annotations

import atexit
import copy
import gc
import importlib

from invoke import Collection, Task

# A command's process ends right after its task: the collections CPython runs while it shuts
# down would walk every object the imports made (pydantic's schemas, psycopg's adapters), about
# 0.1 s for nothing. Frozen objects are skipped; atexit handlers registered later run before.
atexit.register(gc.freeze)

# (module, how it joins the root): "collection" adds the module as a namespace;
# "into:NS" adds the module's tasks to namespace NS (one namespace split over
# several modules); any other value is a task name added at the root
# (``inv health``, ``inv ci``).
_MODULES: tuple[tuple[str, str], ...] = (
    # one entry per line; each engineer adds theirs
    ("ops.tasks.env", "collection"),
    ("ops.tasks.dev", "collection"),
    ("ops.tasks.health", "health"),
    ("ops.tasks.ci", "ci"),
    ("ops.tasks.release", "collection"),
    ("ops.tasks.db", "collection"),
    ("ops.tasks.db_checks", "into:db"),
    ("ops.tasks.db_refresh", "into:db"),
    ("ops.tasks.backup", "collection"),
    ("ops.tasks.load", "collection"),
    ("ops.tasks.init", "init"),
)


def _fresh(collection: Collection) -> Collection:
    """A copy whose tasks own their help dicts: Invoke consumes help strings
    while parsing, so every Program run needs its own tasks."""
    clone = Collection(collection.name)
    for name, item in collection.tasks.items():
        task_copy = copy.copy(item)
        task_copy.help = dict(item.help)
        clone.add_task(task_copy, name=name, default=(collection.default == name))
    for child in collection.collections.values():
        clone.add_collection(_fresh(child))
    clone.configure(collection.configuration())  # a copy
    return clone


def _joins_as(module_name: str, mode: str) -> str:
    """The root name a module's tasks are found under: its namespace, or its root task's name."""
    if mode == "collection":
        return module_name.rsplit(".", 1)[-1]  # Collection.from_module's name
    return mode.removeprefix("into:")


def named_namespaces(args: list[str]) -> set[str] | None:
    """The namespaces (and root tasks) a command line names when it starts with a task
    (``db.migrate --env staging``), so that only their modules are built and parsed; None
    (all of them) for anything else: core flags first, ``--list``, completion, no task, a
    name ops does not know. Flag values that happen to equal a name only add that name."""
    known = {_joins_as(module_name, mode) for module_name, mode in _MODULES}
    if not args or args[0].startswith("-") or args[0].split(".")[0] not in known:
        return None
    return {token.split(".")[0] for token in args if not token.startswith("-")} & known


def build_namespace(only: set[str] | None = None) -> Collection:
    """The namespace, built fresh (safe to call once per Program run); with ``only``, just
    those namespaces and root tasks (see ``named_namespaces``)."""
    root = Collection()
    for module_name, mode in _MODULES:
        if only is not None and _joins_as(module_name, mode) not in only:
            continue
        module = importlib.import_module(module_name)
        if mode == "collection":
            root.add_collection(_fresh(Collection.from_module(module)))
        elif mode.startswith("into:"):
            target_name = mode.removeprefix("into:")
            target = root.collections.get(target_name)
            if target is None:
                target = Collection(target_name)
                root.add_collection(target)
            for name, item in _fresh(Collection.from_module(module)).tasks.items():
                target.add_task(item, name=name)
        else:
            original = getattr(module, mode)
            assert isinstance(original, Task)
            task_copy = copy.copy(original)
            task_copy.help = dict(original.help)
            root.add_task(task_copy, name=mode)
    return root


def __getattr__(name: str) -> Collection:
    # ``from ops.tasks import ns`` (tasks.py) builds the namespace on demand, so
    # the ``ops`` program, which builds its own, pays for it only once.
    if name == "ns":
        return build_namespace()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
