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
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


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
        parts = urlsplit(url)
        if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
            raise ValueError(f"{url!r} is not an http(s) URL")
        return cls(
            parts.scheme,
            parts.hostname.lower(),
            parts.port or DEFAULT_PORTS[parts.scheme],
            parts.path or "/",
        )

    def covers(self, other: _Prefix) -> bool:
        if (self.scheme, self.host, self.port) != (other.scheme, other.host, other.port):
            return False
        if self.path.endswith("/") or other.path == self.path:
            return other.path.startswith(self.path)
        return other.path.startswith(self.path + "/")


class AllowList:
    def __init__(self, prefixes: Sequence[str]) -> None:
        self._prefixes = [_Prefix.parse(p) for p in prefixes]
        self.text = ", ".join(prefixes) or "(empty)"

    def check(self, url: str) -> None:
        try:
            target = _Prefix.parse(url)
        except ValueError as exc:
            raise FetchError(str(exc)) from None
        if not any(prefix.covers(target) for prefix in self._prefixes):
            raise FetchError(
                f"{url} is not in [event_engine] http_allow ({self.text}); add its prefix there"
            )


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
        allow.check(url)
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
