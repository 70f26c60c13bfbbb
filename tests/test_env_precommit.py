"""pre-commit for real: a local env.check hook in a temp git repository blocks
a commit that puts a Supabase service-role JWT under NEXT_PUBLIC_."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

from ops.config import load
from ops.envcheck.example import render_example
from ops.envcheck.settings import load_schema
from tests.test_env_check import CLEAN_LOCAL, GIT_ENV, GITIGNORE, PYPROJECT, SERVICE_JWT

REPO = Path(__file__).resolve().parents[1]
HOOK_CONFIG = f"""\
repos:
  - repo: local
    hooks:
      - id: env-check
        name: env.check
        entry: {sys.executable} -m ops.envcheck
        language: system
        pass_filenames: false
        files: ^(\\.env(\\..*)?|pyproject\\.toml)$
"""


def _run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **GIT_ENV, "PRE_COMMIT_HOME": str(root.parent / "pre-commit-home")}
    env.pop("OPS_PROJECT_ROOT", None)
    return subprocess.run(args, cwd=root, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)


def test_pre_commit_blocks_a_service_role_jwt_under_next_public(tmp_path: Path) -> None:
    root = tmp_path / "app"
    root.mkdir()
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / ".gitignore").write_text(GITIGNORE)
    (root / ".env.local").write_text(CLEAN_LOCAL)  # ignored by git; the developer's own values
    example = render_example(load_schema(load(root)))
    (root / ".env.example").write_text(example)
    (root / ".pre-commit-config.yaml").write_text(HOOK_CONFIG)
    assert _run(root, "git", "init", "-q").returncode == 0
    installed = _run(root, sys.executable, "-m", "pre_commit", "install")
    assert installed.returncode == 0, installed.stdout + installed.stderr

    _run(root, "git", "add", ".")
    clean = _run(root, "git", "commit", "-q", "-m", "initial")
    assert clean.returncode == 0, clean.stdout + clean.stderr

    leaked = example.replace("NEXT_PUBLIC_SUPABASE_ANON_KEY=\n", f"NEXT_PUBLIC_SUPABASE_ANON_KEY={SERVICE_JWT}\n")
    (root / ".env.example").write_text(leaked)
    _run(root, "git", "add", ".env.example")
    blocked = _run(root, "git", "commit", "-q", "-m", "add anon key")
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode == 1, output
    assert "env.check" in output and "Failed" in output
    line = 1 + example.splitlines().index("NEXT_PUBLIC_SUPABASE_ANON_KEY=")
    assert (
        f".env.example:{line}: ENV005 NEXT_PUBLIC_SUPABASE_ANON_KEY holds a Supabase service_role JWT but NEXT_PUBLIC_ "
        "ships it to the browser" in output.splitlines()
    )
    assert SERVICE_JWT not in output
    assert _run(root, "git", "rev-list", "--count", "HEAD").stdout.strip() == "1"


def test_repo_hook_files_are_valid_and_publish_env_check() -> None:
    config = yaml.safe_load((REPO / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert hooks["env-check"]["entry"] == "python3 -m ops.envcheck" and hooks["env-check"]["language"] == "system"
    assert hooks["env-example"]["entry"] == "python3 -m ops.envcheck --example-check"
    assert {"ruff", "ruff-format"} <= set(hooks)
    published = {hook["id"]: hook for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    assert published["env-check"]["entry"] == "ops-env-check"
    assert published["env-example"]["entry"] == "ops-env-check --example-check"
    for manifest in (["validate-config", ".pre-commit-config.yaml"], ["validate-manifest", ".pre-commit-hooks.yaml"]):
        result = subprocess.run([sys.executable, "-m", "pre_commit", *manifest], cwd=REPO, capture_output=True)
        assert result.returncode == 0, result.stdout
