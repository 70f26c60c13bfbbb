"""Typed settings: ``[tool.ops]`` itself and the health, release and pg sections.

A bad key or value exits 2 with one line that names it (and a "did you mean" for a
misspelt key), never a traceback; the plain reading of the core (no pydantic, for the
commit hook) and the model give the same answers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from conftest import run_cli

import ops
from ops import config
from ops.config import CORE_KEYS, SECTIONS, _plain_core, _validated_core
from ops.errors import ConfigError
from ops.settings import CoreSettings


def project(root: Path, body: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'team'\n\n" + body)
    return root


def one_line_exit_2(root: Path, *args: str) -> str:
    result = run_cli(*args, cwd=root, env={"OPS_PROJECT_ROOT": str(root)})
    assert result.code == 2, result.output
    assert result.stdout == "" and "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()
    return line


@pytest.mark.parametrize(
    ("body", "line"),
    [
        (
            "[tool.ops]\nstate_dri = '.state'\n",
            "error: [tool.ops] unknown key 'state_dri' (fix: did you mean 'state_dir'? (in pyproject.toml))",
        ),
        (
            "[tool.ops]\nstate_dir = 5\n",
            "error: [tool.ops] state_dir: Input should be a valid string (fix: fix state_dir in [tool.ops] of"
            " pyproject.toml)",
        ),
        (
            "[tool.ops.bakup]\nroot = 'x'\n",
            "error: [tool.ops] unknown key 'bakup' (fix: did you mean 'backup'? (in pyproject.toml))",
        ),
        (
            "[tool.ops]\nhealth = 'fast'\n",
            "error: [tool.ops] health: Input should be a valid dictionary (fix: fix health in [tool.ops] of"
            " pyproject.toml)",
        ),
        (
            "[tool.ops.environments.staging]\ndb_url_env = 3\n",
            "error: [tool.ops] environments.staging.db_url_env: Input should be a valid string"
            " (fix: fix environments.staging.db_url_env in [tool.ops] of pyproject.toml)",
        ),
        (
            "[tool.ops.environments.staging]\ndb_url_envv = 'X'\n",
            "error: [tool.ops] unknown key 'environments.staging.db_url_envv' (fix: did you mean 'db_url_env'?"
            " (in pyproject.toml))",
        ),
        (
            "[tool.ops.environments.local]\nprocess_env = 'yes'\n",
            "error: [tool.ops] environments.local.process_env: Input should be a valid boolean"
            " (fix: fix environments.local.process_env in [tool.ops] of pyproject.toml)",
        ),
        (
            "[tool.ops.environments.qa]\nenv_files = []\n",
            "error: unknown environment 'qa' in [tool.ops.environments] (fix: environments are local, staging,"
            " production (in pyproject.toml))",
        ),
        (
            "[tool.ops]\npublic_prefixes = 'NEXT_PUBLIC_'\n",
            "error: [tool.ops] public_prefixes: Input should be a valid list (fix: fix public_prefixes in [tool.ops]"
            " of pyproject.toml)",
        ),
    ],
)
def test_a_bad_core_key_or_value_is_one_line_exit_2(tmp_path: Path, body: str, line: str) -> None:
    root = project(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        config.load(root)
    assert info.value.one_line() == line
    # The same line from a task, whichever one runs first.
    assert one_line_exit_2(root, "db.status") == line
    assert one_line_exit_2(root, "env.check") == line


@pytest.mark.parametrize(
    ("body", "args", "line"),
    [
        (
            "[tool.ops.health]\ntimeout = '5 sec'\n",  # one spelling, as PostgreSQL and k6 take it: "5s"
            ("health", "--url", "http://127.0.0.1:9"),
            'error: [tool.ops.health] timeout: must be a duration such as 5, "500ms", "5s" or "2min"',
        ),
        (
            "[tool.ops.health]\nretry_delay = 'soon'\n",
            ("health", "--url", "http://127.0.0.1:9"),
            'error: [tool.ops.health] retry_delay: must be a duration such as 5, "500ms", "5s" or "2min"',
        ),
        (
            "[tool.ops.health]\nretries = -1\n",
            ("health", "--url", "http://127.0.0.1:9"),
            "error: [tool.ops.health] retries: Input should be greater than or equal to 0",
        ),
        (
            "[tool.ops.health]\nwait_interval = 0\n",
            ("health", "--url", "http://127.0.0.1:9"),
            "error: [tool.ops.health] wait_interval: Input should be greater than 0",
        ),
        (
            "[tool.ops.health]\nretrys = 3\n",
            ("health", "--url", "http://127.0.0.1:9"),
            "error: [tool.ops.health] unknown key 'retrys' (fix: did you mean 'retries'?",
        ),
        (
            "[tool.ops.release]\nrequire_signed_tags = 'yes'\n",
            ("release.check",),
            "error: [tool.ops.release] require_signed_tags: Input should be a valid boolean",
        ),
        (
            "[tool.ops.release]\ntag_patern = 'v*'\n",
            ("release.check",),
            "error: [tool.ops.release] unknown key 'tag_patern' (fix: did you mean 'tag_pattern'?",
        ),
    ],
)
def test_a_bad_section_value_is_one_line_exit_2_naming_the_key(
    tmp_path: Path, body: str, args: tuple[str, ...], line: str
) -> None:
    assert one_line_exit_2(project(tmp_path, body), *args).startswith(line)


def test_pg_bindir_must_be_a_path(tmp_path: Path) -> None:
    from ops.pg.settings import pg_settings

    with pytest.raises(ConfigError) as info:
        pg_settings(config.load(project(tmp_path / "a", "[tool.ops.pg]\nbindir = 15\n")))
    assert info.value.one_line().startswith("error: [tool.ops.pg] bindir: Input should be a valid string")
    cfg = config.load(project(tmp_path / "b", "[tool.ops.pg]\nbindir = '/usr/lib/postgresql/15/bin'\n"))
    assert pg_settings(cfg).bindir == "/usr/lib/postgresql/15/bin"


PLAIN_TABLES = [
    {},
    {"state_dir": "state", "supabase_dir": "db/supabase", "public_prefixes": ["EXPO_PUBLIC_"]},
    {"environments": {"staging": {"db_url_env": "STG_DB", "base_url": "https://stg.example.com"}}},
    {"environments": {"local": {"env_files": [".env.dev"], "process_env": True}}, "dev": {"db_port": 0}},
    {"health": {}, "release": {"tag_pattern": "release-*"}, "backup": {"retention": {"daily": 3}}},
]


@pytest.mark.parametrize("table", PLAIN_TABLES)
def test_the_plain_reading_and_the_model_agree(table: dict[str, object]) -> None:
    plain = _plain_core(table)
    assert plain is not None  # read without pydantic
    assert _validated_core(table, "pyproject.toml") == plain


def test_the_core_model_and_the_plain_reading_know_the_same_keys() -> None:
    assert set(CoreSettings.model_fields) == CORE_KEYS | SECTIONS


def test_every_section_model_reads_a_known_section() -> None:
    """A new [tool.ops.<section>] goes into ops.config.SECTIONS, or [tool.ops] refuses it as unknown.

    Read with ast: importing every module would rebind package attributes (a submodule
    named like a function of its package) for the tests that run after this one."""
    names: set[str] = set()
    for path in Path(ops.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)):
                continue
            if any(getattr(target, "id", None) == "section_name" for target in node.targets) and node.value.value:
                names.add(str(node.value.value).split(".")[0])
    assert {"health", "release", "pg", "migrations"} <= names
    assert names <= SECTIONS, sorted(names - SECTIONS)
