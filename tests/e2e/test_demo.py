"""The whole system as the README's run command starts it — `roost up` with no config —
checked where the services meet: the event engine drives the i2c bridge's fan, the
recorder answers history for the web UI and the CLI, the camera's snapshot and the
detector's events reach the broker, and a person in Chromium drives a dial."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright, expect

from roost.bus import Bus
from roost.mirror import StateView
from roost.settings import MqttSettings
from roost.testing import Watcher
from roost.testing.broker import free_port
from tests.supervisor.cli_process import clean_env, roost, roost_up
from tests.webui.conftest import CHROMIUM, CHROMIUM_ARGS

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"
PWM = '[data-ref="i2c-bridge/pca9685-40"]'


async def until(view: StateView, check: Callable[[], bool], timeout: float) -> None:
    """Wait, change by change, until `check()` holds."""
    async with view.changes() as changes, asyncio.timeout(timeout):
        while not check():
            await changes.get()


def value(view: StateView, ref: str, prop: str) -> Any:
    try:
        return view.device(ref).state.get(prop)
    except KeyError:
        return None


async def test_the_demo_works_end_to_end(tmp_path: Path) -> None:
    web_port = free_port()
    env = clean_env(
        ROOST_UP__BROKER="own",
        ROOST_UP__PORT="0",
        ROOST_WEBUI__PORT=str(web_port),
        # The fan check below needs warm air: the simulated greenhouse at noon (about
        # 28 °C), whatever the host's hour. `roost up` passes this on to the i2c bridge.
        ROOST_I2C__SIM__TIME_OF_DAY="12:00",
    )
    async with roost_up(tmp_path, env) as up:
        port = int((await up.line(r"Mosquitto on 127\.0\.0\.1:(\d+)"))[1])
        await up.line(r"roost is up: .* (\d+) of \1 app\(s\) running", timeout=120)
        login_url = (await up.line(r"web UI: (http://\S+)", timeout=60))[1]
        assert f":{web_port}/" in login_url
        async with Bus(MqttSettings(port=port), reconnect=False) as bus:
            t = bus.topics
            view = StateView(t)
            await view.attach(bus)
            snapshots = await Watcher(bus, t.blob("camera", "demo", "snapshot")).start()
            detections = await Watcher(bus, t.event("detector", "demo")).start()
            await bus.sync()

            # The simulated greenhouse reports, on the world clock this test set.
            await until(view, lambda: value(view, "bme280-76", "temperature") is not None, 60)
            world = await bus.request("i2c-bridge", "sim_world", {})
            assert world.ok and isinstance(world.data, dict), world.error
            assert "12:00:00" <= str(world.data["time_of_day"]) < "13:00:00"

            # The event engine's example: with the start temperature below the air's, the
            # fan on PCA9685 channel 0 comes on — a command from a script to the bridge.
            await bus.publish(t.set("event-engine", "climate"), {"fan_start": 5})
            await until(view, lambda: (value(view, "pca9685-40", "ch0_duty") or 0) > 0, 60)

            # The recorder has the readings: its history method, then `roost history`.
            async def recorded() -> list[Any]:
                params = {"device": "i2c-bridge/bme280-76", "prop": "temperature", "from": -600}
                async with view.changes() as changes, asyncio.timeout(60):
                    while True:
                        response = await bus.request("recorder", "history", params)
                        if response.ok:
                            assert isinstance(response.data, dict)
                            if response.data["points"]:
                                return list(response.data["points"])
                        else:  # nothing of the device written yet: its first batch is due
                            assert response.error is not None
                            assert response.error.code == "unknown_device", response.error
                        await changes.get()  # ask again after the next change

            points = await recorded()
            assert all(isinstance(p[0], float | int) for p in points)
            cli = clean_env(ROOST_MQTT__PORT=str(port))
            history = await roost(
                "history", "bme280-76", "temperature", "--since", "10m", "--csv",
                cwd=tmp_path, env=cli,
            )  # fmt: skip
            assert history.code == 0, history.err
            assert len(history.out.strip().splitlines()) >= 2  # a header and a reading

            # The camera's retained snapshot is a JPEG; the detector sees the demo's walker.
            snapshot = await snapshots.wait_for(lambda m: m.payload[:2] == b"\xff\xd8", timeout=30)
            assert len(snapshot.payload) > 1000
            person = await detections.wait_json(
                t.event("detector", "demo"),
                lambda e: e["event_type"] == "person" and e["phase"] == "start",
                timeout=150,
            )
            assert person["data"]["camera"] == "camera/demo"

            # A person in a browser: the history chart from the real recorder, and a dial.
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                try:
                    page = await browser.new_page()
                    await page.goto(login_url)
                    await page.wait_for_selector("#link-state.ok")
                    base = login_url.split("/login")[0]
                    await page.goto(f"{base}/#/device/i2c-bridge/bme280-76")
                    chart = page.locator('figure[data-prop="temperature"] svg.chart')
                    await expect(chart.locator("path.line")).to_have_count(1, timeout=20_000)
                    assert int(await chart.get_attribute("data-points") or 0) >= 1
                    ARTIFACTS.mkdir(parents=True, exist_ok=True)
                    await page.screenshot(path=ARTIFACTS / "device.png", full_page=True)

                    await page.goto(f"{base}/#/devices")
                    row = page.locator(f'{PWM} [data-prop="ch1_duty"]')
                    await row.locator("input.number").fill("42.5")
                    await row.locator("input.number").press("Enter")
                    await until(
                        view,
                        lambda: abs((value(view, "pca9685-40", "ch1_duty") or 0) - 42.5) < 0.05,
                        30,
                    )
                    await expect(row.locator(".value")).to_have_text("42.5 %")
                    await page.screenshot(path=ARTIFACTS / "devices.png", full_page=True)
                finally:
                    await browser.close()
        assert await up.interrupt() == 0
