"""``release.check`` in real temporary git repositories (and a real GnuPG keyring)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import CliResult, run_cli
from conftest import TestDatabase as Database  # aliased: pytest would try to collect Test*

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Release Tester",
    "GIT_AUTHOR_EMAIL": "release@example.com",
    "GIT_COMMITTER_NAME": "Release Tester",
    "GIT_COMMITTER_EMAIL": "release@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    # a developer's ~/.gitconfig (tag.gpgSign, tag.forceSignAnnotated...) must not change the outcome
    "GIT_CONFIG_GLOBAL": os.devnull,
}
PYPROJECT = '[project]\nname = "sample"\nversion = "1.2.3"\n\n[tool.ops]\n'
MIGRATION = "create table public.widgets (id bigint primary key);\n"


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        ["git", *args],
        cwd=repo,
        env={**os.environ, **GIT_IDENTITY, **(env or {})},
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


def release_check(repo: Path, *args: str, env: dict[str, str] | None = None) -> CliResult:
    return run_cli("release.check", *args, cwd=repo, env={**GIT_IDENTITY, **(env or {})}, timeout=60)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A project repo with one commit and no tag."""
    root = tmp_path / "project"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "supabase" / "migrations").mkdir(parents=True)
    (root / "supabase" / "migrations" / "20240101000000_widgets.sql").write_text(MIGRATION)
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "initial")
    return root


@dataclass
class SigningKey:
    home: Path
    fingerprint: str
    public_key: Path
    untrusted_fingerprint: str  # a second key whose public part is never exported

    @property
    def env(self) -> dict[str, str]:
        return {"GNUPGHOME": str(self.home)}


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SigningKey]:
    """A throwaway GnuPG home with one passphrase-less ed25519 signing key."""
    if shutil.which("gpg") is None:
        pytest.fail("gpg is required (scripts/bootstrap installs gnupg)")
    # A short path: gpg-agent's socket lives in GNUPGHOME and unix socket paths are limited.
    home = Path(tmp_path_factory.mktemp("gpg"))
    home.chmod(0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    for user in ("Release Tester <release@example.com>", "Somebody Else <other@example.com>"):
        subprocess.run(
            ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", user, "ed25519", "sign", "never"],
            env=env,
            check=True,
            capture_output=True,
        )
    listing = subprocess.run(
        ["gpg", "--batch", "--with-colons", "--list-secret-keys"], env=env, check=True, capture_output=True, text=True
    ).stdout
    fingerprint, untrusted = [line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")]
    public_key = home / "release-keys.asc"
    exported = subprocess.run(
        ["gpg", "--batch", "--armor", "--export", fingerprint], env=env, check=True, capture_output=True
    )
    public_key.write_bytes(exported.stdout)
    try:
        yield SigningKey(home, fingerprint, public_key, untrusted)
    finally:
        subprocess.run(["gpgconf", "--kill", "all"], env=env, capture_output=True, check=False)


def test_untagged_head_is_refused(repo: Path) -> None:
    result = release_check(repo)
    assert result.code == 1
    assert "FAIL  tag: HEAD is not tagged with a v* tag" in result.stdout
    assert result.stderr.strip() == (
        "error: release check failed: HEAD is not tagged with a v* tag "
        "(fix: tag the release with an annotated tag: git tag -a v1.2.3 -m v1.2.3)"
    )


def test_lightweight_tag_is_refused(repo: Path) -> None:
    git(repo, "tag", "v1.2.3")
    result = release_check(repo)
    assert result.code == 1
    assert "FAIL  tag: v1.2.3 is a lightweight tag" in result.stdout
    assert result.stderr.strip() == (
        "error: release check failed: v1.2.3 is a lightweight tag "
        "(fix: replace it with an annotated tag: git tag -d v1.2.3 && git tag -a v1.2.3 -m 'v1.2.3')"
    )


def test_annotated_v_tag_is_accepted(repo: Path) -> None:
    git(repo, "tag", "-a", "v1.2.3", "-m", "release 1.2.3")
    head = git(repo, "rev-parse", "HEAD")
    result = release_check(repo)
    assert result.code == 0, result.output
    assert result.stdout.splitlines() == [
        "  ok  tag: HEAD is on annotated tag v1.2.3",
        "skip  signature: signed tags not required",
        "  ok  clean: working tree is clean",
        "skip  drift: no --env given: database drift not checked",
        f"release v1.2.3 ({head[:12]}) is ready",
    ]
    assert result.stderr == ""


def test_annotated_tag_not_matching_v_pattern_is_refused(repo: Path) -> None:
    git(repo, "tag", "-a", "release-1.2.3", "-m", "not a v* tag")
    result = release_check(repo)
    assert result.code == 1
    assert "FAIL  tag: HEAD is not tagged with a v* tag" in result.stdout


def test_highest_of_several_annotated_tags_is_the_release(repo: Path) -> None:
    git(repo, "tag", "-a", "v1.9.0", "-m", "1.9.0")
    git(repo, "tag", "-a", "v1.10.0", "-m", "1.10.0")
    result = release_check(repo, "--json")
    assert result.code == 0, result.output
    assert json.loads(result.stdout)["tag"] == "v1.10.0"


def test_dirty_tree_is_refused_and_every_failure_is_listed(repo: Path) -> None:
    (repo / "pyproject.toml").write_text(PYPROJECT + "# edited after tagging\n")
    (repo / "notes.txt").write_text("untracked\n")
    result = release_check(repo)
    assert result.code == 1
    assert "FAIL  clean: working tree has 2 uncommitted change(s): pyproject.toml, notes.txt" in result.stdout
    assert "not releasable: 2 failed check(s)" in result.stdout
    assert result.stderr.strip() == (
        "error: release check failed: HEAD is not tagged with a v* tag (and 1 more failed check) "
        "(fix: tag the release with an annotated tag: git tag -a v1.2.3 -m v1.2.3)"
    )


def test_json_report(repo: Path) -> None:
    git(repo, "tag", "v1.2.3")
    result = release_check(repo, "--json")
    assert result.code == 1
    document = json.loads(result.stdout)
    assert document["ok"] is False
    assert document["tag"] is None
    assert [(check["name"], check["ok"]) for check in document["checks"]] == [
        ("tag", False),
        ("signature", True),
        ("clean", True),
        ("drift", True),
    ]
    # Human text moved to stderr, after which the one-line error follows.
    assert "FAIL  tag: v1.2.3 is a lightweight tag" in result.stderr


def test_not_a_git_repository_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    result = release_check(tmp_path, env={"GIT_CEILING_DIRECTORIES": str(tmp_path.parent)})
    assert result.code == 2
    assert result.stderr.strip() == (
        f"error: {tmp_path} is not a git work tree (fix: run release.check inside the repository)"
    )


def test_signed_tag_accepted_when_repo_requires_signatures(repo: Path, signing_key: SigningKey) -> None:
    git(repo, "config", "tag.gpgSign", "true")
    git(repo, "config", "user.signingkey", signing_key.fingerprint)
    git(repo, "tag", "-s", "v1.2.3", "-m", "signed release", env=signing_key.env)
    result = release_check(repo, env=signing_key.env)
    assert result.code == 0, result.output
    assert "  ok  signature: signature of v1.2.3 verifies" in result.stdout


def test_unsigned_tag_refused_when_repo_requires_signatures(repo: Path, signing_key: SigningKey) -> None:
    git(repo, "config", "tag.gpgSign", "true")
    # An explicit annotated (unsigned) tag: -a with --no-sign overrides tag.gpgSign.
    git(repo, "tag", "--no-sign", "-a", "v1.2.3", "-m", "unsigned release")
    result = release_check(repo, env=signing_key.env)
    assert result.code == 1
    assert "FAIL  signature: signature of v1.2.3 does not verify: it is not signed" in result.stdout
    assert result.stderr.strip() == (
        "error: release check failed: signature of v1.2.3 does not verify: it is not signed "
        "(fix: sign the tag with a trusted key: git tag -s -f v1.2.3 -m 'v1.2.3')"
    )


def test_config_requires_signatures_and_verifies_against_the_repo_trusted_keys(
    repo: Path, signing_key: SigningKey, tmp_path: Path
) -> None:
    keys = repo / ".github" / "release-keys.asc"
    keys.parent.mkdir()
    shutil.copy(signing_key.public_key, keys)
    (repo / "pyproject.toml").write_text(
        PYPROJECT + '\n[tool.ops.release]\nrequire_signed_tags = true\ntrusted_keys = ".github/release-keys.asc"\n'
    )
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "trust the release key")
    git(repo, "-c", f"user.signingkey={signing_key.fingerprint}", "tag", "-s", "v1.2.3", "-m", "r", env=signing_key.env)
    # The verifying machine's own keyring is empty: only the repo's key file is trusted.
    empty_home = tmp_path / "empty-gnupg"
    empty_home.mkdir(mode=0o700)
    result = release_check(repo, env={"GNUPGHOME": str(empty_home)})
    assert result.code == 0, result.output
    assert "  ok  signature: signature of v1.2.3 verifies" in result.stdout

    # A tag signed by a key that is not in the repo's key file does not verify.
    (repo / "CHANGELOG").write_text("1.2.4\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "next")
    other = f"user.signingkey={signing_key.untrusted_fingerprint}"
    git(repo, "-c", other, "tag", "-s", "v1.2.4", "-m", "r", env=signing_key.env)
    result = release_check(repo, env={"GNUPGHOME": str(empty_home)})
    assert result.code == 1
    assert "FAIL  signature: signature of v1.2.4 does not verify: " in result.stdout


def test_fetch_tag_restores_the_annotated_tag_that_checkout_made_lightweight(repo: Path, tmp_path: Path) -> None:
    git(repo, "tag", "-a", "v1.2.3", "-m", "release 1.2.3")
    origin = tmp_path / "origin.git"
    git(tmp_path, "clone", "-q", "--bare", str(repo), str(origin))
    clone = tmp_path / "ci-checkout"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    # What actions/checkout does on a tag push: the tag ref points straight at the commit.
    git(clone, "tag", "-f", "v1.2.3", "HEAD")
    git(clone, "checkout", "-q", "--detach", "v1.2.3")

    assert release_check(clone).code == 1
    result = release_check(clone, "--fetch-tag")
    assert result.code == 0, result.output
    assert "  ok  tag: HEAD is on annotated tag v1.2.3" in result.stdout


def test_drift_in_the_target_database_is_refused(repo: Path, database: Database) -> None:
    git(repo, "tag", "-a", "v1.2.3", "-m", "release 1.2.3")
    with database.connect() as conn:
        conn.execute("create schema if not exists supabase_migrations")
        conn.execute(
            "create table if not exists supabase_migrations.schema_migrations"
            " (version text primary key, statements text[], name text)"
        )
        conn.execute(
            "insert into supabase_migrations.schema_migrations values (%s, %s, %s)",
            ("20240101000000", ["create table public.widgets (id int primary key)"], "widgets"),
        )
    env = {"SUPABASE_STAGING_DB_URL": database.url}
    result = release_check(repo, "--env", "staging", env=env)
    assert result.code == 1, result.output
    assert (
        "FAIL  drift: staging database has migration drift (edited after being applied: 20240101000000)"
        in result.stdout
    )
    assert "(fix: inspect with: inv db.status --env staging)" in result.stderr

    with database.connect() as conn:
        conn.execute(
            "update supabase_migrations.schema_migrations set statements = %s",
            ([MIGRATION.strip().rstrip(";")],),
        )
    result = release_check(repo, "--env", "staging", env=env)
    assert result.code == 0, result.output
    assert "  ok  drift: staging database history matches supabase/migrations" in result.stdout

    with database.connect() as conn:
        conn.execute("insert into supabase_migrations.schema_migrations values ('20990101000000', '{}', 'gone')")
    result = release_check(repo, "--env", "staging", env=env)
    assert result.code == 1
    assert (
        "FAIL  drift: staging database has migration drift (applied without a local file: 20990101000000)"
        in result.stdout
    )
