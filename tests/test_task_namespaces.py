"""The ``ops`` program builds only the namespaces a command line names, and behaves as with all of them."""

from __future__ import annotations

from typing import Any

import pytest

from ops import __version__
from ops.tasks import build_namespace, named_namespaces
from ops.tasks.program import OpsProgram


def run(namespace: Any, args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = 0
    try:
        OpsProgram(namespace=namespace, version=__version__, name="ops", binary="ops").run(["ops", *args])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "args",
    [
        ["db.migrate", "--help"],
        ["db.status", "-h"],
        ["db.migrat"],
        ["db.migrate", "--nope"],
        ["db.new"],
        ["db"],
        ["health", "--help"],
        ["ci", "--help"],
        ["env.check", "--help"],
        ["backup.export", "--help"],
        ["load.run", "--vus"],
        ["db.migrate", "--help", "env.check"],
        ["dev.up", "--help", "db.migrate", "--help"],
    ],
)
def test_a_command_line_that_starts_with_a_task_behaves_as_with_every_namespace(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    only = named_namespaces(args)
    assert only is not None
    assert run(build_namespace(only=only), args, capsys) == run(build_namespace(), args, capsys)


def test_only_the_named_namespaces_are_built() -> None:
    assert named_namespaces(["db.migrate", "--env", "staging"]) == {"db"}
    assert named_namespaces(["db.new", "health"]) == {"db", "health"}  # a value that is a name only adds it
    assert named_namespaces(["env.check", "db.migrate", "--json"]) == {"env", "db"}
    namespace = build_namespace(only={"db"})
    assert set(namespace.collections) == {"db"} and not namespace.tasks
    assert {"migrate", "lint", "diff"} <= set(namespace.collections["db"].tasks)  # db_checks joins db too
    assert set(build_namespace(only={"health"}).tasks) == {"health"}


@pytest.mark.parametrize(
    "args", [[], ["--list"], ["-l", "db"], ["--help", "db.migrate"], ["--complete"], ["nope.task"]]
)
def test_anything_else_builds_every_namespace(args: list[str]) -> None:
    assert named_namespaces(args) is None
