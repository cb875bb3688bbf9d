"""The HTTP routes: pages, the JSON API, the webhook and the WebSocket.

Every route reads the mirror or sends one command or request on the broker; none keeps
device state of its own.
"""

from __future__ import annotations

import html
import logging
import os
import re
import string
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from pydantic_core import from_json
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Scope
from starlette.websockets import WebSocket

from roost.errors import BusError, RequestTimeout, TopicError
from roost.mirror import DeviceView
from roost.topics import check_device_id, check_name, check_node_id
from roost_webui import wire
from roost_webui.auth import LOGIN_COOKIE, SESSION_COOKIE, Principal, same
from roost_webui.errors import ApiError, error_response
from roost_webui.gate import Gate, client_of, cookies_of, origin_allowed
from roost_webui.wire import WireResponse

if TYPE_CHECKING:
    from roost_webui.server import WebUI

log = logging.getLogger("roost_webui.app")

STATIC = Path(__file__).parent / "static"
LOGIN_PAGE = string.Template((STATIC / "login.html").read_text())
# history ranges the page offers: seconds back, and the bucket that gives ~250-350 points
RANGES: dict[str, tuple[int, int]] = {"1h": (3600, 15), "24h": (86400, 300), "7d": (604800, 1800)}
TOKEN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")


async def read_json(request: Request, limit: int) -> Any:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, "payload_too_large", f"request body is over {limit} bytes")
    if not body.strip():
        return None
    try:
        return from_json(body, allow_inf_nan=False)
    except ValueError as exc:
        raise ApiError(400, "invalid_json", f"request body is not JSON: {exc}") from None


async def read_form(request: Request, limit: int) -> dict[str, str] | None:
    """A small url-encoded form (the login form), or None if it is not one."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            return None
    try:
        fields = parse_qs(body.decode(), max_num_fields=8, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return None
    return {key: values[0] for key, values in fields.items()}


def principal_of(request: Request) -> Principal:
    principal: Principal = request.scope["state"]["principal"]
    return principal


class Assets(StaticFiles):
    """The front end's files, revalidated on every load (a cheap 304) so an upgraded web
    UI is never mixed with modules a browser cached from the old one."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["cache-control"] = "no-cache"
        return response


def build_app(ui: WebUI) -> Starlette:
    settings = ui.settings.webui

    def device_of(node: str, device: str) -> DeviceView:
        try:
            check_node_id(node)
            check_device_id(device)
            return ui.feed.view.device(f"{node}/{device}")
        except (KeyError, TopicError):
            raise ApiError(404, "unknown_device", f"no device {node}/{device}") from None

    def need_broker() -> None:
        if not ui.feed.connected:
            raise ApiError(503, "broker_unreachable", "the MQTT broker is not reachable")

    async def call(node: str, method: str, params: dict[str, Any]) -> Any:
        need_broker()
        try:
            response = await ui.node.bus.request(
                node, method, params, timeout=settings.request_timeout
            )
        except RequestTimeout as exc:
            raise ApiError(504, "timeout", str(exc)) from None
        except BusError as exc:
            raise ApiError(503, "broker_unreachable", str(exc)) from None
        if not response.ok:
            error = response.error
            code = error.code if error else "failed"
            status = (
                404 if code in ("unknown_method", "unknown_property", "unknown_device") else 422
            )
            raise ApiError(status, code, error.message if error else "request failed")
        return response.data

    # pages ------------------------------------------------------------------------------------
    def login_page(
        request: Request, error: str = "", status: int = 200, nonce: str | None = None
    ) -> HTMLResponse:
        nonce = nonce or ui.new_login_nonce()
        next_url = safe_next(request.query_params.get("next"))
        if ui.admin.configured:
            form_note = "Enter the admin secret that <code>roost init</code> printed."
        else:
            form_note = (
                "No admin secret is set yet: open the link in "
                f"<code>{html.escape(str(ui.login_link.path))}</code> "
                "(it is printed when the web UI starts), or run <code>roost init</code>."
            )
        body = LOGIN_PAGE.substitute(
            error=f'<p class="error" role="alert">{html.escape(error)}</p>' if error else "",
            note=form_note,
            nonce=html.escape(nonce),
            next=html.escape(next_url),
            disabled="" if ui.admin.configured else "disabled",
        )
        response = HTMLResponse(body, status_code=status)
        response.set_cookie(
            LOGIN_COOKIE,
            nonce,
            max_age=3600,
            httponly=True,
            samesite="strict",
            secure=settings.cookies_secure,
            path="/login",
        )
        return response

    def safe_next(value: str | None) -> str:
        """Only a path of this site: never `//host` or `/\\host`, which browsers follow off-site."""
        if not value or not value.startswith("/") or value.startswith("//"):
            return "/"
        if "\\" in value or not value.isprintable():
            return "/"
        parts = urlsplit(value)
        return value if not parts.scheme and not parts.netloc else "/"

    async def logged_in(target: str, via: str) -> Response:
        sid, _ = await ui.sessions.create(via, ui.admin.fingerprint)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            SESSION_COOKIE,
            sid,
            max_age=int(settings.session_hours * 3600),
            httponly=True,
            samesite="lax",
            secure=settings.cookies_secure,
            path="/",
        )
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    async def login_get(request: Request) -> Response:
        client = client_of(request.scope)
        token = request.query_params.get("token")
        if token is not None:
            wait = ui.guard.retry_after(client, "login")
            if wait is not None:
                return login_page(
                    request, f"Too many failed attempts; wait {int(wait) + 1} s.", 429
                )
            if ui.login_link.consume(token):
                log.info("login with the one-time link from %s", client)
                ui.guard.succeeded(client, "login")
                return await logged_in(safe_next(request.query_params.get("next")), "link")
            ui.guard.failed(client, "login")
            log.warning("refused a used or unknown login link from %s", client)
            return login_page(
                request,
                "This login link was already used or is out of date. "
                "The current one is in data/webui/login-url.",
                403,
            )
        if await ui.principal_from_cookie(cookies_of(request.scope)) is not None:
            return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
        return login_page(request)

    async def login_post(request: Request) -> Response:
        client = client_of(request.scope)
        wait = ui.guard.retry_after(client, "login")
        if wait is not None:
            return login_page(request, f"Too many failed attempts; wait {int(wait) + 1} s.", 429)
        if not origin_allowed(request.scope):
            return login_page(request, "Cross-origin login refused.", 403)
        form = await read_form(request, 4096)
        if form is None:
            return login_page(request, "The login form could not be read.", 400)
        secret = form.get("secret", "")
        nonce = form.get("nonce", "")
        next_url = safe_next(form.get("next", "/"))
        cookie_nonce = request.cookies.get(LOGIN_COOKIE, "")
        if not cookie_nonce or not same(nonce, cookie_nonce):
            return login_page(request, "The login form expired; try again.", 403)
        if not ui.admin.configured:
            return login_page(request, "No admin secret is set: use the one-time link.", 403)
        if await ui.admin.check(secret):
            ui.guard.succeeded(client, "login")
            log.info("login with the admin secret from %s", client)
            return await logged_in(next_url, "secret")
        ui.guard.failed(client, "login")
        log.warning("failed login from %s", client)
        return login_page(request, "That is not the admin secret.", 401)

    async def logout(request: Request) -> Response:
        principal = principal_of(request)
        if principal.session_id is not None:
            await ui.sessions.delete(principal.session_id)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})

    async def healthz(request: Request) -> Response:
        return WireResponse({"status": "ok" if ui.feed.connected else "degraded"})

    # API: reading -----------------------------------------------------------------------------
    async def api_session(request: Request) -> Response:
        principal = principal_of(request)
        session = principal.session
        return WireResponse(
            {
                "kind": principal.kind,
                "name": principal.name,
                "csrf": session.csrf if session else None,
                "expires": session.expires if session else None,
                "node": ui.node.id,
                "broker": ui.feed.connected,
            }
        )

    async def api_nodes(request: Request) -> Response:
        view = ui.feed.view
        return WireResponse(
            {"nodes": [wire.node_json(n) for n in sorted(view.nodes.values(), key=lambda n: n.id)]}
        )

    async def api_devices(request: Request) -> Response:
        return WireResponse({"devices": wire.snapshot_json(ui.feed.view)["devices"]})

    async def api_device(request: Request) -> Response:
        device = device_of(request.path_params["node"], request.path_params["device"])
        return WireResponse(wire.device_json(ui.feed.view, device))

    async def api_events(request: Request) -> Response:
        device = device_of(request.path_params["node"], request.path_params["device"])
        return WireResponse({"events": [e.json() for e in ui.events.entries(device.ref)]})

    async def api_event_snapshot(request: Request) -> Response:
        device = device_of(request.path_params["node"], request.path_params["device"])
        entry = ui.events.find(device.ref, request.path_params["event_id"])
        if entry is None or entry.snapshot is None:
            raise ApiError(404, "no_snapshot", "no snapshot kept for that event")
        blob = entry.snapshot
        return Response(
            blob.data,
            media_type=blob.content_type,
            headers={"etag": f'"{blob.etag}"', "cache-control": "private, max-age=86400"},
        )

    async def api_blob(request: Request) -> Response:
        device = device_of(request.path_params["node"], request.path_params["device"])
        prop = request.path_params["prop"]
        blob = ui.blobs.get(device.ref, prop)
        if blob is None:
            raise ApiError(404, "no_image", f"{device.ref} has no picture on {prop} yet")
        etag = f'"{blob.etag}"'
        headers = {"etag": etag, "cache-control": "private, no-cache"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(blob.data, media_type=blob.content_type, headers=headers)

    async def api_history(request: Request) -> Response:
        query = request.query_params
        ref = query.get("device", "")
        prop = query.get("prop", "")
        node, _, device_id = ref.partition("/")
        device = device_of(node, device_id)
        try:
            check_name(prop)
        except TopicError:
            raise ApiError(400, "invalid_params", f"prop {prop!r} is not a property name") from None
        params: dict[str, Any] = {"device": device.ref, "prop": prop}
        range_name = query.get("range")
        if range_name is not None:
            if range_name not in RANGES:
                raise ApiError(400, "invalid_params", f"range must be one of {', '.join(RANGES)}")
            back, step = RANGES[range_name]
            params.update({"from": -back, "step": step})
        else:
            for key in ("from", "to", "step"):
                if key in query:
                    value = query[key]
                    try:
                        params[key] = float(value)
                    except ValueError:
                        params[key] = value
            params.setdefault("from", -3600)
        recorder = wire.find_method_node(ui.feed.view, "history", settings.history_node)
        if recorder is None:
            raise ApiError(503, "no_recorder", "no recorder is online: history is not available")
        data = await call(recorder, "history", params)
        body = {"recorder": recorder, **params}
        if isinstance(data, dict):
            body.update(data)
        return WireResponse(body)

    async def api_app_logs(request: Request) -> Response:
        node = request.path_params["node"]
        app = request.path_params["app"]
        try:
            check_node_id(node)
            check_device_id(app)
        except TopicError as exc:
            raise ApiError(400, "invalid_params", str(exc)) from None
        lines = _int(request.query_params.get("lines"), 100, 1, 5000)
        data = await call(node, "logs", {"app": app, "lines": lines})
        return WireResponse(data if isinstance(data, dict) else {"lines": []})

    async def api_scripts_log(request: Request) -> Response:
        limit = _int(request.query_params.get("limit"), 100, 1, 1000)
        node = request.query_params.get("node") or wire.find_method_node(ui.feed.view, "log")
        if node is None:
            raise ApiError(503, "no_engine", "no event engine is online")
        try:
            check_node_id(node)
        except TopicError as exc:
            raise ApiError(400, "invalid_params", str(exc)) from None
        data = await call(node, "log", {"limit": limit})
        body = {"node": node}
        if isinstance(data, dict):
            body.update(data)
        return WireResponse(body)

    # API: acting ------------------------------------------------------------------------------
    async def api_set(request: Request) -> Response:
        device = device_of(request.path_params["node"], request.path_params["device"])
        values = await read_json(request, settings.max_body)
        if not isinstance(values, dict) or not values:
            raise ApiError(
                400,
                "invalid_command",
                'a command is a JSON object of properties, e.g. {"duty": 40}',
            )
        values.pop("id", None)
        need_broker()
        verdict = await ui.commands.send(device, values)
        status = {"ok": 200, "rejected": 422, "timeout": 504, "unreachable": 503}[verdict.status]
        return WireResponse(verdict.model_dump(mode="json"), status_code=status)

    async def api_call(request: Request) -> Response:
        node = request.path_params["node"]
        method = request.path_params["method"]
        try:
            check_node_id(node)
            check_name(method, "method")
        except TopicError as exc:
            raise ApiError(400, "invalid_params", str(exc)) from None
        body = await read_json(request, settings.max_body)
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_params", "params must be a JSON object")
        data = await call(node, method, body)
        return WireResponse({"data": data})

    async def api_tokens(request: Request) -> Response:
        if request.method == "GET":
            return WireResponse({"tokens": ui.tokens.list()})
        if principal_of(request).kind != "session":
            raise ApiError(403, "forbidden", "API tokens are made from a logged-in page")
        body = await read_json(request, 4096)
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not TOKEN_NAME.match(name):
            raise ApiError(400, "invalid_params", "name: 1-64 letters, digits, space, _ . -")
        try:
            token = await ui.tokens.create(name)
        except KeyError:
            raise ApiError(409, "exists", f"a token named {name!r} exists") from None
        log.info("API token %r made", name)
        return WireResponse({"name": name, "token": token}, status_code=201)

    async def api_token_delete(request: Request) -> Response:
        if principal_of(request).kind != "session":
            raise ApiError(403, "forbidden", "API tokens are revoked from a logged-in page")
        name = request.path_params["name"]
        if not await ui.tokens.revoke(name):
            raise ApiError(404, "unknown_token", f"no token named {name!r}")
        log.info("API token %r revoked", name)
        return Response(status_code=204)

    async def webhook(request: Request) -> Response:
        client = client_of(request.scope)
        wait = ui.guard.retry_after(client, "webhook")
        if wait is not None:
            return error_response(429, "rate_limited", "too many failed attempts")
        hook = ui.webhooks.find(request.path_params["token"])
        if hook is None:
            ui.guard.failed(client, "webhook")
            return error_response(404, "unknown_webhook", "no such webhook")
        if not ui.webhooks.allow(hook):
            return error_response(429, "rate_limited", f"webhook {hook.id}: too many events")
        body = await read_json(request, settings.max_body)
        event_type, data = ui.webhooks.parse(hook, body, request.query_params.get("type"))
        event_id = ui.webhooks.emit(hook, event_type, data)
        return WireResponse({"id": event_id, "event_type": event_type}, status_code=202)

    async def live(websocket: WebSocket) -> None:
        await ui.hub.serve(websocket)

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message)

    routes = [
        Route("/", index),
        Route("/login", login_get, methods=["GET"]),
        Route("/login", login_post, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/healthz", healthz),
        Route("/api/session", api_session),
        Route("/api/nodes", api_nodes),
        Route("/api/devices", api_devices),
        Route("/api/devices/{node}/{device}", api_device),
        Route("/api/devices/{node}/{device}/set", api_set, methods=["POST"]),
        Route("/api/devices/{node}/{device}/events", api_events),
        Route("/api/devices/{node}/{device}/events/{event_id}/snapshot", api_event_snapshot),
        Route("/api/blobs/{node}/{device}/{prop}", api_blob),
        Route("/api/history", api_history),
        Route("/api/apps/{node}/{app}/logs", api_app_logs),
        Route("/api/scripts/log", api_scripts_log),
        Route("/api/nodes/{node}/methods/{method}", api_call, methods=["POST"]),
        Route("/api/tokens", api_tokens, methods=["GET", "POST"]),
        Route("/api/tokens/{name}", api_token_delete, methods=["DELETE"]),
        Route("/api/event/{token}", webhook, methods=["POST"]),
        WebSocketRoute("/ws", live),
        Mount("/static", Assets(directory=STATIC), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[
            Middleware(Gate, authenticate=ui.authenticate, retry_after=ui.guard.retry_after),
            Middleware(GZipMiddleware, minimum_size=1024),
        ],
        exception_handlers={ApiError: on_api_error},
    )


def _int(raw: str | None, default: int, low: int, high: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "invalid_params", f"{raw!r} is not a whole number") from None
    return max(low, min(high, value))
