"""Backups in an S3-compatible store, encrypted with age, against real servers.

The store is moto's standalone S3 server, a separate process on a loopback
port, reached over HTTP by boto3 exactly as a team's R2 or S3 bucket would be
(credentials and endpoint from boto3's standard environment variables). A second
server stands in for Supabase Storage's S3 endpoint of staging.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from pyrage import x25519

from ops.backup.pgtools import target
from tests import test_backup as backup_tests
from tests.conftest import reachable_tempdir, run_cli
from tests.test_backup import (
    JWT_SECRET,
    CliResult,
    Environments,
    drill_databases,
    export_held_at_lock,
    real_counts,
)

# The two database servers of tests/test_backup.py (production's, staging's).
environments = backup_tests.environments
staging_cluster = backup_tests.staging_cluster

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class S3Server:
    endpoint: str
    proc: subprocess.Popen[bytes]

    def client(self):  # type: ignore[no-untyped-def]
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing-secret",
            region_name="us-east-1",
        )


def _start_s3_server() -> S3Server:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return S3Server(f"http://127.0.0.1:{port}", proc)
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("moto's S3 server did not start")


@pytest.fixture(scope="module")
def s3_servers() -> Iterator[tuple[S3Server, S3Server]]:
    """The backup store (also production's Storage endpoint) and staging's Storage endpoint."""
    servers = (_start_s3_server(), _start_s3_server())
    try:
        yield servers
    finally:
        for server in servers:
            os.killpg(server.proc.pid, signal.SIGTERM)
            server.proc.wait(timeout=10)


@dataclass
class S3Project:
    root: Path
    env: dict[str, str]
    bucket: str
    store: S3Server
    staging_storage: S3Server
    identity_file: Path
    secrets: tuple[str, ...]

    def ops(self, *args: str, identity: bool = False) -> CliResult:
        env = dict(self.env)
        if identity:
            env["OPS_BACKUP_IDENTITY"] = str(self.identity_file)
        result = run_cli(*args, cwd=self.root, env=env)
        for secret in self.secrets:
            assert secret not in result.output, "a secret reached the output"
        return result

    def ops_json(self, *args: str, identity: bool = False) -> tuple[CliResult, dict]:  # type: ignore[type-arg]
        result = self.ops(*args, "--json", identity=identity)
        assert result.stdout, result.output
        return result, json.loads(result.stdout)

    def keys(self, prefix: str = "") -> list[str]:
        listing = self.store.client().list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(entry["Key"] for entry in listing.get("Contents", []))

    def get(self, key: str) -> bytes:
        return bytes(self.store.client().get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def export(self, *args: str) -> dict:  # type: ignore[type-arg]
        result, manifest = self.ops_json("backup.export", *args)
        assert result.code == 0, result.output
        return manifest


STORAGE_SETTINGS = """
[tool.ops.backup.environments.production.storage]
endpoint_url_env = "PROD_STORAGE_S3_URL"
access_key_id_env = "PROD_STORAGE_KEY_ID"
secret_access_key_env = "PROD_STORAGE_SECRET"
region = "us-east-1"
buckets = ["{avatars}", "{documents}"]

[tool.ops.backup.environments.staging.storage]
endpoint_url_env = "STAGING_STORAGE_S3_URL"
access_key_id_env = "STAGING_STORAGE_KEY_ID"
secret_access_key_env = "STAGING_STORAGE_SECRET"
region = "us-east-1"
"""


@pytest.fixture
def s3_project(s3_servers: tuple[S3Server, S3Server], environments: Environments) -> Iterator[S3Project]:
    store, staging_storage = s3_servers
    bucket = f"backups-{uuid.uuid4().hex[:10]}"
    store.client().create_bucket(Bucket=bucket)
    identity = x25519.Identity.generate()
    root = reachable_tempdir("ops-backup-s3-")
    identity_file = root / "key.txt"
    identity_file.write_text(f"# created by the test\n# public key: {identity.to_public()}\n{identity}\n")
    identity_file.chmod(0o600)
    suffix = uuid.uuid4().hex[:8]
    (root / "pyproject.toml").write_text(
        '[tool.ops]\nstate_dir = ".ops"\n\n[tool.ops.backup]\n'
        f'repository = "s3://{bucket}/team-app"\nencrypt_to = ["{identity.to_public()}"]\n'
        + STORAGE_SETTINGS.replace("{avatars}", f"avatars-{suffix}").replace("{documents}", f"documents-{suffix}")
    )
    env = {
        "SUPABASE_DB_URL": environments.url(environments.production),
        "SUPABASE_STAGING_DB_URL": environments.url(environments.staging),
        "AWS_ENDPOINT_URL_S3": store.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing-secret",
        "AWS_REGION": "us-east-1",
        "PROD_STORAGE_S3_URL": store.endpoint,
        "PROD_STORAGE_KEY_ID": "testing",
        "PROD_STORAGE_SECRET": "prod-storage-secret",
        "STAGING_STORAGE_S3_URL": staging_storage.endpoint,
        "STAGING_STORAGE_KEY_ID": "testing",
        "STAGING_STORAGE_SECRET": "staging-storage-secret",
    }
    secrets = (
        environments.cluster.password,
        environments.staging_cluster.password,
        JWT_SECRET,
        str(identity),
        "testing-secret",
    )
    try:
        yield S3Project(root, env, bucket, store, staging_storage, identity_file, secrets)
    finally:
        import shutil

        shutil.rmtree(root, ignore_errors=True)


def test_export_list_verify_and_drill_from_the_store(s3_project: S3Project, environments: Environments) -> None:
    manifest = s3_project.export()
    prefix = f"team-app/production/{manifest['id']}/"
    assert manifest["path"] == f"s3://{s3_project.bucket}/{prefix.rstrip('/')}"
    assert manifest["dump"] == {"format": "custom", "file": "dump.pgc.age", "compression": 6}
    assert sorted(manifest["files"]) == ["database_settings.json.age", "dump.pgc.age", "roles.sql.age"]
    assert s3_project.keys(prefix) == sorted(prefix + name for name in [*manifest["files"], "manifest.json"])
    # Encrypted at rest; the manifest is readable without the key and holds no secret.
    for name in manifest["files"]:
        assert s3_project.get(prefix + name).startswith(b"age-encryption.org/v1\n")
    stored_manifest = s3_project.get(prefix + "manifest.json")
    assert json.loads(stored_manifest)["row_counts"] == manifest["row_counts"]
    for secret in s3_project.secrets:
        assert secret.encode() not in stored_manifest
    for name, entry in manifest["files"].items():
        assert entry["store_checksum"] and entry["bytes"] == len(s3_project.get(prefix + name))
    # Nothing is left on the runner's disk.
    assert not (s3_project.root / ".ops" / "backups" / "production").exists()

    listing = s3_project.ops_json("backup.list")[1]
    assert [(b["id"], b["encrypted"], b["verification"]) for b in listing["backups"]] == [
        (manifest["id"], True, "unverified")
    ]
    assert listing["unfinished"] == [] and listing["damaged"] == []

    result, verified = s3_project.ops_json("backup.verify", "--latest")
    assert result.code == 0, result.output
    assert (verified["status"], verified["level"], verified["problems"]) == ("ok", "checksums", [])

    result = s3_project.ops("backup.verify", "--latest", "--deep")
    assert (result.code, result.stderr.strip()) == (
        2,
        "error: this backup is encrypted and OPS_BACKUP_IDENTITY is not set"
        " (fix: set OPS_BACKUP_IDENTITY to the age identity (AGE-SECRET-KEY-1...) or the path of its key file)",
    )
    result, deep = s3_project.ops_json("backup.verify", "--latest", "--deep", identity=True)
    assert result.code == 0, result.output
    assert deep["status"] == "ok" and deep["level"] == "deep" and deep["toc_entries"] > 50

    summary = s3_project.root / "step-summary.md"
    s3_project.env["GITHUB_STEP_SUMMARY"] = str(summary)
    result, report = s3_project.ops_json("backup.drill", identity=True)
    assert result.code == 0, result.output
    steps = {s["name"]: s for s in report["steps"]}
    assert all(step["status"] == "ok" for step in report["steps"])
    assert summary.read_text() == Path(report["report_markdown"]).read_text()
    assert Path(report["report_markdown"]).stat().st_mode & 0o777 == 0o600
    assert steps["restore"]["detail"] == "streamed from the repository into pg_restore through age"
    checks = {c["name"]: (c["status"], c["actual"]) for c in report["checks"]}
    for table, count in real_counts(environments).items():
        assert checks[f"rows {table}"] == ("ok", count)
    assert drill_databases(environments) == []
    # The drill report stays on the runner (CI keeps it as an artifact), the dump does not.
    assert Path(report["report_markdown"]).parent == s3_project.root / ".ops" / "backups" / "drills"


def test_keep_local_keeps_exactly_what_was_uploaded(s3_project: S3Project) -> None:
    manifest = s3_project.export("--keep-local")
    local = s3_project.root / ".ops" / "backups" / "production" / manifest["id"]
    assert manifest["kept_local"] == str(local)
    prefix = f"team-app/production/{manifest['id']}/"
    assert sorted(p.name for p in local.iterdir()) == sorted([*manifest["files"], "manifest.json"])
    for name in manifest["files"]:
        assert (local / name).read_bytes() == s3_project.get(prefix + name)
        assert (local / name).stat().st_mode & 0o777 == 0o600
    assert local.stat().st_mode & 0o777 == 0o700


def test_a_drill_without_the_identity_is_one_line_before_anything_is_touched(
    s3_project: S3Project, environments: Environments
) -> None:
    s3_project.export()
    result = s3_project.ops("backup.drill")
    assert result.code == 2 and result.stdout == ""
    assert result.stderr.strip() == (
        "error: this backup is encrypted and OPS_BACKUP_IDENTITY is not set"
        " (fix: set OPS_BACKUP_IDENTITY to the age identity (AGE-SECRET-KEY-1...) or the path of its key file)"
    )
    assert drill_databases(environments) == []


def test_the_age_cli_and_pg_restore_restore_a_backup_without_the_toolkit(
    s3_project: S3Project, environments: Environments
) -> None:
    manifest = s3_project.export()
    work = reachable_tempdir("ops-backup-age-")
    downloaded = work / "dump.pgc.age"
    downloaded.write_bytes(s3_project.get(f"team-app/production/{manifest['id']}/dump.pgc.age"))
    database = f"age_restore_{uuid.uuid4().hex[:8]}"
    cluster = environments.staging_cluster
    cluster.create_database(database, template="template0")
    into = target(cluster.url(database))
    try:
        pipeline = subprocess.run(
            ["bash", "-o", "pipefail", "-c", 'age -d -i "$KEY" "$FILE" | pg_restore --no-owner -d "$DB"'],
            env={**into.env, "KEY": str(s3_project.identity_file), "FILE": str(downloaded), "DB": into.conninfo},
            capture_output=True,
            text=True,
            timeout=300,
        )
        # --no-owner aside, the same errors pg_restore would print for the drill: none.
        assert pipeline.returncode == 0, pipeline.stderr
        with cluster.connection(database) as conn:
            restored = conn.execute("select count(*) from public.products").fetchone()[0]  # type: ignore[index]
        assert restored == manifest["row_counts"]["public.products"] > 0
    finally:
        cluster.drop_database(database)
        import shutil

        shutil.rmtree(work, ignore_errors=True)


def test_a_corrupted_or_truncated_remote_object_is_caught_by_verify(s3_project: S3Project) -> None:
    manifest = s3_project.export()
    key = f"team-app/production/{manifest['id']}/dump.pgc.age"
    original = s3_project.get(key)
    flipped = bytearray(original)
    flipped[len(flipped) // 2] ^= 0xFF
    s3_project.store.client().put_object(Bucket=s3_project.bucket, Key=key, Body=bytes(flipped))
    result = s3_project.ops("backup.verify", "--latest")
    assert result.code == 1
    assert result.stdout.splitlines() == [
        f"backup {manifest['id']} FAILED verification:",
        "  dump.pgc.age: checksum mismatch (the store's SHA-256 differs from the manifest's)",
    ]
    s3_project.store.client().put_object(Bucket=s3_project.bucket, Key=key, Body=original[:10])
    result = s3_project.ops("backup.verify", "--latest")
    assert result.code == 1
    assert f"  dump.pgc.age: size 10 bytes, expected {len(original)} (truncated or damaged)" in result.stdout
    listed = s3_project.ops_json("backup.list")[1]["backups"]
    assert [b["verification"] for b in listed] == ["failed"]


def test_an_interrupted_upload_is_never_listed(s3_project: S3Project, environments: Environments) -> None:
    project = _as_lock_project(s3_project)
    with export_held_at_lock(project, environments, "public.products", start_new_session=True) as proc:
        # database_settings.json goes up beside pg_dump: wait (bounded) until it is there.
        deadline = time.monotonic() + 60
        while not s3_project.keys("team-app/production/") and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    listing = s3_project.ops_json("backup.list")[1]
    assert listing["backups"] == [] and len(listing["unfinished"]) == 1
    assert listing["unfinished"][0].startswith(f"s3://{s3_project.bucket}/team-app/production/")
    manifest = s3_project.export()
    assert [b["id"] for b in s3_project.ops_json("backup.list")[1]["backups"]] == [manifest["id"]]


def _as_lock_project(s3_project: S3Project):  # type: ignore[no-untyped-def]
    from tests.test_backup import Project

    return Project(s3_project.root, s3_project.env, "", "")


def test_prune_applies_gfs_to_remote_objects_and_reverifies_first(s3_project: S3Project) -> None:
    oldest, middle, newest = s3_project.export(), s3_project.export(), s3_project.export()
    for manifest in (middle, newest):
        assert s3_project.ops("backup.verify", "--backup", manifest["id"]).code == 0
    key = f"team-app/production/{newest['id']}/dump.pgc.age"
    s3_project.store.client().put_object(Bucket=s3_project.bucket, Key=key, Body=b"not the dump any more")

    result, plan = s3_project.ops_json("backup.prune", "--apply")
    assert result.code == 0, result.output
    assert [(c["id"], c["status"]) for c in plan["reverified"]] == [(newest["id"], "failed"), (middle["id"], "ok")]
    assert sorted(plan["deleted"]) == sorted([oldest["id"], newest["id"]])
    remaining = {key.split("/")[2] for key in s3_project.keys("team-app/production/")}
    assert remaining == {middle["id"]}
    assert [b["id"] for b in s3_project.ops_json("backup.list")[1]["backups"]] == [middle["id"]]


def test_storage_files_are_copied_incrementally_and_restored_into_staging(
    s3_project: S3Project, environments: Environments
) -> None:
    config = (s3_project.root / "pyproject.toml").read_text()
    avatars = config.split('buckets = ["', 1)[1].split('"', 1)[0]
    documents = config.split(f'"{avatars}", "', 1)[1].split('"', 1)[0]
    storage = s3_project.store.client()
    for bucket in (avatars, documents):
        storage.create_bucket(Bucket=bucket)
    storage.put_object(Bucket=avatars, Key="u1/face.png", Body=b"\x89PNG one", ContentType="image/png")
    storage.put_object(Bucket=avatars, Key="u2/face.png", Body=b"\x89PNG two", ContentType="image/png")
    storage.put_object(Bucket=documents, Key="invoices/1.pdf", Body=b"%PDF one", ContentType="application/pdf")

    first = s3_project.export("--storage")
    assert first["storage"]["buckets"] == {avatars: 2, documents: 1}
    assert (first["storage"]["copied"], first["storage"]["referenced"]) == (3, 0)
    pool = "team-app/storage-pool/production/"
    assert len(s3_project.keys(pool)) == 3
    for key in s3_project.keys(pool):
        assert s3_project.get(key).startswith(b"age-encryption.org/v1\n")

    storage.put_object(Bucket=avatars, Key="u2/face.png", Body=b"\x89PNG two, changed", ContentType="image/png")
    storage.put_object(Bucket=documents, Key="invoices/2.pdf", Body=b"%PDF two", ContentType="application/pdf")
    second = s3_project.export("--storage")
    assert second["storage"]["buckets"] == {avatars: 2, documents: 2}
    assert (second["storage"]["copied"], second["storage"]["referenced"]) == (2, 2)
    assert len(s3_project.keys(pool)) == 5
    assert "u1/face.png" not in json.dumps(second)  # object keys are user data: only in the encrypted index

    result, restored = s3_project.ops_json("backup.restore-storage", "--to", "staging", identity=True)
    assert result.code == 0, result.output
    assert restored["buckets"] == {avatars: 2, documents: 2}
    staging = s3_project.staging_storage.client()
    assert staging.get_object(Bucket=avatars, Key="u2/face.png")["Body"].read() == b"\x89PNG two, changed"
    assert staging.get_object(Bucket=documents, Key="invoices/2.pdf")["Body"].read() == b"%PDF two"
    assert staging.get_object(Bucket=documents, Key="invoices/1.pdf")["ContentType"] == "application/pdf"

    result, report = s3_project.ops_json("backup.drill", identity=True)
    assert result.code == 0, result.output
    steps = {s["name"]: s for s in report["steps"]}
    assert steps["check storage objects"] == {
        "name": "check storage objects",
        "status": "ok",
        "seconds": steps["check storage objects"]["seconds"],
        "detail": "4 objects in 2 bucket(s)",
    }
    checks = {c["name"]: (c["status"], c["actual"]) for c in report["checks"]}
    assert checks[f"storage objects {avatars}"] == ("ok", 2) and checks[f"storage objects {documents}"] == ("ok", 2)

    # Retention: the first backup goes, and with it the one file only it referenced (u2's old face).
    result, plan = s3_project.ops_json("backup.prune", "--apply")
    assert result.code == 0, result.output
    assert plan["deleted"] == [first["id"]] and plan["storage_files_deleted"] == 1
    assert len(s3_project.keys(pool)) == 4
    assert s3_project.ops("backup.verify", "--latest").code == 0
    # A Storage file lost from the pool is named by verify.
    lost = s3_project.keys(pool)[0]
    storage.delete_object(Bucket=s3_project.bucket, Key=lost)
    result = s3_project.ops("backup.verify", "--latest")
    assert result.code == 1
    assert (
        f"  storage-pool/production/{lost.rsplit('/', 1)[1]}: missing (a Storage file of this backup)" in result.stdout
    )


def test_a_local_repository_can_be_encrypted_too(s3_project: S3Project, environments: Environments) -> None:
    """encrypt_to with a local repository: the same streamed, age-encrypted -Fc files."""
    config = s3_project.root / "pyproject.toml"
    config.write_text(
        config.read_text().replace(f'repository = "s3://{s3_project.bucket}/team-app"', 'repository = "kept"')
    )
    manifest = s3_project.export()
    local = s3_project.root / "kept" / "production" / manifest["id"]
    assert manifest["path"] == str(local) and manifest["dump"]["file"] == "dump.pgc.age"
    assert (local / "dump.pgc.age").read_bytes().startswith(b"age-encryption.org/v1\n")
    assert s3_project.keys() == []
    result, verified = s3_project.ops_json("backup.verify", "--latest")
    assert (result.code, verified["level"]) == (0, "checksums")
    result, deep = s3_project.ops_json("backup.verify", "--latest", "--deep", identity=True)
    assert (result.code, deep["level"]) == (0, "deep")
    result, report = s3_project.ops_json("backup.drill", identity=True)
    assert result.code == 0, result.output
    checks = {c["name"]: (c["status"], c["actual"]) for c in report["checks"]}
    assert checks["rows public.products"] == ("ok", manifest["row_counts"]["public.products"])


def test_r2_style_settings_read_the_variables_they_name(s3_servers: tuple[S3Server, S3Server]) -> None:
    """Cloudflare R2 as seed 000 names it (R2_ACCOUNT_ID in the endpoint, R2_* keys), against the S3 server."""
    store = s3_servers[0]
    bucket = f"r2-{uuid.uuid4().hex[:10]}"
    store.client().create_bucket(Bucket=bucket)
    port = store.endpoint.rsplit(":", 1)[1]
    root = reachable_tempdir("ops-backup-r2-")
    try:
        (root / "pyproject.toml").write_text(
            f'[tool.ops]\n\n[tool.ops.backup]\nrepository = "s3://{bucket}/db"\n\n[tool.ops.backup.s3]\n'
            # R2's real form is https://${R2_ACCOUNT_ID}.r2.cloudflarestorage.com; here the variable holds the port.
            'endpoint_url = "http://127.0.0.1:${R2_ACCOUNT_ID}"\naccess_key_id_env = "R2_ACCESS_KEY_ID"\n'
            'secret_access_key_env = "R2_SECRET_ACCESS_KEY"\nregion = "auto"\naddressing_style = "path"\n'
        )
        env = {"OPS_PROJECT_ROOT": str(root), "R2_ACCOUNT_ID": "", "R2_ACCESS_KEY_ID": "", "R2_SECRET_ACCESS_KEY": ""}
        result = run_cli("backup.list", "--env", "production", cwd=root, env=env)
        assert (result.code, result.stderr.strip()) == (
            2,
            "error: endpoint_url needs ${R2_ACCOUNT_ID}, which is not set (fix: export R2_ACCOUNT_ID)",
        )
        env["R2_ACCOUNT_ID"] = port
        result = run_cli("backup.list", "--env", "production", cwd=root, env=env)
        assert (result.code, result.stderr.strip()) == (
            2,
            "error: R2_ACCESS_KEY_ID is not set (the S3 access key id) (fix: export R2_ACCESS_KEY_ID (a CI secret))",
        )
        env.update({"R2_ACCESS_KEY_ID": "r2-key", "R2_SECRET_ACCESS_KEY": "r2-very-secret"})
        result = run_cli("backup.list", "--env", "production", "--json", cwd=root, env=env)
        assert result.code == 0, result.output
        assert json.loads(result.stdout) == {"backups": [], "unfinished": [], "damaged": []}
        assert "r2-very-secret" not in result.output
    finally:
        import shutil

        shutil.rmtree(root, ignore_errors=True)


def test_a_file_under_one_part_is_one_put_and_a_larger_one_a_checked_multipart_upload(
    s3_servers: tuple[S3Server, S3Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both shapes of upload leave the SHA-256 the store computed, which is what verify compares."""
    from ops.backup.s3 import S3Repository, same_checksum
    from ops.backup.settings import S3Access

    store = s3_servers[0]
    bucket = f"sinks-{uuid.uuid4().hex[:10]}"
    store.client().create_bucket(Bucket=bucket)
    monkeypatch.setenv("SINK_KEY_ID", "testing")
    monkeypatch.setenv("SINK_SECRET", "testing-secret")
    access = S3Access(
        endpoint_url=store.endpoint,
        access_key_id_env="SINK_KEY_ID",
        secret_access_key_env="SINK_SECRET",
        region="us-east-1",
        part_size_mb=5,
    )
    repo = S3Repository(f"s3://{bucket}/db", access)
    small, large = os.urandom(3000), os.urandom((5 << 20) * 2 + 12345)  # large: two full parts and a tail
    entries = {}
    for name, data in (("small.bin", small), ("large.bin", large)):
        sink = repo.new_sink(repo.key("production", "b1", name))
        for start in range(0, len(data), 1 << 20):
            sink.write(data[start : start + (1 << 20)])
        entries[name] = sink.close()
    assert store.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    for name, data in (("small.bin", small), ("large.bin", large)):
        assert entries[name]["sha256"] == hashlib.sha256(data).hexdigest()
        size, stored = repo.stat("production", "b1", name)  # type: ignore[misc]
        assert size == len(data) and same_checksum(stored, entries[name]["store_checksum"]), name
        with repo.open("production", "b1", name) as body:
            assert body.read() == data
    assert entries["large.bin"]["store_checksum"].endswith("-3")  # three parts
    assert "-" not in entries["small.bin"]["store_checksum"]  # one PutObject
    abandoned = repo.new_sink(repo.key("production", "b1", "abandoned.bin"))
    abandoned.write(b"x" * 100)
    abandoned.abort()
    assert repo.stat("production", "b1", "abandoned.bin") is None
    assert store.client().list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
