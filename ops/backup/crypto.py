"""Client-side encryption with age (pyrage): recipients from the config, the
identity from ``OPS_BACKUP_IDENTITY`` only where a backup is read back.

Files are plain age files (``age-encryption.org/v1``): Debian's ``age -d -i
key.txt FILE`` decrypts them without the toolkit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any

from ops.console import register_secret
from ops.errors import ConfigError, ExternalError

IDENTITY_ENV = "OPS_BACKUP_IDENTITY"
SUFFIX = ".age"


def parse_recipient(text: str) -> Any:
    """A pyrage recipient; ValueError (for the settings model) when it is not one."""
    from pyrage import x25519

    try:
        return x25519.Recipient.from_str(text.strip())
    except Exception:
        raise ValueError(
            "must be age public keys (age1...); keep the identity (AGE-SECRET-KEY-1...) out of the config"
        ) from None


def recipients(keys: list[str]) -> list[Any]:
    return [parse_recipient(key) for key in keys]


def identities() -> list[Any]:
    """The identities in ``OPS_BACKUP_IDENTITY``: the key itself, or the path of an
    age identity file (``age-keygen`` output: comments and one key per line)."""
    from pyrage import x25519

    value = os.environ.get(IDENTITY_ENV, "").strip()
    if not value:
        raise ConfigError(
            f"this backup is encrypted and {IDENTITY_ENV} is not set",
            f"set {IDENTITY_ENV} to the age identity (AGE-SECRET-KEY-1...) or the path of its key file",
        )
    if value.startswith("AGE-SECRET-KEY-"):
        text = value
    else:
        try:
            text = Path(value).expanduser().read_text()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the age identity file named by {IDENTITY_ENV}: {exc.strerror}",
                f"set {IDENTITY_ENV} to an existing key file or to the key itself",
            ) from None
    keys = [line.strip() for line in text.splitlines() if line.strip().startswith("AGE-SECRET-KEY-")]
    found = []
    for key in keys:
        register_secret(key)
        try:
            found.append(x25519.Identity.from_str(key))
        except Exception:
            raise ConfigError(f"{IDENTITY_ENV} holds an invalid age identity", "use the output of age-keygen") from None
    if not found:
        raise ConfigError(f"{IDENTITY_ENV} holds no age identity", "use the output of age-keygen (AGE-SECRET-KEY-1...)")
    return found


def encrypt_bytes(data: bytes, keys: list[str]) -> bytes:
    import pyrage

    return bytes(pyrage.encrypt(data, recipients(keys)))


def decrypt_bytes(data: bytes, keys: list[Any]) -> bytes:
    import pyrage

    try:
        return bytes(pyrage.decrypt(data, keys))
    except pyrage.DecryptError as exc:
        raise _decrypt_error(exc) from None


def encrypt_stream(source: IO[bytes], sink: Any, keys: list[str]) -> None:
    """Encrypt ``source`` into ``sink`` (anything with ``write``), streaming."""
    import pyrage

    pyrage.encrypt_io(source, sink, recipients(keys))


def decrypt_stream(source: IO[bytes], sink: Any, keys: list[Any]) -> None:
    import pyrage

    try:
        pyrage.decrypt_io(source, sink, keys)
    except pyrage.DecryptError as exc:
        raise _decrypt_error(exc) from None


def _decrypt_error(exc: Exception) -> ExternalError:
    return ExternalError(
        f"cannot decrypt the backup: {' '.join(str(exc).split()) or 'no identity matches'}",
        f"check that {IDENTITY_ENV} is the identity for one of the backup's recipients",
    )
