"""The command line: one Invoke collection per namespace.

Task modules import their ``ops`` domain modules inside the task bodies, so
building the namespace stays cheap (``env.check`` runs on every commit).
"""

from __future__ import annotations

import copy
import importlib

from invoke import Collection, Task

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


def build_namespace() -> Collection:
    """The full namespace, built fresh (safe to call once per Program run)."""
    root = Collection()
    for module_name, mode in _MODULES:
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
