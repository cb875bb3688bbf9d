"""The WebSocket feed: a snapshot first, then changes; cross-origin pages refused; a page
that cannot keep up is told to start again."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import websockets

from roost_webui.live import CLOSE_TOO_SLOW, LiveClient

from .conftest import Demo
from .test_api import logged_in

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_snapshot_then_live_changes(demo: Demo) -> None:
    client = await logged_in(demo.url)
    cookie = f"roost_session={client.cookies['roost_session']}"
    ws_url = demo.url.replace("http://", "ws://") + "/ws"
    async with websockets.connect(
        ws_url, additional_headers={"cookie": cookie, "origin": demo.url}
    ) as socket:
        snapshot = json.loads(await socket.recv())
        assert snapshot["type"] == "snapshot" and snapshot["broker"] is True
        refs = {d["ref"] for d in snapshot["devices"]}
        assert {"i2c-bridge/bme280-76", "camera/demo", "supervisor/recorder"} <= refs
        assert "camera/demo/snapshot" in snapshot["blobs"]
        demo.greenhouse.air.update(humidity=61.0)
        while True:
            message = json.loads(await socket.recv())
            if message["type"] == "state" and message["ref"] == "i2c-bridge/bme280-76":
                break
        assert message["state"]["humidity"] == 61.0
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with websockets.connect(
            ws_url, additional_headers={"cookie": cookie, "origin": "http://evil.example"}
        ):
            pass
    await client.aclose()


async def test_sessions_cookie_is_needed_even_with_our_origin(demo: Demo) -> None:
    ws_url = demo.url.replace("http://", "ws://") + "/ws"
    with pytest.raises(websockets.exceptions.InvalidStatus):
        async with websockets.connect(ws_url, additional_headers={"origin": demo.url}):
            pass
    async with httpx.AsyncClient(base_url=demo.url) as anonymous:
        assert (await anonymous.get("/api/session")).status_code == 401


async def test_a_page_that_falls_behind_is_told_to_start_again() -> None:
    client = LiveClient(3)
    for index in range(5):
        client.put(f"message {index}")
    assert client.overflowed and client.close_code == CLOSE_TOO_SLOW
    queued = [client.queue.get_nowait() for _ in range(client.queue.qsize())]
    assert queued[-1] is None  # the sender stops there and closes with CLOSE_TOO_SLOW
    assert len(queued) == 3


def _strict(text: str | bytes) -> object:
    def refuse(constant: str) -> object:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


async def test_a_number_beyond_float_range_goes_out_as_null(demo: Demo) -> None:
    """A peer's `1e999` reads as infinity: sent as `Infinity` it broke JSON.parse on every
    open page, and /api/devices answered 500 for every device while it was retained."""
    client = await logged_in(demo.url)
    cookie = f"roost_session={client.cookies['roost_session']}"
    ws_url = demo.url.replace("http://", "ws://") + "/ws"
    topics = demo.settings.mqtt.topics()
    topic = topics.state("probe", "wild")
    meta = topics.meta("probe", "wild")
    async with websockets.connect(
        ws_url, additional_headers={"cookie": cookie, "origin": demo.url}
    ) as socket:
        await socket.recv()  # the snapshot
        bus = demo.greenhouse.node.bus
        await bus.publish(
            meta, {"name": "Wild", "properties": {"level": {"kind": "number"}}}, retain=True
        )
        await bus.publish(topic, b'{"level": 1e999}', retain=True)
        while True:
            message: Any = _strict(await socket.recv())
            if message["type"] == "state" and message["ref"] == "probe/wild":
                break
        assert message["state"] == {"level": None}
    devices = await client.get("/api/devices")
    assert devices.status_code == 200
    _strict(devices.content)
    await demo.greenhouse.node.bus.publish(topic, b"", retain=True)
    await demo.greenhouse.node.bus.publish(meta, b"", retain=True)
    await client.aclose()


async def test_a_page_is_also_told_to_start_again_past_a_byte_bound() -> None:
    """Counting messages alone let a slow page hold 2000 large states (megabytes each)."""
    client = LiveClient(100, max_bytes=1000)
    client.put("x" * 400)
    client.put("y" * 400)
    assert not client.overflowed and client.queued_bytes == 800
    assert await client.get() == "x" * 400
    assert client.queued_bytes == 400
    client.put("z" * 400)
    client.put("w" * 400)
    assert client.overflowed and client.close_code == CLOSE_TOO_SLOW
