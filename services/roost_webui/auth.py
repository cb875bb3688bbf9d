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
- Failed logins and bad tokens are counted per client address and in total; past the
  limit a client waits, whatever it sends.
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
    """At most `attempts` failures per client in `window` seconds, and ten times that in
    total (many addresses guessing together)."""

    def __init__(self, attempts: int, window: float) -> None:
        self.attempts = attempts
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._all: deque[float] = deque()

    def _trim(self, stamps: deque[float], now: float) -> None:
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()

    def retry_after(self, client: str) -> float | None:
        """Seconds this client must wait before its next attempt, or None."""
        now = time.monotonic()
        self._trim(self._all, now)
        if len(self._all) >= self.attempts * 10:
            return max(1.0, self._all[0] + self.window - now)
        stamps = self._failures.get(client)
        if not stamps:
            return None
        self._trim(stamps, now)
        if len(stamps) >= self.attempts:
            return max(1.0, stamps[0] + self.window - now)
        return None

    def failed(self, client: str) -> None:
        now = time.monotonic()
        self._failures.setdefault(client, deque()).append(now)
        self._all.append(now)
        if len(self._failures) > 10_000:  # bounded memory under a spray of addresses
            quietest = min(self._failures, key=lambda c: self._failures[c][-1])
            self._failures.pop(quietest, None)

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)


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


class ApiTokens:
    PREFIX = "rst_"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tokens: dict[str, TokenRecord] = {}

    def load(self) -> None:
        if not self.path.is_file():
            return
        try:
            raw = json.loads(self.path.read_text())
            self._tokens = {name: TokenRecord.model_validate(r) for name, r in raw.items()}
        except (OSError, ValueError, ValidationError, AttributeError) as exc:
            log.error("ignoring unreadable API tokens file %s: %s", self.path, exc)

    def list(self) -> list[dict[str, object]]:
        return [{"name": n, "created": r.created} for n, r in sorted(self._tokens.items())]

    async def create(self, name: str) -> str:
        if name in self._tokens:
            raise KeyError(name)
        token = self.PREFIX + secrets.token_urlsafe(32)
        self._tokens[name] = TokenRecord(hash=digest(token), created=time.time())
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
        for name, record in self._tokens.items():
            if same(record.hash, wanted):
                return name
        return None

    async def _save(self) -> None:
        text = json.dumps({n: r.model_dump() for n, r in self._tokens.items()})
        await asyncio.to_thread(write_private, self.path, text)


@dataclass(frozen=True)
class Principal:
    kind: Literal["session", "token"]
    name: str
    session_id: str | None = None
    session: Session | None = None
