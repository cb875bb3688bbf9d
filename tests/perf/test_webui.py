"""Benchmarks of the web UI (run: `.venv/bin/pytest --perf tests/perf/test_webui.py -s`).

Prints JSON figures:
- latency from a state change published on the broker to the DOM of a logged-in page
  showing it (p50/p99 over 200 changes), against the bare broker round trip to a plain
  subscriber measured in the same run;
- page weight of the dashboard's first load (bytes on the wire and decoded);
- the service's RSS with 200 devices and 5 open browser sessions, against the same
  service idle (no devices, no sessions) in the same run.

The web UI runs as its own process (`python -m roost_webui`), as in production.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import psutil
import pytest
from playwright.async_api import Browser, Page, Request, async_playwright

import roost_webui
from roost.bus import Bus
from roost.message import Message
from roost.models import DeviceMeta, PropertySpec
from roost.node import Node
from roost.secrets import store_admin_secret
from roost.settings import RoostSettings
from roost.testing.broker import free_port
from tests.webui.conftest import ADMIN_SECRET, CHROMIUM_ARGS, login

pytestmark = pytest.mark.asyncio(loop_scope="module")

STATIC = Path(roost_webui.__file__).parent / "static"
CHANGES = 200
DEVICES = 200
SESSIONS = 5

BENCH = DeviceMeta(
    name="Bench sensor",
    properties={
        "value": PropertySpec(kind="number", unit="u"),
        "level": PropertySpec(kind="number", unit="%", min=0, max=100, settable=True),
        "on": PropertySpec(kind="switch", settable=True),
    },
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


@asynccontextmanager
async def webui_process(settings: RoostSettings, tmp_path: Path) -> AsyncIterator[tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "ROOST_MQTT__HOST": settings.mqtt.host,
        "ROOST_MQTT__PORT": str(settings.mqtt.port),
        "ROOST_MQTT__PREFIX": settings.mqtt.prefix,
        "ROOST_MQTT__DISCOVERY_PREFIX": settings.mqtt.discovery_prefix,
        "ROOST_NODE__DATA_DIR": str(settings.node.data_dir),
        "ROOST_WEBUI__PORT": str(port),
        "ROOST_LOG__LEVEL": "WARNING",
        "ROOST_CONFIG": str(tmp_path / "none.toml"),
    }
    (tmp_path / "none.toml").write_text("")
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "roost_webui", env=env, stderr=asyncio.subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_listening(port, process)
        yield url, process.pid
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 10)


async def _wait_listening(port: int, process: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.returncode is not None:
            raise RuntimeError(f"roost-webui exited with {process.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)  # a process starting up has no message to wait for
            continue
        writer.close()
        return
    raise RuntimeError("roost-webui did not start listening")


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def bare_round_trips(settings: RoostSettings, node: Node, count: int) -> list[float]:
    """Baseline: publish → a plain subscriber on another connection, same broker."""
    topic = node.topics.state(node.id, "bench")
    arrived: asyncio.Queue[float] = asyncio.Queue()

    def on_message(message: Message) -> None:
        if not message.retain:
            arrived.put_nowait(time.perf_counter())

    device = node.devices["bench"]
    samples = []
    async with Bus(settings.mqtt, reconnect=False) as listener:
        await listener.subscribe(topic, on_message)
        await listener.sync()
        for i in range(count):
            started = time.perf_counter()
            device.update(value=10_000 + i)
            samples.append((await asyncio.wait_for(arrived.get(), 5)) - started)
    return samples


async def dom_latencies(page: Page, node: Node, count: int) -> list[float]:
    """Publish a change, then read when the page's DOM showed it (wall clock in both)."""
    cell = '[data-ref="bench/bench"] [data-prop="value"] .value'
    await page.wait_for_selector(cell)
    await page.evaluate(
        """(selector) => {
            window.seen = new Map();
            const el = document.querySelector(selector);
            new MutationObserver(() => {
              window.seen.set(el.textContent, performance.timeOrigin + performance.now());
            }).observe(el, { childList: true, characterData: true, subtree: true });
        }""",
        cell,
    )
    device = node.devices["bench"]
    samples = []
    for i in range(count):
        text = f"{i} u"
        published = time.time()
        device.update(value=i)
        shown_ms = await page.wait_for_function(
            "(text) => window.seen.get(text)", arg=text, polling="raf"
        )
        samples.append(await shown_ms.json_value() / 1000 - published)
    return samples


def many_devices(settings: RoostSettings, count: int) -> Node:
    node = Node(settings, service="bench", node_id="many")
    for index in range(count):
        device = node.add_device(f"d{index:03d}", BENCH)
        device.update(value=index, level=50, on=False)
    return node


async def page_weight(browser: Browser, url: str) -> dict[str, int]:
    """The first load of the dashboard by a new browser, the login page not counted."""
    context = await browser.new_context()
    page = await context.new_page()
    responses: list[Request] = []
    page.on("requestfinished", lambda request: responses.append(request))
    await login(page, url, ADMIN_SECRET)
    await page.wait_for_load_state("networkidle")
    wire = decoded = 0
    files = 0
    for request in responses:
        path = request.url.removeprefix(url).split("?")[0]
        if path in ("/ws", "/login", "/static/login.css") or request.method != "GET":
            continue
        sizes = await request.sizes()
        response = await request.response()
        if response is None or response.status != 200:
            continue
        wire += sizes["responseBodySize"] + sizes["responseHeadersSize"]
        served = STATIC / ("index.html" if path == "/" else path.removeprefix("/static/"))
        decoded += served.stat().st_size if served.is_file() else sizes["responseBodySize"]
        files += 1
    await context.close()
    return {"files": files, "bytes_on_wire": wire, "bytes_decoded": decoded}


@pytest.mark.perf
async def test_webui_benchmarks(roost_settings: RoostSettings, tmp_path: Path) -> None:
    store_admin_secret(roost_settings.node.data_dir, ADMIN_SECRET)
    figures: dict[str, object] = {}
    bench = Node(roost_settings, service="bench", node_id="bench")
    bench.add_device("bench", BENCH).update(value=-1, level=0, on=False)
    async with bench, webui_process(roost_settings, tmp_path) as (url, pid), chromium() as browser:
        await bench.wait_online(10)
        process = psutil.Process(pid)

        # memory of the service with one small device and nobody looking
        await asyncio.sleep(2)  # let it settle after start; nothing to wait for
        idle_rss = process.memory_info().rss

        # page weight
        figures["page_weight"] = await page_weight(browser, url)

        # latency: broker round trip vs broker → web UI → WebSocket → DOM
        baseline = await bare_round_trips(roost_settings, bench, CHANGES)
        context = await browser.new_context()
        page = await context.new_page()
        await login(page, url, ADMIN_SECRET)
        await page.goto(url + "/#/devices?node=bench")
        dom = await dom_latencies(page, bench, CHANGES)
        await context.close()
        figures["latency_ms"] = {
            "changes": CHANGES,
            "dom_p50": round(statistics.median(dom) * 1000, 2),
            "dom_p99": round(percentile(dom, 0.99) * 1000, 2),
            "broker_p50": round(statistics.median(baseline) * 1000, 2),
            "broker_p99": round(percentile(baseline, 0.99) * 1000, 2),
            "ratio_p50": round(statistics.median(dom) / statistics.median(baseline), 1),
        }

        # memory with 200 devices changing and 5 sessions open on the devices page
        many = many_devices(roost_settings, DEVICES)
        async with many:
            await many.wait_online(10)
            contexts = []
            for _ in range(SESSIONS):
                context = await browser.new_context()
                page = await context.new_page()
                await login(page, url, ADMIN_SECRET)
                await page.goto(url + "/#/devices")
                await page.wait_for_selector('[data-ref="many/d199"]')
                contexts.append(context)
            for round_ in range(5):
                for index in range(DEVICES):
                    many.devices[f"d{index:03d}"].update(value=round_ * 1000 + index)
                await many.bus.flush(10)
            last = '[data-ref="many/d199"] [data-prop="value"] .value'
            await (
                contexts[-1]
                .pages[0]
                .wait_for_function(
                    "(s) => document.querySelector(s).textContent === '4199 u'", arg=last
                )
            )
            loaded_rss = process.memory_info().rss
            for context in contexts:
                await context.close()
        figures["rss_mb"] = {
            "idle": round(idle_rss / 2**20, 1),
            "devices_200_sessions_5": round(loaded_rss / 2**20, 1),
            "ratio": round(loaded_rss / idle_rss, 2),
        }
    print(json.dumps({"webui": figures}, indent=2))
