"""Fixtures for the web UI's tests: the service running in-process on a free port, the
stand-in nodes, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from roost.bus import Bus
from roost.node import Node
from roost.secrets import store_admin_secret
from roost.settings import NodeSettings, RoostSettings
from roost_event_engine.engine import Engine
from roost_event_engine.settings import EngineSection
from roost_event_engine.settings import Settings as EngineSettings
from roost_webui.server import WebUI
from roost_webui.settings import Settings, WebuiSection

from . import standins

CHROMIUM = os.environ.get("ROOST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "webui"
DOC_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "services" / "img"
ADMIN_SECRET = "correct-horse-battery-staple"


def webui_settings(base: RoostSettings, **webui: Any) -> Settings:
    options: dict[str, Any] = {"host": "127.0.0.1", "port": 0, **webui}
    return Settings(mqtt=base.mqtt, node=base.node, webui=WebuiSection(**options))


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[WebUI]:
    """The web UI as `roost-webui` runs it, on a free port, until the block ends."""
    ui = WebUI(settings)
    await ui.prepare()
    await ui.node.start()
    task = asyncio.create_task(ui.run())
    try:
        ready = asyncio.create_task(ui.ready.wait())
        done, _ = await asyncio.wait({ready, task}, timeout=10, return_when="FIRST_COMPLETED")
        if task in done:
            task.result()
        assert ready in done, "web UI did not start"
        await asyncio.wait_for(ui.feed.synced.wait(), 10)
        yield ui
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await ui.node.stop()


@contextlib.asynccontextmanager
async def real_engine(
    base: RoostSettings, data_dir: Path, scripts: dict[str, str], node_id: str = "engine-real"
) -> AsyncIterator[Engine]:
    """The real event engine (its demo's virtual device `climate` included) running
    `scripts`, until the block ends."""
    folder = data_dir / "scripts"
    for path, source in scripts.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(source)
    settings = EngineSettings(
        mqtt=base.mqtt,
        node=NodeSettings(id=node_id, data_dir=data_dir),
        event_engine=EngineSection(scripts_dir=folder, workers=1, reload_interval=0.05),
    )
    node = Node(settings, service="event-engine", persistent_session=True)
    engine = Engine(settings, node)
    await engine.attach()
    await node.start()
    task = asyncio.create_task(engine.run())
    try:
        ready = asyncio.create_task(engine.ready.wait())
        done, _ = await asyncio.wait({ready, task}, timeout=20, return_when="FIRST_COMPLETED")
        if task in done:
            task.result()
        assert ready in done, "the event engine did not get ready"
        await node.wait_online(10)
        yield engine
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.close()
        await node.stop()


@contextlib.asynccontextmanager
async def nodes_running(*nodes: Node) -> AsyncIterator[None]:
    for node in nodes:
        await node.start()
    try:
        for node in nodes:
            await node.wait_online(10)
        yield
    finally:
        for node in nodes:
            await node.stop()


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not path:
        pytest.fail(
            "Debian's chromium is missing: scripts/test installs it (apt-get install chromium)"
        )
    return path


# Every test of this folder runs in its module's event loop (`pytestmark` in each module),
# so one Chromium serves a whole module: starting it is most of a browser test's cost.
@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chromium(chromium_path: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest_asyncio.fixture(loop_scope="module")
async def browser(chromium: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (no cookies) for one test."""
    context = await chromium.new_context()
    try:
        yield context
    finally:
        await context.close()


@pytest_asyncio.fixture(loop_scope="module")
async def bus(roost_settings: RoostSettings) -> AsyncIterator[Bus]:
    """The plugin's `bus`, in the module's event loop."""
    async with Bus(roost_settings.mqtt, reconnect=False) as client:
        yield client


async def screenshot(page: Page, name: str) -> Path:
    """Save a screenshot as a test artifact (and as the docs' picture when
    ROOST_DOC_SCREENSHOTS=1)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    # a sticky header would be drawn in the middle of a full-page picture
    await page.evaluate(
        "document.querySelectorAll('.top, .banner').forEach(e => e.style.position = 'static')"
    )
    await page.screenshot(path=str(path), full_page=True)
    await page.evaluate(
        "document.querySelectorAll('.top, .banner').forEach(e => e.style.position = '')"
    )
    if os.environ.get("ROOST_DOC_SCREENSHOTS") == "1":
        DOC_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOC_IMAGES / f"webui-{name}.png")
    return path


@dataclass
class Demo:
    """The web UI with every stand-in running, and the admin secret set."""

    ui: WebUI
    settings: Settings
    greenhouse: standins.Greenhouse
    recorder: standins.Recorder
    supervisor: standins.Supervisor
    engine: standins.Engine
    cameras: standins.Cameras

    @property
    def url(self) -> str:
        return self.ui.url


KNOWN_HISTORY = {
    "i2c-bridge/bme280-76/temperature",
    "i2c-bridge/bme280-76/humidity",
    "i2c-bridge/bme280-76/pressure",
    "i2c-bridge/pca9685-40/ch0_duty",
}


@contextlib.asynccontextmanager
async def demo_system(
    base: RoostSettings, *, admin: bool = True, **webui: Any
) -> AsyncIterator[Demo]:
    if admin:
        store_admin_secret(base.node.data_dir, ADMIN_SECRET)
    greenhouse = standins.greenhouse(base)
    recorder = standins.recorder(base, set(KNOWN_HISTORY))
    supervisor = standins.supervisor(base, ["i2c-bridge", "recorder"])
    engine = standins.engine(base)
    cameras = standins.cameras(base)
    settings = webui_settings(base, **webui)
    nodes = [
        greenhouse.node,
        recorder.node,
        supervisor.node,
        engine.node,
        cameras.camera_node,
        cameras.detector_node,
    ]
    async with nodes_running(*nodes), running(settings) as ui:
        # the web UI has seen every stand-in's retained state
        await wait_for_view(ui, lambda: sum(1 for _ in ui.feed.view.devices()) >= 9)
        yield Demo(ui, settings, greenhouse, recorder, supervisor, engine, cameras)


async def wait_for_view(ui: WebUI, check: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until the web UI's mirror satisfies `check`, looking again at every change."""
    if check():
        return
    satisfied = asyncio.Event()

    def look(_: object) -> None:
        if check():
            satisfied.set()

    remove = ui.feed.view.add_listener(look)
    try:
        await asyncio.wait_for(satisfied.wait(), timeout)
    finally:
        remove()


@pytest_asyncio.fixture(loop_scope="module")
async def demo(roost_settings: RoostSettings) -> AsyncIterator[Demo]:
    async with demo_system(roost_settings) as system:
        yield system


async def login(page: Page, url: str, secret: str = ADMIN_SECRET) -> None:
    await page.goto(url + "/")
    await page.fill("#secret", secret)
    await page.click("button[type=submit]")
    await page.wait_for_url(url + "/")
    await page.wait_for_selector("#link-state.ok")
