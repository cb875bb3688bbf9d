"""The web UI as one object: its node, the mirror and its followers, the login machinery
and the HTTP server, wired together and run on the service's event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
from collections.abc import Iterator

import uvicorn

from roost.client import CommandTracker
from roost.errors import ConfigError
from roost.mirror import Change, ChangeKind
from roost.node import Node
from roost_webui.app import build_app
from roost_webui.auth import (
    SESSION_COOKIE,
    AdminSecret,
    ApiTokens,
    LoginGuard,
    LoginLink,
    Principal,
    SessionStore,
)
from roost_webui.blobs import Blob, BlobCache
from roost_webui.feed import StateFeed
from roost_webui.live import LiveHub
from roost_webui.recent import RecentEvents
from roost_webui.settings import Settings
from roost_webui.webhooks import Webhooks

log = logging.getLogger("roost_webui")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the service's runner owns SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def display_host(host: str) -> str:
    if host in ("", "0.0.0.0", "::"):
        return socket.gethostname()
    return f"[{host}]" if ":" in host else host


class WebUI:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        config = settings.webui
        self.node = Node(settings, service="webui")
        bus = self.node.bus
        self.feed = StateFeed(bus)
        self.blobs = BlobCache(bus, lambda: self.feed.view)
        self.events = RecentEvents(config.events_kept)
        self.hub = LiveHub(lambda: self.feed.view, config.client_queue, self.blobs.versions)
        self.commands = CommandTracker(bus, lambda: self.feed.view, config.command_timeout)
        data = settings.data_path("webui")
        self.sessions = SessionStore(data / "sessions.json", config.session_hours * 3600)
        self.admin = AdminSecret(settings.node.data_dir)
        self.tokens = ApiTokens(data / "tokens.json", self.admin)
        self.guard = LoginGuard(config.login_attempts, config.login_window)
        self.login_link = LoginLink(data / "login-url", "")
        self.webhooks = Webhooks(self.node, config.webhooks)
        self.url = ""
        self.ready = asyncio.Event()
        self.feed.on_change(self.commands.on_change)
        self.feed.on_change(self._on_change)
        self.feed.on_reset(self.blobs.reset)
        self.feed.on_reset(self.hub.on_reset)
        self.feed.on_connection(self.hub.on_connection)
        self.blobs.on_blob(self._on_blob)
        self.app = build_app(self)

    # following the mirror ------------------------------------------------------------------
    def _on_change(self, change: Change) -> None:
        self.blobs.on_change(change)
        if change.kind in (ChangeKind.EVENT, ChangeKind.REMOVED):
            entry = self.events.on_change(change, asyncio.get_running_loop().time())
            if entry is not None:
                self.hub.on_event(change.ref, entry)
        self.hub.on_change(change)

    def _on_blob(self, ref: str, prop: str, blob: Blob) -> None:
        entry = self.events.on_blob(ref, blob)
        self.hub.on_blob(ref, prop, blob)
        if entry is not None:
            self.hub.on_event(ref, entry)

    # who is asking ---------------------------------------------------------------------------
    async def authenticate(
        self, bearer: str | None, session_id: str | None, client: str
    ) -> Principal | None:
        if bearer is not None:
            name = self.tokens.check(bearer)
            if name is not None:
                return Principal("token", name)
            if await self.admin.check(bearer):
                return Principal("token", "admin")
            self.guard.failed(client, "bearer")
            log.warning("refused a bearer token from %s", client)
            return None
        session = self.sessions.get(session_id)
        if session is None or session_id is None:
            return None
        if session.secret != self.admin.fingerprint:
            return None  # the admin secret changed since this login
        return Principal("session", session.via, session_id, session)

    async def principal_from_cookie(self, cookies: dict[str, str]) -> Principal | None:
        return await self.authenticate(None, cookies.get(SESSION_COOKIE), "")

    def new_login_nonce(self) -> str:
        return secrets.token_urlsafe(24)

    # running ---------------------------------------------------------------------------------
    async def prepare(self) -> None:
        """Before the node connects: read the stored logins, register the mirror."""
        await asyncio.to_thread(self.sessions.load)
        await asyncio.to_thread(self.tokens.load)
        await self.feed.attach()

    async def run(self) -> None:
        """Serve HTTP until cancelled."""
        config = self.settings.webui
        try:
            sock = socket.create_server((config.host, config.port), reuse_port=False)
        except OSError as exc:
            raise ConfigError(
                f"[webui] cannot listen on {config.host}:{config.port}: {exc.strerror or exc}"
            ) from None
        port = sock.getsockname()[1]
        self.url = config.public_url or f"http://{display_host(config.host)}:{port}"
        self.login_link.base_url = self.url
        try:
            login_url = await asyncio.to_thread(self.login_link.rotate)
        except OSError as exc:
            sock.close()
            raise ConfigError(
                f"cannot write {self.login_link.path} ([node] data_dir): {exc.strerror or exc}"
            ) from None
        server = _Server(
            uvicorn.Config(
                self.app,
                log_config=None,
                lifespan="off",
                ws="websockets-sansio",
                access_log=False,
                timeout_graceful_shutdown=2,
                # X-Forwarded-For is believed only from the proxies named in the config:
                # from anyone else it would let a client pick its own address.
                proxy_headers=bool(config.trusted_proxies),
                forwarded_allow_ips=[str(ip) for ip in config.trusted_proxies] or None,
                ws_ping_interval=20,
                ws_ping_timeout=20,
            )
        )
        feed = asyncio.create_task(self.feed.run(), name="webui feed")
        serving = asyncio.create_task(server.serve(sockets=[sock]), name="webui http")
        log.info("web UI at %s", self.url)
        log.info("one-time login link (also in %s): %s", self.login_link.path, login_url)
        self.ready.set()
        try:
            await asyncio.shield(serving)
        finally:
            server.should_exit = True
            self.hub.close_all()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(serving, 5)
            feed.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feed
            await self.blobs.close()
            sock.close()
