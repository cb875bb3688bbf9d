"""HTTP for plugins: an allow-list of URL prefixes and one blocking request (run in a
thread), with a timeout and a size limit, following redirects only within the list."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from http.client import HTTPMessage
from typing import Any
from urllib.parse import quote, unquote, urlsplit, urlunsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
# Encoded forms a server may decode into a path separator or a dot segment after the
# allow-list has looked: such a path means different things to us and to the server.
AMBIGUOUS = ("%2f", "%5c", "%2e", "%00", "\\")


class FetchError(Exception):
    """The request was refused or could not be made."""


@dataclass(frozen=True)
class _Prefix:
    scheme: str
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, url: str) -> _Prefix:
        return cls.of_canonical(canonical(url))

    @classmethod
    def of_canonical(cls, url: str) -> _Prefix:
        """From a URL canonical() already returned."""
        parts = urlsplit(url)
        assert parts.hostname is not None  # canonical() checked it
        return cls(
            parts.scheme,
            parts.hostname,
            parts.port or DEFAULT_PORTS[parts.scheme],
            parts.path,
        )

    def covers(self, other: _Prefix) -> bool:
        if (self.scheme, self.host, self.port) != (other.scheme, other.host, other.port):
            return False
        if self.path.endswith("/") or other.path == self.path:
            return other.path.startswith(self.path)
        return other.path.startswith(self.path + "/")


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4: `/a/b/../c/./d` → `/a/c/d`, as the server will read it."""
    out: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        elif segment == ".":
            if last:
                out.append("")
        else:
            out.append(segment)
    joined = "/".join(out)
    return joined if joined.startswith("/") else "/" + joined


def canonical(url: str) -> str:
    """The URL as the server will understand it: percent-encodings decoded once and
    re-encoded, dot segments removed, host lower-case without a trailing dot. Refuses
    what a server could read otherwise (encoded slashes, dots or NULs; backslashes)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{url!r} is not a URL: {exc}") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError(f"{url!r} carries credentials in its host part: put them in headers")
    decoded = unquote(parts.path)
    # Checked before and after one decoding: a double-encoded `..` is refused too, for a
    # server that decodes twice.
    if any(token in text.lower() for text in (parts.path, decoded) for token in AMBIGUOUS):
        raise ValueError(f"{url!r} has an encoded separator or dot in its path")
    path = _remove_dot_segments(decoded or "/")
    host = parts.hostname.lower().rstrip(".")
    netloc = host if port is None else f"{host}:{port}"
    if ":" in host:
        netloc = f"[{host}]" if port is None else f"[{host}]:{port}"
    return urlunsplit(
        (parts.scheme, netloc, quote(path, safe="/:@!$&'()*+,;=~-._"), parts.query, "")
    )


class AllowList:
    def __init__(self, prefixes: Sequence[str]) -> None:
        self._prefixes = [_Prefix.parse(p) for p in prefixes]
        self.text = ", ".join(prefixes) or "(empty)"

    def check(self, url: str) -> str:
        """The canonical form of `url` (what to request) when the list covers it."""
        try:
            request = canonical(url)
        except ValueError as exc:
            raise FetchError(str(exc)) from None
        target = _Prefix.of_canonical(request)
        if not any(prefix.covers(target) for prefix in self._prefixes):
            raise FetchError(
                f"{url} is not in [event_engine] http_allow ({self.text}); add its prefix there"
            )
        return request


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class _Redirects(urllib.request.HTTPRedirectHandler):
    def __init__(self, allow: AllowList | None) -> None:
        self.allow = allow

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if self.allow is not None:
            self.allow.check(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float,
    max_bytes: int,
    allow: AllowList | None,
) -> Reply:
    """One request, blocking: call it through `asyncio.to_thread`. HTTP error statuses
    are replies, not errors; a refused URL, a network failure or an oversized body is
    a FetchError."""
    if allow is not None:
        url = allow.check(url)
    request = urllib.request.Request(url, data=body, method=method.upper())
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    # No proxy from the environment: the allow-list names the hosts actually contacted.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _Redirects(allow))
    try:
        with opener.open(request, timeout=timeout) as response:
            return _reply(response.status, response.headers, response, max_bytes)
    except urllib.error.HTTPError as exc:
        with exc:
            return _reply(exc.code, exc.headers, exc, max_bytes)
    except urllib.error.URLError as exc:
        raise FetchError(f"{method.upper()} {url}: {exc.reason}") from None
    except (TimeoutError, OSError, ValueError) as exc:
        raise FetchError(f"{method.upper()} {url}: {exc}") from None


def _reply(status: int, headers: Message, stream: Any, max_bytes: int) -> Reply:
    body = stream.read(max_bytes + 1)
    if len(body) > max_bytes:
        raise FetchError(f"response is larger than {max_bytes} bytes")
    return Reply(status, {k.lower(): v for k, v in headers.items()}, body)
