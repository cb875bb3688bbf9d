"""The ASGI layer in front of every route: login required, CSRF checked, headers set.

Everything needs a principal except the login page, its stylesheet, the webhook (which
carries its own token) and the bare health check. A browser session may change things
only with its CSRF token in a header (or form field, for the logout form) and a matching
Origin; bearer tokens are not sent by browsers on their own, so they need neither.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from urllib.parse import quote

from pydantic_core import to_json
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from roost_webui.auth import CSRF_HEADER, SESSION_COOKIE, Credential, Principal, same

PUBLIC_PATHS = frozenset(
    {"/login", "/healthz", "/static/login.css", "/static/login.js", "/static/icon.svg"}
)
PUBLIC_PREFIXES = ("/api/event/",)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
        b"script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
        b"base-uri 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]

Authenticate = Callable[[str | None, str | None, str], Awaitable[Principal | None]]
RetryAfter = Callable[[str, Credential], float | None]


def cookies_of(scope: Scope) -> dict[str, str]:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:
                return {}
            return {key: morsel.value for key, morsel in jar.items()}
    return {}


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def client_of(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def origin_allowed(scope: Scope) -> bool:
    """A browser's Origin (when sent) must name this very host."""
    origin = header(scope, b"origin")
    if origin is None:
        return True
    host = header(scope, b"host")
    if host is None:
        return False
    return origin in (f"http://{host}", f"https://{host}")


class Gate:
    def __init__(self, app: ASGIApp, authenticate: Authenticate, retry_after: RetryAfter) -> None:
        self.app = app
        self.authenticate = authenticate
        self.retry_after = retry_after

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        send = _with_headers(send) if scope["type"] == "http" else send
        path: str = scope["path"]
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        client = client_of(scope)
        wait = self.retry_after(client, "bearer")
        authorization = header(scope, b"authorization")
        bearer = None
        if authorization and authorization.lower().startswith("bearer "):
            bearer = authorization[7:].strip()
        if bearer is not None and wait is not None:
            await self._deny(scope, receive, send, 429, "too many failed attempts", wait)
            return
        session_id = cookies_of(scope).get(SESSION_COOKIE)
        principal = await self.authenticate(bearer, session_id, client)
        if principal is None:
            await self._deny(scope, receive, send, 401, "log in first", None)
            return
        if principal.kind == "session":
            if not origin_allowed(scope):
                await self._deny(scope, receive, send, 403, "cross-origin request refused", None)
                return
            method = scope.get("method", "GET")
            if scope["type"] == "http" and method not in SAFE_METHODS:
                token = header(scope, CSRF_HEADER.encode())
                expected = principal.session.csrf if principal.session else ""
                if token is None or not same(token, expected):
                    await self._deny(scope, receive, send, 403, "missing or wrong CSRF token", None)
                    return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)

    async def _deny(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        message: str,
        retry_after: float | None,
    ) -> None:
        if scope["type"] == "websocket":
            # Close before accepting: the browser sees the handshake fail.
            await receive()
            await send({"type": "websocket.close", "code": 4000 + status, "reason": message})
            return
        path: str = scope["path"]
        headers: list[tuple[bytes, bytes]] = []
        if retry_after is not None:
            headers.append((b"retry-after", str(int(retry_after) + 1).encode()))
        wants_page = not path.startswith("/api/") and scope.get("method") in ("GET", "HEAD")
        if status == 401 and wants_page:
            target = path + (
                ("?" + scope["query_string"].decode()) if scope["query_string"] else ""
            )
            location = "/login" if target == "/" else f"/login?next={quote(target, safe='')}"
            headers.append((b"location", location.encode()))
            await _respond(send, 303, b"", headers)
            return
        code = {401: "unauthorized", 403: "forbidden", 429: "rate_limited"}[status]
        body = to_json({"error": {"code": code, "message": message}})
        headers.append((b"content-type", b"application/json"))
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="roost"'))
        await _respond(send, status, body, headers)


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _with_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            present = {name.lower() for name, _ in message.get("headers", [])}
            extra = [(k, v) for k, v in SECURITY_HEADERS if k not in present]
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped


__all__ = ["Gate", "client_of", "cookies_of", "origin_allowed"]
