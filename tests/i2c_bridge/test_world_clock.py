"""The simulated world's own clock: a pinned start, a compressed day, the host's clock only
when asked for, and the same world whatever the host's hour or time zone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from roost.errors import ConfigError
from roost.settings import load_settings
from roost_i2c_bridge.buses import plan
from roost_i2c_bridge.settings import I2cSection, Settings
from roost_i2c_bridge.sim.world import World
from roost_i2c_bridge.sim.world_clock import (
    DAY,
    WorldClock,
    format_time_of_day,
    parse_time_of_day,
)

HOUR = 3600.0
# 2026-12-02 02:00 and 14:00 UTC: a night and an afternoon on the host's clock.
NIGHT = 1_796_176_800.0
AFTERNOON = NIGHT + 12 * HOUR


class FakeHost:
    """The host's clock, moved by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def time_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Lets a test set the process's time zone (TZ) and puts it back afterwards."""
    yield monkeypatch
    monkeypatch.undo()
    time.tzset()


def set_zone(monkeypatch: pytest.MonkeyPatch, tz: str) -> None:
    monkeypatch.setenv("TZ", tz)
    time.tzset()


# the clock on its own --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "seconds"),
    [("00:00", 0.0), ("09:00", 9 * HOUR), ("12:30", 12.5 * HOUR), ("23:59:59", DAY - 1)],
)
def test_a_time_of_day_is_hours_and_minutes(text: str, seconds: float) -> None:
    assert parse_time_of_day(text) == seconds
    assert format_time_of_day(seconds) == (text if text.count(":") == 2 else f"{text}:00")


@pytest.mark.parametrize("text", ["24:00", "12:60", "9:00", "noon", "12", "12:00:00:00", ""])
def test_a_time_of_day_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a time of day"):
        parse_time_of_day(text)


def test_a_pinned_clock_starts_where_it_is_told_and_runs_at_real_speed() -> None:
    clock = WorldClock(start=9 * HOUR)
    assert clock.speed == 1
    assert clock.hour(NIGHT, 0) == 9
    assert clock.hour(AFTERNOON, 0) == 9  # the host's hour plays no part
    assert clock.hour(NIGHT, 3 * HOUR) == 12
    assert clock.hour(NIGHT, 20 * HOUR) == 5  # past midnight: the next day


def test_a_compressed_day_runs_faster() -> None:
    clock = WorldClock(start=6 * HOUR, day_length=600)
    assert clock.speed == 144
    # The world's elapsed time is simulated seconds: a quarter of its day is 6 hours.
    assert clock.hour(NIGHT, DAY / 4) == 12


def test_a_pinned_clock_ignores_the_time_zone(time_zone: pytest.MonkeyPatch) -> None:
    clock = WorldClock(start=12 * HOUR)
    hours = []
    for tz in ("UTC0", "IST-5:30", "HST10"):
        set_zone(time_zone, tz)
        hours.append(clock.hour(NIGHT, 1800))
    assert hours == [12.5, 12.5, 12.5]


def test_the_host_clock_only_when_asked_for(time_zone: pytest.MonkeyPatch) -> None:
    clock = WorldClock(start=None)
    set_zone(time_zone, "UTC0")
    assert clock.hour(NIGHT, 1800) == 2.5
    set_zone(time_zone, "IST-5:30")  # the host's local time, as asked
    assert clock.hour(NIGHT, 1800) == 8


def test_the_host_clock_has_a_day_of_a_day() -> None:
    with pytest.raises(ValueError, match="86400"):
        WorldClock(start=None, day_length=600)


# the world on its clock ------------------------------------------------------------------
def test_the_world_is_the_same_at_any_host_hour_and_zone(time_zone: pytest.MonkeyPatch) -> None:
    readings = []
    for host, tz in ((NIGHT, "UTC0"), (AFTERNOON, "UTC0"), (NIGHT, "HST10")):
        set_zone(time_zone, tz)
        world = World(seed=1, noise=False, clock=FakeHost(host))
        readings.append((world.air().temperature, world.light(), world.time_of_day()))
    assert readings[0] == readings[1] == readings[2]


def test_the_world_starts_at_its_time_of_day() -> None:
    host = FakeHost(NIGHT)
    night = World(noise=False, clock=host, world_clock=WorldClock(start=0))
    noon = World(noise=False, clock=host, world_clock=WorldClock(start=12 * HOUR))
    assert night.light() == 0
    assert noon.light() == pytest.approx(21000)
    assert noon.air().temperature > night.air().temperature + 10


def test_a_compressed_day_is_a_time_lapse_of_the_whole_world() -> None:
    host = FakeHost(NIGHT)
    day = WorldClock(6 * HOUR, day_length=600)
    world = World(seed=1, noise=False, clock=host, world_clock=day)
    undosed = World(seed=1, noise=False, clock=host, world_clock=day)
    assert world.light() == 0  # 06:00: sunrise
    world.dose_acid(10)
    host.now += 600 / day.speed  # ten simulated minutes: the acid has mixed in
    assert undosed.water().ph - world.water().ph == pytest.approx(0.3, abs=0.02)
    host.now += 150 - 600 / day.speed  # a quarter of the 600 s day: noon
    assert world.time_of_day() == pytest.approx(12 * HOUR)
    assert world.light() == pytest.approx(21000)
    host.now += 270  # 10.8 hours more: 22:48, dark
    assert world.time_of_day() == pytest.approx(22.8 * HOUR)
    assert world.light() == 0


def test_the_default_world_is_a_mild_morning_that_warms_all_day() -> None:
    """The demo's promise: `fan_start = 24` (the default) leaves the fan off at first, and
    `roost set climate fan_start=15` turns it on whenever the demo is started, for hours."""
    host = FakeHost(NIGHT)
    world = World(noise=False, clock=host)
    assert world.time_of_day() == 9 * HOUR
    start = world.air().temperature
    assert 18 < start < 23
    for _ in range(10 * 4):  # ten hours of the (unventilated) greenhouse
        host.now += 900
        assert world.air().temperature > 17


# settings --------------------------------------------------------------------------------
def load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "roost.toml"
    path.write_text(text)
    return load_settings(Settings, path)


def test_the_default_is_nine_in_the_morning_at_real_speed() -> None:
    assert I2cSection().sim.world_clock() == WorldClock(start=9 * HOUR, day_length=DAY)


@pytest.mark.parametrize(
    ("text", "clock"),
    [
        ('time_of_day = "12:00"', WorldClock(12 * HOUR)),
        ('time_of_day = "06:30:15"', WorldClock(6.5 * HOUR + 15)),
        ("time_of_day = 18:45:00", WorldClock(18.75 * HOUR)),  # a TOML local time
        ('time_of_day = "06:00"\nday_length = 600', WorldClock(6 * HOUR, 600)),
        ('time_of_day = "local"', WorldClock(None)),
    ],
)
def test_the_world_clock_from_the_config_file(tmp_path: Path, text: str, clock: WorldClock) -> None:
    settings = load(tmp_path, f"[i2c]\nbuses = ['sim']\n\n[i2c.sim]\n{text}\n")
    assert settings.i2c.sim.world_clock() == clock
    world = plan(settings.i2c).world
    assert world is not None and world.world_clock == clock


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('time_of_day = "25:00"', "i2c.sim.time_of_day: not a time of day"),
        ('time_of_day = "noon"', "i2c.sim.time_of_day: not a time of day"),
        ("time_of_day = 12", "i2c.sim.time_of_day"),
        ("day_length = 0", "i2c.sim.day_length"),
        ("day_length = 10", "i2c.sim.day_length"),
        ('day_length = "long"', "i2c.sim.day_length"),
        ('time_of_day = "local"\nday_length = 600', 'day_length: with time_of_day = "local"'),
    ],
)
def test_a_bad_world_clock_is_one_line_naming_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load(tmp_path, f"[i2c.sim]\n{text}\n")
    assert "\n" not in str(caught.value)


def test_the_environment_sets_the_world_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROOST_CONFIG", raising=False)
    monkeypatch.setenv("ROOST_I2C__SIM__TIME_OF_DAY", "14:00")
    monkeypatch.setenv("ROOST_I2C__SIM__DAY_LENGTH", "600")
    settings = load_settings(Settings, None)
    assert settings.i2c.sim.world_clock() == WorldClock(14 * HOUR, 600)


def test_a_bad_environment_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROOST_CONFIG", raising=False)
    monkeypatch.setenv("ROOST_I2C__SIM__TIME_OF_DAY", "25:00")
    with pytest.raises(ConfigError) as caught:
        load_settings(Settings, None)
    message = str(caught.value)
    assert message.startswith("environment variable ROOST_I2C__SIM__TIME_OF_DAY: not a time")
    assert "'25:00'" in message and "\n" not in message


def test_a_conflict_between_environment_variables_names_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ROOST_CONFIG", raising=False)
    monkeypatch.setenv("ROOST_I2C__SIM__TIME_OF_DAY", "local")
    monkeypatch.setenv("ROOST_I2C__SIM__DAY_LENGTH", "600")
    with pytest.raises(ConfigError) as caught:
        load_settings(Settings, None)
    assert str(caught.value).startswith(
        "environment variable ROOST_I2C__SIM__DAY_LENGTH, ROOST_I2C__SIM__TIME_OF_DAY: day_length:"
    )
