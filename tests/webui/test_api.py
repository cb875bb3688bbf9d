"""The HTTP side against the running service and stand-ins on the real broker: login,
sessions, CSRF, tokens, the rate limit, commands with the owner's verdict, requests
passed to the recorder / supervisor / event engine, the webhook and bad input."""

from __future__ import annotations

import asyncio
import json
import re
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
import websockets

from roost.bus import Bus
from roost.secrets import store_admin_secret
from roost.settings import RoostSettings
from roost.testing import Watcher
from roost.testing.broker import MosquittoBroker
from roost.testing.plugin import settings_for

from .conftest import ADMIN_SECRET, Demo, demo_system, running, webui_settings

pytestmark = pytest.mark.asyncio(loop_scope="module")

PAGES_AND_API = [
    ("GET", "/"),
    ("GET", "/static/js/main.js"),
    ("GET", "/static/app.css"),
    ("GET", "/api/session"),
    ("GET", "/api/nodes"),
    ("GET", "/api/devices"),
    ("GET", "/api/devices/i2c-bridge/bme280-76"),
    ("POST", "/api/devices/i2c-bridge/pca9685-40/set"),
    ("GET", "/api/devices/detector/demo/events"),
    ("GET", "/api/blobs/camera/demo/snapshot"),
    ("GET", "/api/history?device=i2c-bridge/bme280-76&prop=temperature&range=1h"),
    ("GET", "/api/apps/supervisor/recorder/logs"),
    ("GET", "/api/scripts/log"),
    ("POST", "/api/nodes/recorder/methods/history"),
    ("GET", "/api/tokens"),
    ("POST", "/api/tokens"),
    ("DELETE", "/api/tokens/x"),
    ("POST", "/logout"),
]


def nonce_of(page: httpx.Response) -> str:
    """The login form's nonce (each rendering of the page makes a new one)."""
    found = re.search(r'name="nonce" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


async def logged_in(base_url: str, secret: str = ADMIN_SECRET) -> httpx.AsyncClient:
    """A client holding a session cookie and sending the session's CSRF token."""
    client = httpx.AsyncClient(base_url=base_url, headers={"origin": base_url})
    page = await client.get("/login")
    nonce = re.search(r'name="nonce" value="([^"]+)"', page.text)
    assert nonce is not None
    answer = await client.post(
        "/login", data={"secret": secret, "nonce": nonce.group(1), "next": "/"}
    )
    assert answer.status_code == 303, answer.text
    session = (await client.get("/api/session")).json()
    client.headers["x-csrf-token"] = session["csrf"]
    return client


@pytest_asyncio.fixture(loop_scope="module")
async def client(demo: Demo) -> AsyncIterator[httpx.AsyncClient]:
    session = await logged_in(demo.url)
    try:
        yield session
    finally:
        await session.aclose()


# login required ----------------------------------------------------------------
async def test_every_page_and_api_call_needs_a_login(demo: Demo) -> None:
    async with httpx.AsyncClient(base_url=demo.url) as anonymous:
        for method, path in PAGES_AND_API:
            answer = await anonymous.request(method, path)
            if path.startswith("/api/") or method != "GET":
                assert answer.status_code == 401, (method, path, answer.status_code)
                assert answer.json()["error"]["code"] == "unauthorized"
            else:
                assert answer.status_code == 303, (method, path)
                assert answer.headers["location"].startswith("/login")
        # the login page and the health check are all a stranger gets
        assert (await anonymous.get("/login")).status_code == 200
        assert (await anonymous.get("/healthz")).json() == {"status": "ok"}
    ws_url = demo.url.replace("http://", "ws://") + "/ws"
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with websockets.connect(ws_url):
            pass


async def test_login_with_the_admin_secret_sets_a_safe_cookie(demo: Demo) -> None:
    async with httpx.AsyncClient(base_url=demo.url) as client:
        page = await client.get("/login")
        nonce = re.search(r'name="nonce" value="([^"]+)"', page.text)
        assert nonce is not None
        answer = await client.post(
            "/login", data={"secret": ADMIN_SECRET, "nonce": nonce.group(1), "next": "/#/apps"}
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == "/#/apps"
        cookie = next(
            v for k, v in answer.headers.multi_items() if k == "set-cookie" and "session" in v
        )
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert answer.headers["content-security-policy"].startswith("default-src 'self'")
        assert (await client.get("/api/devices")).status_code == 200
        # the page to go back to is only ever one of this site
        for target in ("//evil.example/", "/\\evil.example", "https://evil.example/"):
            async with httpx.AsyncClient(base_url=demo.url) as fresh:
                page = await fresh.get("/login")
                form = {"secret": ADMIN_SECRET, "nonce": nonce_of(page), "next": target}
                away = await fresh.post("/login", data=form)
                assert away.headers["location"] == "/", target
        # no session file holds the cookie's value
        stored = (demo.settings.data_path("webui", "sessions.json")).read_text()
        session_id = client.cookies["roost_session"]
        assert session_id not in stored
        assert (
            stat.S_IMODE(demo.settings.data_path("webui", "sessions.json").stat().st_mode) == 0o600
        )


async def test_login_refuses_wrong_secret_forged_form_and_guessing(
    roost_settings: RoostSettings,
) -> None:
    async with (
        demo_system(roost_settings, login_attempts=3) as demo,
        httpx.AsyncClient(base_url=demo.url) as client,
    ):
        # a form not made by our login page (no matching nonce cookie) is refused
        async with httpx.AsyncClient(base_url=demo.url) as stranger:
            forged = await stranger.post(
                "/login", data={"secret": ADMIN_SECRET, "nonce": "made-up"}
            )
            assert forged.status_code == 403
        page = await client.get("/login")
        for _ in range(3):
            page = await client.post("/login", data={"secret": "guess", "nonce": nonce_of(page)})
            assert page.status_code == 401
            assert "not the admin secret" in page.text
        # past the limit even the right secret waits
        blocked = await client.post(
            "/login", data={"secret": ADMIN_SECRET, "nonce": nonce_of(page)}
        )
        assert blocked.status_code == 429
        assert "wait" in blocked.text
        # bad bearer tokens are counted on their own: three, and the bearer waits too
        for _ in range(3):
            api = await client.get("/api/devices", headers={"authorization": "Bearer nope"})
            assert api.status_code == 401
        admin = {"authorization": f"Bearer {ADMIN_SECRET}"}
        assert (await client.get("/api/devices", headers=admin)).status_code == 429


async def test_wrong_webhook_tokens_lock_out_nobody_else(roost_settings: RoostSettings) -> None:
    """A spray of wrong webhook tokens slows the sprayer's webhook guesses only: the admin
    secret, as a login and as a bearer, still works (it used to lock everyone out)."""
    async with (
        demo_system(roost_settings, login_attempts=3) as demo,
        httpx.AsyncClient(base_url=demo.url) as sprayer,
    ):
        answers = [
            (await sprayer.post(f"/api/event/guess{n}", json={})).status_code for n in range(60)
        ]
        assert answers[:3] == [404, 404, 404]
        assert set(answers[3:]) == {429}
        admin = {"authorization": f"Bearer {ADMIN_SECRET}"}
        assert (await sprayer.get("/api/nodes", headers=admin)).status_code == 200
        session = await logged_in(demo.url)
        try:
            assert (await session.get("/api/nodes")).status_code == 200
        finally:
            await session.aclose()


async def test_forwarded_for_is_believed_only_from_trusted_proxies(
    roost_settings: RoostSettings,
) -> None:
    """From a peer not named in trusted_proxies, X-Forwarded-For cannot make each guess
    look like a new client."""
    async with (
        demo_system(roost_settings, login_attempts=3) as demo,
        httpx.AsyncClient(base_url=demo.url) as client,
    ):
        for n in range(3):
            forged = {"authorization": "Bearer nope", "x-forwarded-for": f"203.0.113.{n}"}
            assert (await client.get("/api/devices", headers=forged)).status_code == 401
        fresh = {"authorization": "Bearer nope", "x-forwarded-for": "198.51.100.7"}
        assert (await client.get("/api/devices", headers=fresh)).status_code == 429


async def test_behind_a_trusted_proxy_clients_are_told_apart(
    roost_settings: RoostSettings,
) -> None:
    async with (
        demo_system(roost_settings, login_attempts=3, trusted_proxies=["127.0.0.1"]) as demo,
        httpx.AsyncClient(base_url=demo.url) as proxy,
    ):
        guesser = {"authorization": "Bearer nope", "x-forwarded-for": "203.0.113.1"}
        for _ in range(3):
            assert (await proxy.get("/api/devices", headers=guesser)).status_code == 401
        assert (await proxy.get("/api/devices", headers=guesser)).status_code == 429
        other = {"authorization": f"Bearer {ADMIN_SECRET}", "x-forwarded-for": "203.0.113.2"}
        assert (await proxy.get("/api/nodes", headers=other)).status_code == 200


async def test_logout_ends_the_session(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/nodes")).status_code == 200
    cookie = client.cookies["roost_session"]
    answer = await client.post("/logout")
    assert answer.status_code == 303
    async with httpx.AsyncClient(
        base_url=str(client.base_url), cookies={"roost_session": cookie}
    ) as replay:
        assert (await replay.get("/api/nodes")).status_code == 401


async def test_state_changes_need_the_csrf_token_and_our_origin(
    demo: Demo, client: httpx.AsyncClient
) -> None:
    path = "/api/devices/i2c-bridge/pca9685-40/set"
    no_token = await client.post(path, json={"ch1_duty": 5}, headers={"x-csrf-token": ""})
    assert no_token.status_code == 403
    assert "CSRF" in no_token.json()["error"]["message"]
    elsewhere = await client.post(
        path, json={"ch1_duty": 5}, headers={"origin": "http://evil.example"}
    )
    assert elsewhere.status_code == 403
    ok = await client.post(path, json={"ch1_duty": 5})
    assert ok.status_code == 200


async def test_one_time_link_logs_in_once_and_rotates(roost_settings: RoostSettings) -> None:
    async with demo_system(roost_settings, admin=False) as demo:
        path = demo.settings.data_path("webui", "login-url")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        link = path.read_text().strip()
        assert link.startswith(demo.url + "/login?token=")
        async with httpx.AsyncClient() as client:
            # with no admin secret the form says where the way in is
            page = await client.get(demo.url + "/login")
            assert "login-url" in page.text and "disabled" in page.text
            used = await client.get(link)
            assert used.status_code == 303 and used.headers["location"] == "/"
            assert (await client.get(demo.url + "/api/nodes")).status_code == 200
        async with httpx.AsyncClient() as other:
            again = await other.get(link)
            assert again.status_code == 403
            assert "already used" in again.text
            fresh = path.read_text().strip()
            assert fresh != link
            assert (await other.get(fresh)).status_code == 303


async def test_a_new_admin_secret_ends_every_session(demo: Demo) -> None:
    client = await logged_in(demo.url)
    assert (await client.get("/api/nodes")).status_code == 200
    store_admin_secret(demo.settings.node.data_dir, "a-brand-new-secret")  # roost init again
    assert (await client.get("/api/nodes")).status_code == 401
    await client.aclose()
    client = await logged_in(demo.url, "a-brand-new-secret")
    assert (await client.get("/api/nodes")).status_code == 200
    await client.aclose()


async def test_sessions_survive_a_restart_of_the_web_ui(roost_settings: RoostSettings) -> None:
    async with demo_system(roost_settings) as demo:
        client = await logged_in(demo.url)
        cookie = client.cookies["roost_session"]
        await client.aclose()
    async with (
        running(webui_settings(roost_settings)) as again,
        httpx.AsyncClient(base_url=again.url, cookies={"roost_session": cookie}) as client,
    ):
        assert (await client.get("/api/session")).status_code == 200


# tokens ----------------------------------------------------------------
async def test_api_tokens_and_the_admin_secret_as_bearer(
    demo: Demo, client: httpx.AsyncClient
) -> None:
    made = await client.post("/api/tokens", json={"name": "grafana"})
    assert made.status_code == 201
    token = made.json()["token"]
    assert (await client.post("/api/tokens", json={"name": "grafana"})).status_code == 409
    assert (await client.post("/api/tokens", json={"name": "../x"})).status_code == 400
    stored = demo.settings.data_path("webui", "tokens.json").read_text()
    assert token not in stored
    async with httpx.AsyncClient(base_url=demo.url) as script:
        bearer = {"authorization": f"Bearer {token}"}
        devices = await script.get("/api/devices", headers=bearer)
        assert devices.status_code == 200
        # a bearer needs no CSRF token: browsers never send it by themselves
        answer = await script.post(
            "/api/devices/i2c-bridge/pca9685-40/set", json={"ch2_duty": 12.5}, headers=bearer
        )
        assert answer.status_code == 200
        # the 12-bit chip's nearest duty: the verdict is still "ok"
        assert answer.json()["state"]["ch2_duty"] == pytest.approx(12.5, abs=0.05)
        # tokens cannot make tokens
        assert (
            await script.post("/api/tokens", json={"name": "more"}, headers=bearer)
        ).status_code == 403
        admin = {"authorization": f"Bearer {ADMIN_SECRET}"}
        assert (await script.get("/api/nodes", headers=admin)).status_code == 200
        refused = await script.delete("/api/tokens/grafana", headers=bearer)
        assert refused.status_code == 403
        assert (await client.delete("/api/tokens/grafana")).status_code == 204
        assert (await script.get("/api/devices", headers=bearer)).status_code == 401


async def test_rotating_the_admin_secret_revokes_api_tokens(
    roost_settings: RoostSettings,
) -> None:
    """A token made under the old admin secret stops working when the secret is replaced
    (as `roost init --rotate admin` does), like every session."""
    async with demo_system(roost_settings) as demo:
        session = await logged_in(demo.url)
        try:
            made = await session.post("/api/tokens", json={"name": "grafana"})
            assert made.status_code == 201
            bearer = {"authorization": f"Bearer {made.json()['token']}"}
            async with httpx.AsyncClient(base_url=demo.url) as script:
                assert (await script.get("/api/devices", headers=bearer)).status_code == 200
                store_admin_secret(demo.settings.node.data_dir, "a-brand-new-admin-secret")
                assert (await script.get("/api/devices", headers=bearer)).status_code == 401
            assert (await session.get("/api/nodes")).status_code == 401
        finally:
            await session.aclose()
        fresh = await logged_in(demo.url, "a-brand-new-admin-secret")
        try:
            listed = (await fresh.get("/api/tokens")).json()["tokens"]
            assert [(t["name"], t["revoked"]) for t in listed] == [("grafana", True)]
        finally:
            await fresh.aclose()


# commands ----------------------------------------------------------------
async def test_set_returns_the_owners_state(
    demo: Demo, client: httpx.AsyncClient, bus: Bus
) -> None:
    topics = bus.topics
    async with Watcher(bus, topics.set("i2c-bridge", "pca9685-40")) as sets:
        answer = await client.post(
            "/api/devices/i2c-bridge/pca9685-40/set", json={"ch0_duty": 40.04, "ch0_on": "on"}
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["status"] == "ok"
        # what the owner reports: clamped and rounded to its step
        assert body["state"]["ch0_duty"] == 40.0 and body["state"]["ch0_on"] is True
        sent = await sets.wait_json(topics.set("i2c-bridge", "pca9685-40"))
        assert sent["id"] == body["id"]
        assert not sets.messages[0].retain
    assert demo.greenhouse.pwm.values["ch0_duty"] == 40.0


async def test_set_answers_with_what_the_owner_applied(
    demo: Demo, client: httpx.AsyncClient
) -> None:
    """1000 Hz asked, the prescaler's nearest is 1017 Hz: success, with the applied value."""
    answer = await client.post("/api/devices/i2c-bridge/pca9685-40/set", json={"frequency": 1000})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "ok"
    assert body["applied"] == {"frequency": 1017}
    assert body["adjusted"] == {"frequency": 1017}
    assert body["state"]["frequency"] == 1017
    assert demo.greenhouse.pwm.values["frequency"] == 1017


async def test_a_command_to_a_missing_device_makes_no_device(
    demo: Demo, client: httpx.AsyncClient, bus: Bus
) -> None:
    """`mosquitto_pub -t roost/supervisor/ticker/set -m '{}'`: no device appears, online or
    offline, because only a retained meta makes a device."""
    t = bus.topics
    await bus.publish(t.set("supervisor", "ticker"), {})
    await bus.publish(t.set("i2c-bridge", "ticker", "duty"), "5")
    # a barrier: the owners answer in order, so once this command is answered the
    # phantom ones have been handled too
    done = await client.post("/api/devices/i2c-bridge/pca9685-40/set", json={"ch1_on": True})
    assert done.status_code == 200, done.text
    done = await client.post("/api/devices/supervisor/i2c-bridge/set", json={"restart": True})
    assert done.status_code == 200, done.text
    refs = {d["ref"] for d in (await client.get("/api/devices")).json()["devices"]}
    assert "supervisor/ticker" not in refs and "i2c-bridge/ticker" not in refs
    nodes = {n["id"]: n for n in (await client.get("/api/nodes")).json()["nodes"]}
    assert "ticker" not in nodes["supervisor"]["devices"]
    assert (await client.get("/api/devices/supervisor/ticker")).status_code == 404


async def test_rejected_commands_come_back_with_the_owners_error(
    roost_settings: RoostSettings,
) -> None:
    async with demo_system(roost_settings, command_timeout=0.5) as demo:
        client = await logged_in(demo.url)
        try:
            await _rejections(client)
        finally:
            await client.aclose()


async def _rejections(client: httpx.AsyncClient) -> None:
    clamped = await client.post("/api/devices/i2c-bridge/pca9685-40/set", json={"frequency": 5000})
    assert clamped.status_code == 200 and clamped.json()["state"]["frequency"] == 1526
    out_of_range = await client.post("/api/devices/i2c-bridge/ezo-pmp-67/set", json={"dose_ml": 80})
    assert out_of_range.status_code == 422
    error = out_of_range.json()["error"]
    assert error["code"] == "out_of_range" and error["prop"] == "dose_ml"
    assert "0..50" in error["message"]
    failed = await client.post("/api/devices/i2c-bridge/ezo-pmp-67/set", json={"label": "fail"})
    assert failed.status_code == 422
    assert failed.json()["error"]["message"] == "pump did not answer (stand-in)"
    unknown_prop = await client.post(
        "/api/devices/i2c-bridge/ezo-pmp-67/set", json={"colour": "red"}
    )
    assert unknown_prop.json()["error"]["code"] == "unknown_property"
    pressed = await client.post("/api/devices/i2c-bridge/ezo-pmp-67/set", json={"prime": True})
    assert pressed.json()["status"] == "ok"
    # last: the pump's actor stays busy with this one after we stop waiting
    slow = await client.post("/api/devices/i2c-bridge/ezo-pmp-67/set", json={"label": "slow"})
    assert slow.status_code == 504
    assert slow.json()["error"]["message"] == (
        "i2c-bridge/ezo-pmp-67 did not take the change within 0.5 s: it reports label='nutrients'"
    )


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b"[1, 2]", 400, "invalid_command"),
        (b"{}", 400, "invalid_command"),
        (b'{"ch0_duty": NaN}', 400, "invalid_json"),
        (json.dumps({"label": "x" * 70_000}).encode(), 413, "payload_too_large"),
    ],
)
async def test_bad_command_bodies_are_refused_clearly(
    client: httpx.AsyncClient, body: bytes, status: int, code: str
) -> None:
    answer = await client.post(
        "/api/devices/i2c-bridge/ezo-pmp-67/set",
        content=body,
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code


async def test_unknown_devices_are_404(client: httpx.AsyncClient) -> None:
    for path in (
        "/api/devices/i2c-bridge/nope",
        "/api/devices/NOT_A_SLUG/x",
        "/api/blobs/camera/nope/snapshot",
    ):
        answer = await client.get(path)
        assert answer.status_code == 404, path
    answer = await client.post("/api/devices/nobody/nothing/set", json={"x": 1})
    assert answer.status_code == 404


# requests ----------------------------------------------------------------
async def test_history_asks_the_recorder_for_the_range(
    demo: Demo, client: httpx.AsyncClient
) -> None:
    answer = await client.get(
        "/api/history",
        params={"device": "i2c-bridge/bme280-76", "prop": "temperature", "range": "24h"},
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["recorder"] == "recorder"
    asked = demo.recorder.requests[-1]
    assert asked["from_"] == -86400 and asked["step"] == 300
    assert asked["device"] == "i2c-bridge/bme280-76"
    assert 280 <= len(body["points"]) <= 290
    assert len(body["points"][0]) == 6
    unknown = await client.get(
        "/api/history", params={"device": "i2c-bridge/bme280-76", "prop": "nothing", "range": "1h"}
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "unknown_property"
    bad_range = await client.get(
        "/api/history", params={"device": "i2c-bridge/bme280-76", "prop": "humidity", "range": "1y"}
    )
    assert bad_range.status_code == 400


async def test_history_without_a_recorder_says_so(roost_settings: RoostSettings) -> None:
    async with demo_system(roost_settings) as demo:
        await demo.recorder.node.stop()
        client = await logged_in(demo.url)
        answer = await client.get(
            "/api/history", params={"device": "i2c-bridge/bme280-76", "prop": "temperature"}
        )
        await client.aclose()
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "no_recorder"


async def test_app_logs_script_log_and_method_calls(client: httpx.AsyncClient) -> None:
    logs = await client.get("/api/apps/supervisor/recorder/logs", params={"lines": 5})
    assert logs.json()["lines"][-1] == "recorder: log line 4"
    assert (await client.get("/api/apps/supervisor/nope/logs")).status_code == 422
    script_log = await client.get("/api/scripts/log")
    body = script_log.json()
    assert body["node"] == "event-engine"
    assert body["entries"][1]["error"].startswith("ReferenceError")
    called = await client.post(
        "/api/nodes/supervisor/methods/logs", json={"app": "i2c-bridge", "lines": 1}
    )
    assert called.json() == {"data": {"lines": ["i2c-bridge: log line 0"]}}
    missing = await client.post("/api/nodes/supervisor/methods/nothing", json={})
    assert missing.status_code == 404


async def test_snapshots_are_served_with_an_etag(client: httpx.AsyncClient) -> None:
    first = await client.get("/api/blobs/camera/demo/snapshot")
    assert first.status_code == 200
    assert first.headers["content-type"] == "image/jpeg"
    assert first.content.startswith(b"\xff\xd8\xff")
    again = await client.get(
        "/api/blobs/camera/demo/snapshot", headers={"if-none-match": first.headers["etag"]}
    )
    assert again.status_code == 304


# webhook ----------------------------------------------------------------
HOOK_TOKEN = "doorbell-token-0123456789"


async def test_webhook_publishes_an_event_for_http_clients(
    roost_settings: RoostSettings, bus: Bus
) -> None:
    hooks = {"doorbell": {"token": HOOK_TOKEN, "name": "Front door", "events": ["ring", "knock"]}}
    topic = bus.topics.event("webui", "doorbell")
    async with (
        demo_system(roost_settings, webhooks=hooks) as demo,
        Watcher(bus, topic) as events,
        httpx.AsyncClient(base_url=demo.url) as http,
    ):
        answer = await http.post(
            f"/api/event/{HOOK_TOKEN}", json={"event_type": "ring", "data": {"who": "postman"}}
        )
        assert answer.status_code == 202
        event = await events.wait_json(topic)
        assert event["event_type"] == "ring" and event["data"] == {"who": "postman"}
        assert event["id"] == answer.json()["id"]
        plain = await http.post(f"/api/event/{HOOK_TOKEN}?type=knock", json={"force": 3})
        assert plain.status_code == 202
        event = await events.wait_json(topic, lambda e: e["event_type"] == "knock")
        assert event["data"] == {"force": 3}
        assert (await http.post("/api/event/wrong-token-123456789", json={})).status_code == 404
        wrong_type = await http.post(f"/api/event/{HOOK_TOKEN}", json={"event_type": "sing"})
        assert wrong_type.status_code == 422
        not_json = await http.post(f"/api/event/{HOOK_TOKEN}", content=b"{")
        assert not_json.status_code == 400
        # the hook is a device of the web UI's node, so it shows like any other
        meta = demo.ui.feed.view.device("webui/doorbell").meta
        assert meta is not None and meta.name == "Front door"


# broker outage ----------------------------------------------------------------
async def test_commands_during_a_broker_outage_answer_503(
    own_mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    base = settings_for(own_mosquitto, tmp_path)
    async with demo_system(base) as demo:
        client = await logged_in(demo.url)
        own_mosquitto.stop()
        await _wait_disconnected(demo)
        answer = await client.post("/api/devices/i2c-bridge/pca9685-40/set", json={"ch0_duty": 10})
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == "broker_unreachable"
        assert (await client.get("/healthz")).json() == {"status": "degraded"}
        # what was known stays readable
        assert (await client.get("/api/devices/i2c-bridge/bme280-76")).status_code == 200
        await client.aclose()


async def _wait_disconnected(demo: Demo) -> None:
    gone = asyncio.Event()
    demo.ui.feed.on_connection(lambda up: None if up else gone.set())
    if demo.ui.feed.connected:
        await asyncio.wait_for(gone.wait(), 10)


async def test_devices_gone_during_an_outage_leave_no_ghosts(
    own_mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    base = settings_for(own_mosquitto, tmp_path)
    async with demo_system(base) as demo:
        client = await logged_in(demo.url)
        refs = {d["ref"] for d in (await client.get("/api/devices")).json()["devices"]}
        assert "camera/demo" in refs
        own_mosquitto.stop()  # persistence off: the broker forgets every retained message
        await _wait_disconnected(demo)
        await demo.cameras.camera_node.stop()  # the camera goes away while nobody can hear
        reset = asyncio.Event()
        demo.ui.feed.on_reset(lambda view: reset.set())
        own_mosquitto.start()
        await asyncio.wait_for(reset.wait(), 30)
        await demo.greenhouse.node.wait_online(30)
        refs = {d["ref"] for d in (await client.get("/api/devices")).json()["devices"]}
        assert "camera/demo" not in refs
        await client.aclose()
