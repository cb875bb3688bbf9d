"""Mosquitto's password file, written without its `mosquitto_passwd` tool.

Mosquitto 2 stores `user:$7$<iterations>$<salt>$<hash>`: PBKDF2-HMAC-SHA512 over a 12-byte
salt, both base64. Writing it here means `roost init` works where the broker runs in a
container and the host has no mosquitto tools; the tests check the format against Debian's
`mosquitto_passwd` and a real broker.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

ITERATIONS = 101  # mosquitto_passwd's own; roost's passwords are random, not words
SALT_BYTES = 12


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else os.urandom(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    encoded_salt = base64.b64encode(salt).decode()
    return f"$7${iterations}${encoded_salt}${base64.b64encode(digest).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    try:
        _, scheme, iterations, salt, digest = hashed.split("$")
        if scheme != "7":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.pbkdf2_hmac(
            "sha512", password.encode(), base64.b64decode(salt), int(iterations)
        )
    except ValueError:
        return False
    return hmac.compare_digest(expected, actual)


def render(entries: dict[str, str]) -> str:
    """The file's text from user → hash, sorted by user."""
    for user in entries:
        if not user or ":" in user or any(c.isspace() for c in user):
            raise ValueError(f"{user!r} cannot be a Mosquitto user name")
    return "".join(f"{user}:{entries[user]}\n" for user in sorted(entries))


def parse(text: str) -> dict[str, str]:
    entries = {}
    for line in text.splitlines():
        user, sep, hashed = line.strip().partition(":")
        if sep and user and not user.startswith("#"):
            entries[user] = hashed
    return entries
