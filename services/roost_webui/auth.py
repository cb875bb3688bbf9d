"""Who may use the web UI: sessions, the admin secret, the one-time login link, API tokens
and the brake on guessing.

- The admin secret is the one `roost init` made; only its scrypt hash is on disk
  (`roost.secrets`). It logs a person in, and works as a bearer token for scripts.
- The one-time login link (`data/webui/login-url`, mode 0600) is how a fresh demo with no
  admin secret is entered, the way notebook servers do it: whoever can read the data dir
  may come in. Using it rotates it, so the file always holds one unused link.
- Sessions are random ids in an HttpOnly, SameSite=Lax cookie; the server keeps only their
  SHA-256 with a CSRF token and an expiry (`data/webui/sessions.json`), so a restart of
  the web UI keeps people logged in and a stolen sessions file logs nobody in.
- API tokens are made and revoked from the page or the API; stored as SHA-256 too.
- Failed attempts are counted per client address and per kind of credential (login form
  or link, bearer token, webhook token), never globally: a client past the limit for one
  kind waits for that kind, and nobody else is locked out by it. The client address is
  the connection's, unless `[webui] trusted_proxies` names the proxy in front.
- Rotating the admin secret (`roost init --rotate admin`) ends every session and revokes
  every API token made under the old secret.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError

from roost.secrets import (
    SecretRecord,
    admin_path,
    load_admin_record,
    verify_secret,
    write_private,
)

log = logging.getLogger("roost_webui.auth")

# What a client presented: the login form or one-time link, a bearer token, a webhook token.
Credential = Literal["login", "bearer", "webhook"]

SESSION_COOKIE = "roost_session"
LOGIN_COOKIE = "roost_login"
CSRF_HEADER = "x-csrf-token"
# Verified admin secrets (by SHA-256) stay trusted this long, so a script using the secret
# as a bearer token does not pay for scrypt on every call.
SECRET_CACHE_SECONDS = 300.0


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


# sessions --------------------------------------------------------------------------------
class Session(BaseModel):
    created: float
    expires: float
    csrf: str
    via: str
    # which admin secret was in force: a new one (`roost init` again) ends every session
    secret: str = ""


class SessionStore:
    def __init__(self, path: Path, lifetime: float) -> None:
        self.path = path
        self.lifetime = lifetime
        self._sessions: dict[str, Session] = {}
        self._lock = asyncio.Lock()

    def load(self) -> None:
        if not self.path.is_file():
            return
        try:
            raw = json.loads(self.path.read_text())
            loaded = {key: Session.model_validate(value) for key, value in raw.items()}
        except (OSError, ValueError, ValidationError, AttributeError) as exc:
            log.warning("ignoring unreadable sessions file %s: %s", self.path, exc)
            return
        now = time.time()
        self._sessions = {k: s for k, s in loaded.items() if s.expires > now}

    async def create(self, via: str, secret: str) -> tuple[str, Session]:
        sid = secrets.token_urlsafe(32)
        now = time.time()
        session = Session(
            created=now,
            expires=now + self.lifetime,
            csrf=secrets.token_urlsafe(24),
            via=via,
            secret=secret,
        )
        self._sessions[digest(sid)] = session
        await self._save()
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        session = self._sessions.get(digest(sid))
        if session is None:
            return None
        if session.expires <= time.time():
            self._sessions.pop(digest(sid), None)
            return None
        return session

    async def delete(self, sid: str) -> None:
        if self._sessions.pop(digest(sid), None) is not None:
            await self._save()

    def __len__(self) -> int:
        return len(self._sessions)

    async def _save(self) -> None:
        now = time.time()
        self._sessions = {k: s for k, s in self._sessions.items() if s.expires > now}
        text = json.dumps({k: s.model_dump() for k, s in self._sessions.items()})
        async with self._lock:
            await asyncio.to_thread(write_private, self.path, text)


# guessing brake ----------------------------------------------------------------------------
class LoginGuard:
    """At most `attempts` failures per client and kind of credential in `window` seconds.

    Never a global count: a spray of wrong webhook tokens must not lock the admin out,
    and the credentials guessed at are long random strings, so a distributed guess gains
    nothing from many addresses."""

    MAX_CLIENTS = 10_000  # bounded memory under a spray of addresses

    def __init__(self, attempts: int, window: float) -> None:
        self.attempts = attempts
        self.window = window
        self._failures: dict[tuple[str, Credential], deque[float]] = {}

    def _trim(self, stamps: deque[float], now: float) -> None:
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()

    def retry_after(self, client: str, kind: Credential) -> float | None:
        """Seconds this client must wait before its next attempt of this kind, or None."""
        stamps = self._failures.get((client, kind))
        if not stamps:
            return None
        now = time.monotonic()
        self._trim(stamps, now)
        if len(stamps) >= self.attempts:
            return max(1.0, stamps[0] + self.window - now)
        return None

    def failed(self, client: str, kind: Credential) -> None:
        now = time.monotonic()
        self._failures.setdefault((client, kind), deque()).append(now)
        if len(self._failures) > self.MAX_CLIENTS:
            quietest = min(self._failures, key=lambda key: self._failures[key][-1])
            self._failures.pop(quietest, None)

    def succeeded(self, client: str, kind: Credential) -> None:
        self._failures.pop((client, kind), None)


# the admin secret ----------------------------------------------------------------------------
class AdminSecret:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._verified: dict[str, float] = {}
        self._cached: tuple[tuple[int, float] | None, SecretRecord | None] = (None, None)

    @property
    def configured(self) -> bool:
        return self._record() is not None

    @property
    def fingerprint(self) -> str:
        """Names the admin secret in force (not the secret): "" when there is none."""
        record = self._record()
        return digest(record.hash)[:16] if record is not None else ""

    def _record(self) -> SecretRecord | None:
        """The stored record, read again whenever the file changed (a new `roost init`)."""
        path = admin_path(self.data_dir)
        try:
            stat = path.stat()
            stamp: tuple[int, float] | None = (stat.st_ino, stat.st_mtime)
        except OSError:
            stamp = None
        if stamp == self._cached[0] and stamp is not None:
            return self._cached[1]
        try:
            record = load_admin_record(self.data_dir)
        except (OSError, ValueError) as exc:
            log.error("cannot read the admin secret record: %s", exc)
            record = None
        self._cached = (stamp, record)
        return record

    async def check(self, secret: str) -> bool:
        """True if `secret` is the admin secret (read fresh, so a new `roost init` counts)."""
        record = self._record()
        if record is None or not secret or len(secret) > 1024:
            return False
        key = digest(f"{record.hash}:{secret}")
        if self._verified.get(key, 0.0) > time.monotonic():
            return True
        ok = await asyncio.to_thread(verify_secret, secret, record)
        if ok:
            self._verified = {k: t for k, t in self._verified.items() if t > time.monotonic()}
            self._verified[key] = time.monotonic() + SECRET_CACHE_SECONDS
        return ok


# the one-time login link ------------------------------------------------------------------
class LoginLink:
    def __init__(self, path: Path, base_url: str) -> None:
        self.path = path
        self.base_url = base_url
        self._token = ""

    @property
    def url(self) -> str:
        return f"{self.base_url}/login?token={self._token}"

    def rotate(self) -> str:
        self._token = secrets.token_urlsafe(32)
        write_private(self.path, self.url + "\n")
        return self.url

    def consume(self, token: str) -> bool:
        if not self._token or not token or not same(token, self._token):
            return False
        self.rotate()
        return True


# API tokens -----------------------------------------------------------------------------------
class TokenRecord(BaseModel):
    hash: str
    created: float
    # The admin secret in force when it was made (its fingerprint): a rotation revokes it.
    # None in files written before tokens were bound; bound to the current secret on load.
    secret: str | None = None


class ApiTokens:
    PREFIX = "rst_"

    def __init__(self, path: Path, admin: AdminSecret) -> None:
        self.path = path
        self.admin = admin
        self._tokens: dict[str, TokenRecord] = {}

    def load(self) -> None:
        if not self.path.is_file():
            return
        try:
            raw = json.loads(self.path.read_text())
            self._tokens = {name: TokenRecord.model_validate(r) for name, r in raw.items()}
        except (OSError, ValueError, ValidationError, AttributeError) as exc:
            log.error("ignoring unreadable API tokens file %s: %s", self.path, exc)
        for record in self._tokens.values():
            if record.secret is None:
                record.secret = self.admin.fingerprint

    def list(self) -> list[dict[str, object]]:
        current = self.admin.fingerprint
        return [
            {"name": n, "created": r.created, "revoked": r.secret != current}
            for n, r in sorted(self._tokens.items())
        ]

    async def create(self, name: str) -> str:
        if name in self._tokens:
            raise KeyError(name)
        token = self.PREFIX + secrets.token_urlsafe(32)
        self._tokens[name] = TokenRecord(
            hash=digest(token), created=time.time(), secret=self.admin.fingerprint
        )
        await self._save()
        return token

    async def revoke(self, name: str) -> bool:
        if self._tokens.pop(name, None) is None:
            return False
        await self._save()
        return True

    def check(self, token: str) -> str | None:
        if not token.startswith(self.PREFIX):
            return None
        wanted = digest(token)
        current = self.admin.fingerprint
        found = None
        for name, record in self._tokens.items():
            if same(record.hash, wanted):
                found = name if record.secret == current else None
        return found

    async def _save(self) -> None:
        text = json.dumps({n: r.model_dump() for n, r in self._tokens.items()})
        await asyncio.to_thread(write_private, self.path, text)


@dataclass(frozen=True)
class Principal:
    kind: Literal["session", "token"]
    name: str
    session_id: str | None = None
    session: Session | None = None
