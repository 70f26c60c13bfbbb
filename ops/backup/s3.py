"""An S3-compatible object store (AWS S3, Cloudflare R2, Backblaze B2, MinIO,
Supabase Storage) through boto3.

Every file is a multipart upload whose parts carry a SHA-256 checksum that
the store checks on receipt; the store keeps the composite checksum, which
``verify`` compares with the manifest through ``HeadObject`` without
downloading anything. Parts are uploaded by one background thread while the
producer (pg_dump, age) keeps writing.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import queue
import re
import threading
from typing import IO, Any

from ops.backup.repository import (
    MANIFEST,
    POOL,
    BackupWriter,
    Repository,
    Scan,
    Sink,
    manifest_bytes,
    parse_manifest,
)
from ops.backup.settings import S3Access
from ops.console import register_secret
from ops.errors import CheckFailed, ConfigError, ExternalError

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(value: str, key: str) -> str:
    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        found = os.environ.get(name)
        if not found:
            raise ConfigError(f"{key} needs ${{{name}}}, which is not set", f"export {name}")
        return found

    return _VAR.sub(lookup, value)


def _from_env(name: str | None, what: str) -> str | None:
    if not name:
        return None
    value = os.environ.get(name)
    if not value:
        raise ConfigError(f"{name} is not set ({what})", f"export {name} (a CI secret)")
    return value


def client(access: S3Access) -> Any:
    """A boto3 S3 client. Names left unset fall back to boto3's own environment
    (AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...) and chain."""
    import boto3
    from botocore.config import Config as BotoConfig

    kwargs: dict[str, Any] = {}
    endpoint = _expand(access.endpoint_url, "endpoint_url") if access.endpoint_url else None
    endpoint = endpoint or _from_env(access.endpoint_url_env, "the S3 endpoint")
    if endpoint:
        kwargs["endpoint_url"] = endpoint
    key_id = _from_env(access.access_key_id_env, "the S3 access key id")
    secret = _from_env(access.secret_access_key_env, "the S3 secret access key")
    if key_id and secret:
        kwargs["aws_access_key_id"], kwargs["aws_secret_access_key"] = key_id, secret
    register_secret(secret or os.environ.get("AWS_SECRET_ACCESS_KEY"))
    region = access.region or _from_env(access.region_env, "the S3 region")
    if region:
        kwargs["region_name"] = region
    config = BotoConfig(
        s3={"addressing_style": access.addressing_style},
        retries={"max_attempts": 5, "mode": "standard"},
        connect_timeout=10,
        read_timeout=120,
        # We send SHA-256 checksums ourselves; no extra CRC trailers that some
        # S3-compatible stores refuse.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.session.Session().client("s3", config=config, **kwargs)


def s3_error(action: str, where: str, exc: BaseException) -> ExternalError:
    from botocore.exceptions import ClientError, NoCredentialsError

    if isinstance(exc, NoCredentialsError):
        return ExternalError(
            f"{action} {where} failed: no S3 credentials",
            "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or name other variables in [tool.ops.backup.s3]",
        )
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        detail = f"{error.get('Code', '')} {error.get('Message', '')}".strip()
        return ExternalError(f"{action} {where} failed: {detail}", "check the bucket, the credentials and the endpoint")
    return ExternalError(
        f"{action} {where} failed: {' '.join(str(exc).split())}",
        "check the S3 endpoint (AWS_ENDPOINT_URL_S3 or [tool.ops.backup.s3]) and the network",
    )


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def same_checksum(stored: str | None, expected: str | None) -> bool:
    """S3 reports a multipart checksum as ``<base64>-<parts>``; some stores omit the suffix."""
    if not stored or not expected:
        return False
    return stored.split("-", 1)[0] == expected.split("-", 1)[0]


class MultipartSink(Sink):
    """Bytes in, parts of ``part_size`` out, uploaded by one background thread.

    The multipart upload is opened by that thread with the first full part. A file
    that ends before it fills one part (the settings, the roles, a small dump) goes
    up as one PutObject with its SHA-256 instead: one request rather than three,
    and none on the export's path before the bytes exist."""

    def __init__(self, s3: Any, bucket: str, key: str, part_size: int) -> None:
        super().__init__()
        self.s3, self.bucket, self.key, self.part_size = s3, bucket, key, part_size
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        self._queue: queue.Queue[tuple[int, bytes] | None] = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self._next = 0
        self.upload_id: str | None = None
        self._thread: threading.Thread | None = None  # started with the first full part

    @property
    def _where(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def _uploader(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue
            number, body = item
            digest = hashlib.sha256(body).digest()
            try:
                if self.upload_id is None:
                    upload = self.s3.create_multipart_upload(
                        Bucket=self.bucket, Key=self.key, ChecksumAlgorithm="SHA256"
                    )
                    self.upload_id = upload["UploadId"]
                response = self.s3.upload_part(
                    Bucket=self.bucket,
                    Key=self.key,
                    UploadId=self.upload_id,
                    PartNumber=number,
                    Body=body,
                    ChecksumSHA256=_b64(digest),
                )
            except BaseException as exc:
                self._error = exc
                continue
            self._parts.append({"PartNumber": number, "ETag": response["ETag"], "ChecksumSHA256": _b64(digest)})

    def _store(self, chunk: bytes) -> None:
        self._buffer += chunk
        while len(self._buffer) >= self.part_size:
            self._hand_over(bytes(self._buffer[: self.part_size]))
            del self._buffer[: self.part_size]

    def _hand_over(self, body: bytes) -> None:
        if self._error is not None:
            raise s3_error("upload to", self._where, self._error)
        if self._thread is None:
            self._thread = threading.Thread(target=self._uploader, daemon=True)
            self._thread.start()
        self._next += 1
        self._queue.put((self._next, body))

    def _finish(self) -> str | None:
        if self._thread is None:
            return self._put_whole()
        if self._buffer:
            self._hand_over(bytes(self._buffer))
            self._buffer.clear()
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            self._abandon()
            raise s3_error("upload to", self._where, self._error)
        parts = sorted(self._parts, key=lambda part: part["PartNumber"])
        digests = [bytes(base64.b64decode(part["ChecksumSHA256"])) for part in parts]
        composite = f"{_b64(hashlib.sha256(b''.join(digests)).digest())}-{len(parts)}"
        try:
            done = self.s3.complete_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": parts}
            )
        except Exception as exc:
            self._abandon()
            raise s3_error("upload to", self._where, exc) from None
        stored = done.get("ChecksumSHA256")
        if stored and not same_checksum(stored, composite):
            raise ExternalError(f"the store computed another checksum for {self._where}", "retry the export")
        return composite

    def _put_whole(self) -> str:
        """Less than one part: a single PutObject, which the store checks against its SHA-256."""
        body = bytes(self._buffer)
        self._buffer.clear()
        checksum = _b64(hashlib.sha256(body).digest())
        try:
            # ChecksumAlgorithm too: a store may keep the SHA-256 (for HeadObject) only when it is named.
            done = self.s3.put_object(
                Bucket=self.bucket, Key=self.key, Body=body, ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum
            )
        except Exception as exc:
            raise s3_error("upload to", self._where, exc) from None
        stored = done.get("ChecksumSHA256")
        if stored and not same_checksum(stored, checksum):
            raise ExternalError(f"the store computed another checksum for {self._where}", "retry the export")
        return checksum

    def _abandon(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._error = self._error or RuntimeError("aborted")
            self._queue.put(None)
            self._thread.join()
        if self.upload_id is None:
            return  # nothing was sent: a file abandoned before its first part left no upload
        # On failure the abandoned upload expires with the bucket's lifecycle rule.
        with contextlib.suppress(Exception):
            self.s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)


class _S3Writer(BackupWriter):
    def __init__(self, repo: S3Repository, env: str, backup_id: str) -> None:
        self.repo, self.env, self.id = repo, env, backup_id

    def sink(self, name: str) -> Sink:
        return self.repo.new_sink(self.repo.key(self.env, self.id, name))

    def finish(self, manifest: dict[str, Any]) -> str:
        self.repo.write_manifest(self.env, self.id, manifest)
        return self.repo.location(self.env, self.id)

    def abort(self) -> None:
        # On failure it stays an unfinished backup, which backup.list reports.
        with contextlib.suppress(ExternalError):
            self.repo.delete(self.env, self.id)


class S3Repository(Repository):
    is_local = False

    def __init__(self, url: str, access: S3Access) -> None:
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not bucket:
            raise ConfigError(f"repository {url} names no bucket", "use s3://bucket/prefix")
        self.url = url.rstrip("/")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.access = access
        self._client: Any = None

    @property
    def s3(self) -> Any:
        if self._client is None:
            self._client = client(self.access)
        return self._client

    def key(self, *parts: str) -> str:
        return "/".join(part for part in (self.prefix, *parts) if part)

    def new_sink(self, key: str) -> MultipartSink:
        return MultipartSink(self.s3, self.bucket, key, self.access.part_size_mb << 20)

    def begin(self, env: str, backup_id: str) -> BackupWriter:
        if self._list(self.key(env, backup_id) + "/", limit=1):
            raise FileExistsError(backup_id)
        return _S3Writer(self, env, backup_id)

    def _call(self, action: str, where: str, method: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.s3, method)(Bucket=self.bucket, **kwargs)
        except (ConfigError, ExternalError):
            raise
        except Exception as exc:
            raise s3_error(action, where, exc) from None

    def _list(self, prefix: str, *, limit: int | None = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        token: dict[str, Any] = {}
        while True:
            page = self._call("list", f"s3://{self.bucket}/{prefix}", "list_objects_v2", Prefix=prefix, **token)
            found += page.get("Contents", [])
            if limit and len(found) >= limit:
                return found
            if not page.get("IsTruncated"):
                return found
            token = {"ContinuationToken": page["NextContinuationToken"]}

    def scan(self, env: str) -> Scan:
        base = self.key(env) + "/"
        result = Scan([], [], [])
        ids: dict[str, bool] = {}
        for entry in self._list(base):
            backup_id, _, name = entry["Key"][len(base) :].partition("/")
            if backup_id:
                ids[backup_id] = ids.get(backup_id, False) or name == MANIFEST
        for backup_id, finished in sorted(ids.items()):
            if not finished:
                result.unfinished.append(self.location(env, backup_id))
                continue
            try:
                result.manifests.append((backup_id, self.read_manifest(env, backup_id)))
            except CheckFailed:
                result.damaged.append(self.location(env, backup_id))
        return result

    def location(self, env: str, backup_id: str) -> str:
        return f"s3://{self.bucket}/{self.key(env, backup_id)}"

    def has_manifest_dir(self, env: str, backup_id: str) -> bool:
        return "/" not in backup_id and bool(self._list(self.key(env, backup_id) + "/", limit=1))

    def read_manifest(self, env: str, backup_id: str) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        key = self.key(env, backup_id, MANIFEST)
        where = f"s3://{self.bucket}/{key}"
        try:
            raw = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise CheckFailed(f"{where} is missing", "this is not a finished backup; delete it") from None
            raise s3_error("read", where, exc) from None
        except (ConfigError, ExternalError):
            raise
        except Exception as exc:
            raise s3_error("read", where, exc) from None
        return parse_manifest(raw, where)

    def write_manifest(self, env: str, backup_id: str, manifest: dict[str, Any]) -> None:
        # One request (the manifest is small); the store still checks the SHA-256.
        body = manifest_bytes(manifest)
        key = self.key(env, backup_id, MANIFEST)
        checksum = _b64(hashlib.sha256(body).digest())
        self._call("upload", f"s3://{self.bucket}/{key}", "put_object", Key=key, Body=body, ChecksumSHA256=checksum)

    def open(self, env: str, backup_id: str, name: str) -> IO[bytes]:
        key = self.key(env, backup_id, name)
        body = self._call("download", f"s3://{self.bucket}/{key}", "get_object", Key=key)["Body"]
        return _Body(body)  # type: ignore[return-value]

    def stat(self, env: str, backup_id: str, name: str) -> tuple[int, str | None] | None:
        from botocore.exceptions import ClientError

        key = self.key(env, backup_id, name)
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                return None
            raise s3_error("inspect", f"s3://{self.bucket}/{key}", exc) from None
        except (ConfigError, ExternalError):
            raise
        except Exception as exc:
            raise s3_error("inspect", f"s3://{self.bucket}/{key}", exc) from None
        return int(head["ContentLength"]), head.get("ChecksumSHA256")

    def names(self, env: str, backup_id: str) -> list[str]:
        base = self.key(env, backup_id) + "/"
        return sorted(entry["Key"][len(base) :] for entry in self._list(base))

    def delete(self, env: str, backup_id: str) -> None:
        base = self.key(env, backup_id) + "/"
        # The manifest first: a half-deleted backup is never listed as a backup.
        self._call("delete", f"s3://{self.bucket}/{base}{MANIFEST}", "delete_object", Key=base + MANIFEST)
        self._delete_keys([entry["Key"] for entry in self._list(base)])

    def _delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = [{"Key": key} for key in keys[start : start + 1000]]
            response = self._call(
                "delete", f"s3://{self.bucket}/{self.prefix}", "delete_objects", Delete={"Objects": batch}
            )
            if response.get("Errors"):
                error = response["Errors"][0]
                raise ExternalError(
                    f"cannot delete s3://{self.bucket}/{error.get('Key')}: {error.get('Code')} {error.get('Message')}",
                    "check that the credentials may delete objects, then rerun backup.prune --apply",
                )

    def pool_sink(self, env: str, blob: str) -> Sink:
        return self.new_sink(self.key(POOL, env, blob))

    def pool_open(self, env: str, blob: str) -> IO[bytes]:
        key = self.key(POOL, env, blob)
        return _Body(self._call("download", f"s3://{self.bucket}/{key}", "get_object", Key=key)["Body"])  # type: ignore[return-value]

    def pool_stat(self, env: str, blob: str) -> int | None:
        from botocore.exceptions import ClientError

        key = self.key(POOL, env, blob)
        try:
            return int(self.s3.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except ClientError:
            return None

    def pool_blobs(self, env: str) -> list[str]:
        base = self.key(POOL, env) + "/"
        return sorted(entry["Key"][len(base) :] for entry in self._list(base))

    def pool_delete(self, env: str, blobs: list[str]) -> None:
        self._delete_keys([self.key(POOL, env, blob) for blob in blobs])


class _Body:
    """A botocore StreamingBody as a plain binary reader (pyrage and pipes want ``read(n)``)."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def read(self, size: int = -1) -> bytes:
        return bytes(self._body.read(None if size is None or size < 0 else size))

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()

    def __enter__(self) -> _Body:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
