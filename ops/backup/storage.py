"""Supabase Storage files in a backup, read through Storage's S3-compatible endpoint.

A database restore brings back the ``storage.objects`` rows, not the files.
``backup.export --storage`` copies every object of the project's buckets into
the repository's shared pool (``storage-pool/<env>/<blob>``), encrypted like the
dump. A blob is named by a hash of (bucket, key, ETag, recipients), so an object
whose ETag has not changed since an earlier backup is referenced again, not
copied ("daily diff"). Each backup stores an index (bucket, key, ETag, content
type, blob), encrypted, since object keys are user data; the manifest holds
only bucket names, object counts and blob names.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from ops.backup.catalog import Backup, find, repository
from ops.backup.content import read_file
from ops.backup.crypto import decrypt_bytes, encrypt_stream, identities
from ops.backup.manifest import STORAGE_INDEX, stored_name
from ops.backup.repository import Repository
from ops.backup.s3 import client, s3_error
from ops.backup.settings import StorageSource, load_settings
from ops.config import Config
from ops.errors import CheckFailed, ConfigError, GuardRefused

_CHUNK = 1 << 20


def blob_name(bucket: str, key: str, etag: str, encrypt_to: list[str]) -> str:
    material = "\0".join([bucket, key, etag, *sorted(encrypt_to)])
    return hashlib.sha256(material.encode()).hexdigest() + (".age" if encrypt_to else "")


def _objects(s3: Any, bucket: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token: dict[str, Any] = {}
    while True:
        try:
            page = s3.list_objects_v2(Bucket=bucket, **token)
        except Exception as exc:
            raise s3_error("list", f"Storage bucket {bucket}", exc) from None
        found += page.get("Contents", [])
        if not page.get("IsTruncated"):
            return found
        token = {"ContinuationToken": page["NextContinuationToken"]}


def _buckets(s3: Any, source: StorageSource) -> list[str]:
    if source.buckets:
        return list(source.buckets)
    try:
        return sorted(bucket["Name"] for bucket in s3.list_buckets().get("Buckets", []))
    except Exception as exc:
        raise s3_error("list", "the Storage buckets", exc) from None


def copy_storage(
    repo: Repository,
    env: str,
    source: StorageSource,
    encrypt_to: list[str],
    put: Callable[[str, bytes], None],
    out: Any = None,
) -> dict[str, Any]:
    """Copy new or changed objects into the pool, index them all; the manifest entry."""
    s3 = client(source)
    existing = set(repo.pool_blobs(env))
    index: dict[str, list[dict[str, Any]]] = {}
    copied = referenced = copied_bytes = 0
    for bucket in _buckets(s3, source):
        entries = index.setdefault(bucket, [])
        for obj in _objects(s3, bucket):
            key, etag = obj["Key"], str(obj.get("ETag", "")).strip('"')
            blob = blob_name(bucket, key, etag, encrypt_to)
            content_type = None
            if blob in existing:
                # Unchanged: referenced, not copied (only its content type is looked up).
                try:
                    content_type = s3.head_object(Bucket=bucket, Key=key).get("ContentType")
                except Exception as exc:
                    raise s3_error("inspect", f"Storage object {bucket}/{key}", exc) from None
                referenced += 1
            else:
                try:
                    response = s3.get_object(Bucket=bucket, Key=key)
                except Exception as exc:
                    raise s3_error("download", f"Storage object {bucket}/{key}", exc) from None
                content_type = response.get("ContentType")
                sink = repo.pool_sink(env, blob)
                try:
                    if encrypt_to:
                        encrypt_stream(response["Body"], sink, encrypt_to)
                    else:
                        while chunk := response["Body"].read(_CHUNK):
                            sink.write(chunk)
                except BaseException:
                    sink.abort()
                    raise
                copied_bytes += sink.close()["bytes"]
                existing.add(blob)
                copied += 1
            entries.append({"key": key, "etag": etag, "size": obj.get("Size", 0), "blob": blob, "type": content_type})
    raw = (json.dumps({"buckets": index}, indent=1) + "\n").encode()
    name = stored_name(STORAGE_INDEX, bool(encrypt_to))
    if encrypt_to:
        from ops.backup.crypto import encrypt_bytes

        raw = encrypt_bytes(raw, encrypt_to)
    put(name, raw)
    if out is not None:
        out.line(f"storage: {copied} object(s) copied, {referenced} unchanged (referenced)")
    return {
        "index": name,
        "buckets": {bucket: len(entries) for bucket, entries in index.items()},
        "copied": copied,
        "copied_bytes": copied_bytes,
        "referenced": referenced,
        "blobs": sorted({entry["blob"] for entries in index.values() for entry in entries}),
    }


def read_index(backup: Backup) -> dict[str, list[dict[str, Any]]]:
    storage = backup.manifest.get("storage") or {}
    try:
        data = json.loads(read_file(backup, storage["index"]))
        return dict(data["buckets"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckFailed(
            f"the storage index of backup {backup.id} is unreadable: {exc}", "take a new export"
        ) from None


def check_storage(backup: Backup, check: Callable[[str, Any, Any], bool]) -> str:
    """The drill's step: every bucket's object count in the index matches the
    manifest, and every blob the index names is in the repository."""
    expected: dict[str, int] = (backup.manifest.get("storage") or {}).get("buckets", {})
    index = read_index(backup)
    wrong = [b for b in expected if not check(f"storage objects {b}", expected[b], len(index.get(b, [])))]
    present = set(backup.repo.pool_blobs(backup.env))
    missing = [e["key"] for entries in index.values() for e in entries if e["blob"] not in present]
    check("storage files present", 0, len(missing))
    if wrong or missing:
        raise CheckFailed(
            f"storage objects differ: {len(wrong)} bucket count(s) wrong, {len(missing)} file(s) missing",
            "take a new export with --storage",
        )
    return f"{sum(expected.values())} objects in {len(expected)} bucket(s)"


def restore_storage(
    cfg: Config,
    *,
    to_env: str = "staging",
    from_env: str = "production",
    backup_id: str | None = None,
    yes: bool = False,
    out: Any = None,
) -> dict[str, Any]:
    """Put a backup's Storage files into ``to_env``'s buckets (created when missing)."""
    cfg.env(to_env)
    cfg.env(from_env)
    if to_env == "production" and not yes:
        raise GuardRefused("restore-storage into production needs --yes", "rerun with --yes, or use --to staging")
    settings = load_settings(cfg)
    destination = settings.storage_source(to_env)
    if destination is None:
        raise ConfigError(
            f"backup.restore-storage needs [tool.ops.backup.environments.{to_env}.storage]",
            "name that project's Storage S3 endpoint and keys there (see the README)",
        )
    backup = find(settings, from_env, backup_id)
    if not backup.manifest.get("storage"):
        raise ConfigError(f"backup {backup.id} holds no Storage files", "export with: inv backup.export --storage")
    keys = identities() if backup.encrypted else []
    index = read_index(backup)
    s3 = client(destination)
    repo = repository(settings, from_env)
    restored: dict[str, int] = {}
    for bucket, entries in index.items():
        _ensure_bucket(s3, bucket)
        for entry in entries:
            with repo.pool_open(from_env, entry["blob"]) as handle:
                data = handle.read()
            body = decrypt_bytes(data, keys) if backup.encrypted else data
            extra = {"ContentType": entry["type"]} if entry.get("type") else {}
            try:
                s3.put_object(Bucket=bucket, Key=entry["key"], Body=body, **extra)
            except Exception as exc:
                raise s3_error("upload", f"Storage object {bucket}/{entry['key']}", exc) from None
        restored[bucket] = len(entries)
        if out is not None:
            out.line(f"{bucket}: {len(entries)} object(s) restored")
    return {"backup": backup.id, "from_env": from_env, "to_env": to_env, "buckets": restored}


def _ensure_bucket(s3: Any, bucket: str) -> None:
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError:
        pass
    try:
        s3.create_bucket(Bucket=bucket)
    except Exception as exc:
        raise s3_error("create", f"Storage bucket {bucket}", exc) from None
