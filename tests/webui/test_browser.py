"""The web UI in Debian's Chromium (headless, driven by Playwright) against the running
service, stand-in nodes and a real broker: log in, watch values change live, drive a dial
and a switch, see the owner's error, history drawn, the broker outage banner and recovery,
apps, scripts, cameras, a phone-sized screen, and screenshots of the main pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, expect

from roost.bus import Bus
from roost.settings import RoostSettings
from roost.testing import Watcher
from roost.testing.broker import MosquittoBroker
from roost.testing.plugin import settings_for

from . import standins
from .conftest import ADMIN_SECRET, Demo, demo_system, login, real_engine, screenshot, wait_for_view

pytestmark = pytest.mark.asyncio(loop_scope="module")

PWM = '[data-ref="i2c-bridge/pca9685-40"]'
AIR = '[data-ref="i2c-bridge/bme280-76"]'


async def open_page(
    browser: BrowserContext, demo: Demo, route: str = "", **context: object
) -> Page:
    if context:
        browser = await browser.browser.new_context(**context)  # type: ignore[union-attr, arg-type]
    page = await browser.new_page()
    await login(page, demo.url)
    if route:
        await page.goto(f"{demo.url}/#/{route}")
    return page


async def test_log_in_and_see_a_value_change_without_reload(
    demo: Demo, browser: BrowserContext
) -> None:
    page = await browser.new_page()
    await page.goto(demo.url + "/#/devices")
    # not logged in: the login page, which keeps where we were going
    await expect(page.locator("#secret")).to_be_visible()
    await page.fill("#secret", ADMIN_SECRET)
    await page.click("button[type=submit]")
    await page.wait_for_url(demo.url + "/#/devices")  # back where we were going
    temperature = page.locator(f'{AIR} [data-prop="temperature"] .value')
    await expect(temperature).to_have_text("21.50 °C")
    await page.evaluate("window.notReloaded = true")
    demo.greenhouse.air.update(temperature=23.25)
    await expect(temperature).to_have_text("23.25 °C")
    assert await page.evaluate("window.notReloaded") is True
    # availability: a device that stops answering is shown offline
    demo.greenhouse.air.set_available(False)
    await expect(page.locator(f"{AIR}.offline .badge")).to_have_text("offline")


async def test_move_a_dial_and_the_owners_state_follows(
    demo: Demo, browser: BrowserContext, bus: Bus
) -> None:
    page = await open_page(browser, demo, "devices")
    state_topic = bus.topics.state("i2c-bridge", "pca9685-40")
    row = page.locator(f'{PWM} [data-prop="ch0_duty"]')
    async with Watcher(bus, state_topic) as states:
        slider = row.locator("input[type=range]")
        await slider.focus()
        await page.keyboard.press("End")
        await states.wait_json(state_topic, lambda s: s["ch0_duty"] == 100)
        await expect(row.locator(".value")).to_have_text("100.0 %")
        # a drag: press on the track a quarter of the way along and release
        box = await slider.bounding_box()
        assert box is not None
        await page.mouse.click(box["x"] + box["width"] * 0.25, box["y"] + box["height"] / 2)
        wanted = float(await slider.input_value())
        assert 10 < wanted < 40
        # the chip reports the nearest of its 4096 steps
        await states.wait_json(state_topic, lambda s: abs(s["ch0_duty"] - wanted) < 0.05)
        await expect(row.locator(".value")).to_have_text(f"{wanted:.1f} %")
        # the exact value typed into the box
        await row.locator("input.number").fill("42.5")
        await row.locator("input.number").press("Enter")
        await states.wait_json(state_topic, lambda s: abs(s["ch0_duty"] - 42.5) < 0.05)
        await expect(row.locator(".value")).to_have_text("42.5 %")
        await expect(slider).to_have_value("42.5")
    assert demo.greenhouse.pwm.values["ch0_duty"] == 42.4908


async def test_toggle_a_switch(demo: Demo, browser: BrowserContext, bus: Bus) -> None:
    page = await open_page(browser, demo, "devices")
    state_topic = bus.topics.state("i2c-bridge", "pca9685-40")
    toggle = page.locator(f'{PWM} [data-prop="ch1_on"] label.switch')
    async with Watcher(bus, state_topic) as states:
        await toggle.click()
        await states.wait_json(state_topic, lambda s: s["ch1_on"] is True)
        await expect(toggle.locator("input")).to_be_checked()
        # a change made elsewhere shows up on the switch
        await bus.publish(bus.topics.set("i2c-bridge", "pca9685-40", "ch1_on"), "off")
        await states.wait_json(state_topic, lambda s: s["ch1_on"] is False)
        await expect(toggle.locator("input")).not_to_be_checked()


async def test_a_rejected_value_shows_the_owners_error(demo: Demo, browser: BrowserContext) -> None:
    page = await open_page(browser, demo, "devices")
    # a dose past the pump's range is refused: the owner's error under the control
    pump = '[data-ref="i2c-bridge/ezo-pmp-67"]'
    row = page.locator(f'{pump} [data-prop="dose_ml"]')
    await row.locator("input.number").fill("80")
    await row.locator("input.number").press("Enter")
    error = row.locator(".prop-error")
    await expect(error).to_have_text("dose_ml must be within 0..50, got 80")
    await expect(row.locator(".value")).to_have_text("0.0 mL")
    assert demo.greenhouse.pump.values["dose_ml"] == 0
    # a failure inside the owner is shown the same way
    label = page.locator(f'{pump} [data-prop="label"]')
    await label.locator("input").fill("fail")
    await label.locator("input").press("Enter")
    await expect(label.locator(".prop-error")).to_have_text("pump did not answer (stand-in)")
    # a frequency the prescaler cannot hit exactly is success, shown as what was applied
    frequency = page.locator(f'{PWM} [data-prop="frequency"]')
    await frequency.locator("input.number").fill("300")
    await frequency.locator("input.number").press("Enter")
    await expect(frequency.locator(".value")).to_have_text("305 Hz")
    await expect(frequency.locator(".prop-note")).to_have_text("applied as 305 Hz")
    await expect(frequency.locator(".prop-error")).to_be_hidden()
    await screenshot(page, "error")
    # a good value clears the error
    await row.locator("input.number").fill("12.5")
    await row.locator("input.number").press("Enter")
    await expect(row.locator(".value")).to_have_text("12.5 mL")
    await expect(error).to_be_hidden()
    # a dial past its range is clamped by the owner, as the real PCA9685 driver does
    frequency = page.locator(f'{PWM} [data-prop="frequency"]')
    await frequency.locator("input.number").fill("5000")
    await frequency.locator("input.number").press("Enter")
    await expect(frequency.locator(".value")).to_have_text("1526 Hz")
    await expect(frequency.locator(".prop-error")).to_be_hidden()


async def test_history_is_drawn_with_a_live_tail(demo: Demo, browser: BrowserContext) -> None:
    page = await open_page(browser, demo, "device/i2c-bridge/bme280-76")
    chart = page.locator('figure[data-prop="temperature"] svg.chart')
    await expect(chart.locator("path.line")).to_have_count(1)
    await expect(chart.locator("path.band")).to_have_count(1)
    points = int(await chart.get_attribute("data-points") or 0)
    assert 230 <= points <= 250  # an hour of 15 s buckets from the stand-in recorder
    assert demo.recorder.requests[-1]["step"] == 15
    demo.greenhouse.air.update(temperature=30.0)
    await expect(chart).to_have_attribute("data-points", str(points + 1))
    await page.locator('button.range[data-range="7d"]').click()
    await expect(page.locator('button.range[data-range="7d"]')).to_have_class("range active")
    await expect(chart).not_to_have_attribute("data-points", str(points + 1))
    assert any(r["step"] == 1800 for r in demo.recorder.requests)
    await screenshot(page, "device")


async def test_broker_restart_shows_a_banner_and_recovers(
    own_mosquitto: MosquittoBroker, tmp_path: Path, browser: BrowserContext
) -> None:
    base = settings_for(own_mosquitto, tmp_path)
    async with demo_system(base) as demo:
        page = await open_page(browser, demo, "devices")
        banner = page.locator("#banner")
        temperature = page.locator(f'{AIR} [data-prop="temperature"] .value')
        await expect(temperature).to_have_text("21.50 °C")
        await expect(banner).to_be_hidden()
        own_mosquitto.stop()
        await expect(banner).to_be_visible(timeout=10_000)
        await expect(banner).to_contain_text("broker is unreachable")
        await screenshot(page, "broker-down")
        own_mosquitto.start()
        await expect(banner).to_be_hidden(timeout=30_000)
        # the page follows the broker again without a reload
        await demo.greenhouse.node.wait_online(30)
        demo.greenhouse.air.update(temperature=19.75)
        await expect(temperature).to_have_text("19.75 °C", timeout=10_000)


async def test_login_link_without_an_admin_secret(
    roost_settings: RoostSettings, browser: BrowserContext
) -> None:
    async with demo_system(roost_settings, admin=False) as demo:
        page = await browser.new_page()
        await page.goto(demo.url + "/")
        await expect(page.locator(".note")).to_contain_text("login-url")
        await screenshot(page, "login")
        link = demo.settings.data_path("webui", "login-url").read_text().strip()
        await page.goto(link)
        await page.wait_for_url(demo.url + "/")
        await expect(page.locator("#link-state.ok")).to_be_attached()
        other = await browser.new_page()
        await other.goto(link)
        await expect(other.locator(".error")).to_contain_text("already used")
        # logging out ends the session
        await page.goto(demo.url + "/#/access")
        await page.locator("#logout").click()
        await page.wait_for_url(demo.url + "/login")


async def test_apps_start_stop_restart_and_log_tail(demo: Demo, browser: BrowserContext) -> None:
    page = await open_page(browser, demo, "apps")
    row = page.locator('tr[data-ref="supervisor/recorder"]')
    await expect(row.locator(".badge")).to_have_text("running")
    await row.locator('button[data-action="stop"]').click()
    await expect(row.locator(".badge")).to_have_text("stopped")
    await row.locator('button[data-action="restart"]').click()
    await expect(row.locator(".badge")).to_have_text("running")
    await expect(row.locator("td").nth(4)).to_have_text("1")
    # An app that exited on a config error: `failed`, with its error line as the reason.
    bridge = page.locator('tr[data-ref="supervisor/i2c-bridge"]')
    reason = "config error: config file roost.toml, key i2c.scan_intervall: unknown key"
    app = demo.supervisor.apps["i2c-bridge"]
    app.update(
        {"state": "failed", "pid": None, "uptime": None, "exit_code": 2, "reason": reason},
        force=True,
    )
    await expect(bridge.locator(".badge")).to_have_text("failed")
    await expect(bridge.locator(".badge")).to_have_class("badge bad")
    await expect(bridge.locator(".reason")).to_have_text(reason)
    await screenshot(page, "apps")
    app.update({"state": "running", "pid": 1000, "exit_code": None, "reason": "up"}, force=True)
    await expect(bridge.locator(".badge")).to_have_text("running")
    await expect(bridge.locator(".reason")).to_have_count(0)
    await row.locator("a").click()
    await expect(page.locator("pre.log")).to_contain_text("recorder: log line 199")


async def test_scripts_log_and_errors(demo: Demo, browser: BrowserContext) -> None:
    page = await open_page(browser, demo, "scripts")
    await expect(page.locator("table.script-log tr.failed")).to_contain_text("ReferenceError")
    demo.engine.device.emit(
        "script_error", {"script": "fan.js", "function": "ch0_duty_onchange", "message": "boom"}
    )
    await expect(page.locator('li.event[data-type="script_error"]')).to_contain_text(
        "fan.js:ch0_duty_onchange"
    )
    await screenshot(page, "scripts")


AIR_SCRIPT = """
function temperature_onchange(ev) { home.log("air", ev.value); }
function humidity_onchange(ev) { nope(); }
"""


async def test_scripts_page_reads_the_real_engines_log_newest_first(
    demo: Demo, browser: BrowserContext, tmp_path: Path
) -> None:
    scripts = {"devices/i2c-bridge/bme280-76.js": AIR_SCRIPT}
    async with real_engine(demo.settings, tmp_path / "engine", scripts) as engine:

        def seen() -> bool:
            node = demo.ui.feed.view.nodes.get("engine-real")
            return node is not None and {"engine", "climate"} <= set(node.devices)

        await wait_for_view(demo.ui, seen)
        demo.greenhouse.air.update(temperature=24.25)
        await engine.runlog.wait_for(
            lambda e: e.trigger.get("changes", {}).get("temperature") == 24.25
        )
        demo.greenhouse.air.update(humidity=61.5)
        await engine.runlog.wait_for(lambda e: e.error is not None)
        demo.greenhouse.air.update(temperature=25.5)
        await engine.runlog.wait_for(
            lambda e: e.trigger.get("changes", {}).get("temperature") == 25.5
        )

        page = await open_page(browser, demo, "scripts")
        section = page.locator('section[data-node="engine-real"]')
        rows = section.locator("table.script-log tbody tr")
        # the trigger in words: the device and what changed on it
        newest = rows.first
        await expect(newest.locator("td").nth(1)).to_have_text(
            "i2c-bridge/bme280-76 · temperature = 25.5"
        )
        await expect(newest.locator("td").nth(2)).to_contain_text("temperature_onchange")
        await expect(section.locator("table.script-log")).not_to_contain_text("[object Object]")
        # newest first: the failed humidity run comes after (below) the newest change
        failed = section.locator("table.script-log tbody tr.failed").first
        await expect(failed.locator("td").nth(1)).to_have_text(
            "i2c-bridge/bme280-76 · humidity = 61.5"
        )
        texts = await rows.locator("td:nth-child(2)").all_inner_texts()
        assert (
            texts.index("i2c-bridge/bme280-76 · temperature = 25.5")
            < texts.index("i2c-bridge/bme280-76 · humidity = 61.5")
            < texts.index("i2c-bridge/bme280-76 · temperature = 24.25")
        )
        # one "Script errors" heading for the engine, not one per device (engine, climate)
        await expect(section.locator("h3", has_text="Script errors")).to_have_count(1)
        await expect(section.locator('li.event[data-type="script_error"]')).to_contain_text("nope")


async def test_camera_snapshot_and_detection_events(demo: Demo, browser: BrowserContext) -> None:
    page = await open_page(browser, demo, "cameras")
    snapshot = page.locator('[data-ref="camera/demo"] img.snapshot')
    await expect(snapshot).to_be_visible()
    assert await snapshot.evaluate("img => img.naturalWidth") == 320
    first = await snapshot.get_attribute("src")
    demo.cameras.camera.publish_blob("snapshot", standins.jpeg("camera 2", 120))
    await expect(snapshot).not_to_have_attribute("src", first or "")
    standins.detect_person(demo.cameras.detector)
    event = page.locator('[data-ref="detector/demo"] li.event[data-type="person"]')
    await expect(event).to_contain_text("87 %")
    await expect(event.locator("img")).to_be_visible()
    await screenshot(page, "cameras")


async def test_phone_sized_screen(demo: Demo, browser: BrowserContext) -> None:
    page = await open_page(
        browser,
        demo,
        "devices",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    await expect(page.locator(f'{PWM} [data-prop="ch0_duty"] input[type=range]')).to_be_visible()
    for route in ("devices", "", "apps", "scripts", "cameras", "device/i2c-bridge/bme280-76"):
        await page.goto(f"{demo.url}/#/{route}")
        await expect(page.locator("main h1")).to_be_visible()
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"#/{route} is wider than a phone"
    await page.goto(f"{demo.url}/#/devices")
    await page.locator(f'{PWM} [data-prop="ch0_on"] label.switch').tap()
    await expect(page.locator(f'{PWM} [data-prop="ch0_on"] input')).to_be_checked()
    await screenshot(page, "phone")


async def test_screenshots_of_the_main_pages(demo: Demo, browser: BrowserContext) -> None:
    page = await open_page(browser, demo, viewport={"width": 1280, "height": 900})
    await expect(page.locator(".card.node")).to_have_count(7)
    await screenshot(page, "overview")
    await page.goto(demo.url + "/#/devices")
    await expect(page.locator(f'{AIR} [data-prop="temperature"] .value')).to_have_text("21.50 °C")
    await screenshot(page, "devices")


async def test_group_by_area_and_filter(demo: Demo, browser: BrowserContext) -> None:
    page = await open_page(browser, demo, "devices")
    await expect(page.locator('section.group[data-group="i2c-bridge"] .card')).to_have_count(3)
    await page.locator('select[aria-label="group by"]').select_option("area")
    greenhouse = page.locator('section.group[data-group="greenhouse"] .card')
    await expect(greenhouse).to_have_count(2)
    await expect(page.locator('section.group[data-group="reservoir"] .card')).to_have_count(1)
    await page.locator("input.filter").fill("pwm")
    await expect(page.locator("section.card")).to_have_count(1)
    await expect(page.locator(f"{PWM}")).to_be_visible()
    # the choice is remembered
    await page.reload()
    await expect(page.locator('section.group[data-group="greenhouse"]')).to_be_visible()


async def test_make_and_revoke_an_api_token_in_the_page(
    demo: Demo, browser: BrowserContext
) -> None:
    page = await open_page(browser, demo, "access")
    await page.locator('input[aria-label="token name"]').fill("node-red")
    await page.locator("form.inline button").click()
    shown = page.locator(".token-shown")
    await expect(shown).to_contain_text("Token node-red (shown once): rst_")
    token = (await shown.text_content() or "").rsplit(" ", 1)[-1]
    assert demo.ui.tokens.check(token) == "node-red"
    row = page.locator("tr", has_text="node-red")
    await row.locator("button").click()
    await expect(row).to_have_count(0)
    assert demo.ui.tokens.check(token) is None
