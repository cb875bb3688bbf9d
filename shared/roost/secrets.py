"""Where roost keeps its secrets and how the admin secret is stored: hashed, never plain.

`roost init` writes them; the web UI and anything else that checks the admin secret read
them. Layout under `[node] data_dir`:

    secrets/admin.json        {"scheme": "scrypt", "n", "r", "p", "salt", "hash"} (mode 0600)
    secrets/<node>.password   a node's broker password (mode 0600)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets as _random
from pathlib import Path

from pydantic import BaseModel

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1


class SecretRecord(BaseModel):
    scheme: str = "scrypt"
    n: int = SCRYPT_N
    r: int = SCRYPT_R
    p: int = SCRYPT_P
    salt: str
    hash: str


def secrets_dir(data_dir: Path) -> Path:
    return data_dir / "secrets"


def admin_path(data_dir: Path) -> Path:
    return secrets_dir(data_dir) / "admin.json"


def new_secret(nbytes: int = 24) -> str:
    """A random secret, URL-safe, to show a person once."""
    return _random.token_urlsafe(nbytes)


def hash_secret(secret: str) -> SecretRecord:
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return SecretRecord(
        salt=base64.b64encode(salt).decode(), hash=base64.b64encode(digest).decode()
    )


def verify_secret(secret: str, record: SecretRecord) -> bool:
    if record.scheme != "scrypt":
        return False
    digest = hashlib.scrypt(
        secret.encode(), salt=base64.b64decode(record.salt), n=record.n, r=record.r, p=record.p
    )
    return hmac.compare_digest(digest, base64.b64decode(record.hash))


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (created 0600, never world-readable first)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def store_admin_secret(data_dir: Path, secret: str) -> Path:
    path = admin_path(data_dir)
    write_private(path, json.dumps(hash_secret(secret).model_dump()))
    return path


def load_admin_record(data_dir: Path) -> SecretRecord | None:
    path = admin_path(data_dir)
    if not path.is_file():
        return None
    return SecretRecord.model_validate_json(path.read_text())
