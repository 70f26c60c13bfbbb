"""The commit hook's light entry point (issue 18 item 1) and the [tool.ops.env] readings.

``python -m ops.envcheck`` (the ``ops-env-check`` console script) must import
neither invoke, rich, pydantic nor psycopg, and give exactly what ``inv
env.check`` gives: the same lines and the same exit codes, on several repos.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ops.config import load
from ops.envcheck.declaration import EnvSection
from ops.envcheck.example import render_example
from ops.envcheck.kinds import KINDS
from ops.envcheck.presets import PRESETS
from ops.envcheck.settings import load_schema, plain_settings
from tests.test_env_check import (
    ANON_JWT,
    CLEAN_LOCAL,
    GIT_ENV,
    GITIGNORE,
    PYPROJECT,
    SERVICE_JWT,
    STAGING_ENV,
    TEST_SECRET,
)

HEAVY = ("invoke", "rich", "pydantic", "psycopg")
DECLARED = PYPROJECT + (
    '\n[tool.ops.env.variables.RATE_LIMIT_PER_MINUTE]\nkind = "int"\ndescription = "requests per minute"\n'
    'required_in = ["local"]\nexample = "30"\n'
)


def _hook(root: Path, *args: str, env: dict[str, str] | None = None, importtime: bool = False) -> Any:
    full = {key: value for key, value in os.environ.items() if key != "OPS_PROJECT_ROOT"}
    command = [sys.executable, *(["-X", "importtime"] if importtime else []), "-m", "ops.envcheck", *args]
    return subprocess.run(command, cwd=root, env={**full, **(env or {})}, capture_output=True, text=True)


def _inv(root: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    full = {key: value for key, value in os.environ.items() if key != "OPS_PROJECT_ROOT"}
    command = [sys.executable, "-m", "invoke", "--search-root", str(root), *args]
    return subprocess.run(command, cwd=root, env={**full, **(env or {})}, capture_output=True, text=True)


def _repo(root: Path, pyproject: str, files: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(pyproject)
    (root / "tasks.py").write_text("from ops.tasks import ns as ns\n")
    (root / ".gitignore").write_text(GITIGNORE)
    (root / ".env.example").write_text(render_example(load_schema(load(root))))
    for name, text in files.items():
        (root / name).write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True, env={**os.environ, **GIT_ENV})
    return root


REPOS: dict[str, tuple[str, dict[str, str]]] = {
    "clean": (PYPROJECT, {".env.local": CLEAN_LOCAL}),
    "empty-comment": (PYPROJECT, {".env.local": CLEAN_LOCAL + "RESEND_API_KEY= # fill in later\n"}),
    "leak": (PYPROJECT, {".env.local": CLEAN_LOCAL.replace(ANON_JWT, SERVICE_JWT)}),
    "declared": (DECLARED, {".env.local": CLEAN_LOCAL + "RATE_LIMIT_PER_MINUTE=ten\nOTHER=1\n"}),
    "no-presets": ("[tool.ops]\n", {".env": "A=1\nB='x\n"}),
    "bad-config": (PYPROJECT + 'example_fle = "x"\n', {}),
    "no-example": (PYPROJECT, {".env.example": ""}),
    "not-a-project": ('[project]\nname = "x"\n', {".env": "A=1\n"}),
}


@pytest.mark.parametrize("name", sorted(REPOS))
@pytest.mark.parametrize("args", [(), ("--json",), ("--env", "staging"), ("--env", "prod")])
def test_hook_and_inv_give_the_same_findings_and_exit_codes(tmp_path: Path, name: str, args: tuple[str, ...]) -> None:
    pyproject, files = REPOS[name]
    if name == "bad-config":
        (tmp_path / "pyproject.toml").write_text(pyproject)
        (tmp_path / "tasks.py").write_text("from ops.tasks import ns as ns\n")
        root = tmp_path
    else:
        root = _repo(tmp_path / name, pyproject, files)
    if name == "no-example":
        (root / ".env.example").unlink()
    env = STAGING_ENV if "staging" in args else None
    hook = _hook(root, *args, env=env)
    inv = _inv(root, "env.check", *args, env=env)
    assert (hook.returncode, hook.stdout, hook.stderr) == (inv.returncode, inv.stdout, inv.stderr)
    assert "Traceback" not in hook.stderr
    if "--json" in args:
        json.loads(hook.stdout)


def test_example_check_matches_inv(tmp_path: Path) -> None:
    root = _repo(tmp_path / "r", PYPROJECT, {})
    (root / ".env.example").write_text("FEATURE=1\nNODE_ENV=development\n")
    for args in ((), ("--json",)):
        hook = _hook(root, "--example-check", *args)
        inv = _inv(root, "env.example", "--check", *args)
        assert hook.returncode == inv.returncode == 1
        assert (hook.stdout, hook.stderr) == (inv.stdout, inv.stderr)


@pytest.mark.parametrize("pyproject", [PYPROJECT, DECLARED], ids=["presets", "declared-variables"])
def test_hook_imports_neither_invoke_rich_pydantic_nor_psycopg(tmp_path: Path, pyproject: str) -> None:
    root = _repo(tmp_path / "r", pyproject, {".env.local": CLEAN_LOCAL + f"STRIPE_SECRET_KEY={TEST_SECRET}\n"})
    completed = _hook(root, importtime=True)
    imported = {line.rsplit("|", 1)[-1].strip() for line in completed.stderr.splitlines() if "|" in line}
    assert {name for name in imported if name.split(".")[0] in HEAVY} == set()
    assert "ops.envcheck.runner" in imported  # the check really ran through this path


def test_a_bad_option_is_one_line_exit_2(tmp_path: Path) -> None:
    root = _repo(tmp_path / "r", PYPROJECT, {})
    result = _hook(root, "--nope")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: unknown option '--nope' (fix: usage: ops-env-check [--env local|staging|production] [--file PATH]..."
        " [--example-check] [--json])"
    ]


# -- [tool.ops.env]: the plain reading and the pydantic model give the same answers -------------

NAMES = st.sampled_from(["API_URL", "X", "1BAD", "NEXT_PUBLIC_FLAG", "a b"])
DECLARATIONS = st.fixed_dictionaries(
    {"kind": st.sampled_from([*KINDS, "colour"]), "description": st.sampled_from(["d", ""])},
    optional={
        "secret": st.sampled_from([True, False, "yes", 1]),
        "required_in": st.lists(st.sampled_from(["local", "staging", "prod"]), max_size=2),
        "choices": st.lists(st.sampled_from(["a", "b"]), max_size=2) | st.just("a"),
        "example": st.sampled_from(["", "30", 30]),
        "alternatives": st.lists(st.sampled_from(["A", "B"]), max_size=2),
        "requird_in": st.just(["local"]),
    },
)
TABLES = st.fixed_dictionaries(
    {},
    optional={
        "example_file": st.sampled_from([".env.example", "", 5]),
        "presets": st.lists(st.sampled_from([*PRESETS, "strype"]), max_size=3) | st.just("supabase"),
        "exclude": st.lists(st.sampled_from(["NODE_ENV", "X"]), max_size=2) | st.just("NODE_ENV"),
        "variables": st.dictionaries(NAMES, DECLARATIONS, max_size=2),
        "exampel_file": st.just("x"),
    },
)


@settings(max_examples=400, deadline=None, database=None)
@given(TABLES)
def test_plain_reading_agrees_with_the_model(table: dict[str, Any]) -> None:
    from pydantic import ValidationError

    plain = plain_settings(table)
    try:
        model = EnvSection.model_validate(table)
    except ValidationError:
        assert plain is None, table  # the plain reading never accepts what the model refuses
        return
    if plain is None:
        return  # left to the model (a coercion, for example): the model's answer is used
    assert plain.example_file == model.example_file
    assert plain.presets == tuple(model.presets) and plain.exclude == tuple(model.exclude)
    assert plain.variables == {name: declaration.to_variable(name) for name, declaration in model.variables.items()}


def test_the_console_script_is_declared() -> None:
    """pre-commit hooks (ours, the published ones, ops init's) run ``ops-env-check``."""
    import importlib
    import tomllib

    from tests.conftest import REPO

    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["ops-env-check"].partition(":")
    assert callable(getattr(importlib.import_module(module), function))
    for hooks in (".pre-commit-hooks.yaml", "ops/resources/init/pre-commit-config.yaml"):
        assert "entry: ops-env-check\n" in (REPO / hooks).read_text()


def test_an_unwritable_example_is_one_line(tmp_path: Path) -> None:
    root = _repo(
        tmp_path / "r",
        PYPROJECT.replace("[tool.ops.env]\n", '[tool.ops.env]\nexample_file = "no/such/.env.example"\n'),
        {},
    )
    result = _inv(root, "env.example")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: cannot write no/such/.env.example: No such file or directory"
        " (fix: check the directory and its permissions)"
    ]
