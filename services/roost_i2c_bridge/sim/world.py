"""The simulated greenhouse the simulated chips measure and act on.

Slow, plausible physics, integrated lazily whenever a chip looks: the outside air follows
the world's own time of day (a `WorldClock`: a fixed start at real speed by default, a
compressed day, or the host's local clock), the greenhouse warms in the sun and cools with
its fan (PCA9685 channel 0), grow lights (channel 1) add light and a little heat, the
mister adds humidity, the reservoir's pH creeps up until the dosing pump adds acid, the
soil dries until the irrigation valve opens. Noise is a set of Ornstein-Uhlenbeck
processes, so readings wander like real ones instead of jumping.

Chips read and drive the world from the bus's worker threads (several simulated buses may
run at once), so every access holds the world's lock. Tests `pin()` a quantity to hold it
exactly where they want it.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from roost_i2c_bridge.sim.world_clock import WorldClock

MAX_STEP = 5.0  # simulated s: integration step
MAX_CATCH_UP = 6 * 3600.0  # simulated s: after a longer gap (a suspended laptop) start afresh

QUANTITIES = (
    "air.temperature",
    "air.humidity",
    "air.pressure",
    "outside.temperature",
    "outside.humidity",
    "water.temperature",
    "water.ph",
    "water.ec",
    "water.do",
    "water.orp",
    "water.level",
    "soil.moisture",
    "light",
)
OUTPUTS = ("fan", "grow_light", "valve", "mister")


@dataclass
class Air:
    temperature: float  # °C
    humidity: float  # %RH
    pressure: float  # hPa


@dataclass
class Water:
    temperature: float  # °C
    ph: float
    ec: float  # µS/cm at 25 °C
    do: float  # mg/L
    orp: float  # mV
    level: float  # L


class _Wander:
    """An Ornstein-Uhlenbeck process: noise with memory `tau` and spread `sigma`."""

    def __init__(self, rng: random.Random, sigma: float, tau: float, enabled: bool) -> None:
        self.rng = rng
        self.sigma = sigma
        self.tau = tau
        self.enabled = enabled
        self.value = rng.gauss(0.0, sigma) if enabled else 0.0

    def step(self, dt: float) -> float:
        if self.enabled:
            decay = math.exp(-dt / self.tau)
            self.value = self.value * decay + self.sigma * math.sqrt(
                1 - decay * decay
            ) * self.rng.gauss(0.0, 1.0)
        return self.value


def _relax(value: float, target: float, tau: float, dt: float) -> float:
    return target + (value - target) * math.exp(-dt / tau)


def do_saturation(temperature: float) -> float:
    """Dissolved oxygen of air-saturated fresh water at sea level, mg/L (Benson-Krause fit)."""
    t = temperature
    return 14.652 - 0.41022 * t + 0.007991 * t * t - 0.000077774 * t * t * t


class World:
    """The greenhouse: air, outside air, reservoir water, soil, light and the actuators."""

    def __init__(
        self,
        *,
        seed: int | None = None,
        noise: bool = True,
        clock: Callable[[], float] = time.time,
        world_clock: WorldClock | None = None,
    ) -> None:
        """`clock` is the host's time (epoch seconds); `world_clock` maps it to the world's
        time of day and speed (default: 09:00 at start, real speed)."""
        self._lock = threading.Lock()
        self._clock = clock
        self.world_clock = world_clock or WorldClock()
        self._rng = random.Random(seed)
        rng, on = self._rng, noise
        self._outside_t = _Wander(rng, 0.6, 1800, on)
        self._outside_h = _Wander(rng, 3.0, 1800, on)
        self._air_t = _Wander(rng, 0.15, 300, on)
        self._air_h = _Wander(rng, 1.0, 600, on)
        self._pressure = _Wander(rng, 4.0, 12 * 3600, on)
        self._pressure_fast = _Wander(rng, 0.03, 60, on)
        self._ph = _Wander(rng, 0.01, 120, on)
        self._do = _Wander(rng, 0.08, 600, on)
        self._orp = _Wander(rng, 4.0, 300, on)
        self._light = _Wander(rng, 0.08, 120, on)
        self.pins: dict[str, float] = {}
        self.outputs: dict[str, float] = dict.fromkeys(OUTPUTS, 0.0)
        self.dosed_ml = 0.0
        self._acid_unmixed = 0.0
        self._started = self._seen = clock()
        self._t = 0.0  # simulated seconds since the start, integrated up to here
        sun = self._sun(self._t)
        outside = self._outside_temperature(self._t)
        self._air = Air(outside + 9 * sun, 65.0, 1013.25)
        self._water = Water(outside + 4, 6.0, 1400.0, 8.0, 300.0, 200.0)
        self._soil = 55.0

    # time ----------------------------------------------------------------------------
    def _hour(self, t: float) -> float:
        return self.world_clock.hour(self._started, t)

    def time_of_day(self) -> float:
        """The world's time of day now, seconds after midnight."""
        with self._lock:
            self._advance()
            return self.world_clock.seconds(self._started, self._t)

    def _sun(self, t: float) -> float:
        """0 at night, 1 at noon."""
        return max(0.0, math.sin(math.pi * (self._hour(t) - 6) / 12))

    def _outside_temperature(self, t: float) -> float:
        """The daily curve: coolest at 03:00, warmest at 15:00."""
        return 14.0 + 8.0 * math.sin(2 * math.pi * (self._hour(t) - 9) / 24)

    def _advance(self) -> None:
        now = self._clock()
        if now <= self._seen:
            return
        # The world runs `speed` times as fast as the host: a compressed day is a time-lapse
        # of all of it (sun, air, water, soil, noise), not of the sun alone.
        elapsed = (now - self._seen) * self.world_clock.speed
        self._seen = now
        if elapsed > MAX_CATCH_UP:
            self._t += elapsed - MAX_STEP
            elapsed = MAX_STEP
        while elapsed > 0:
            dt = min(MAX_STEP, elapsed)
            self._t += dt
            elapsed -= dt
            self._step(self._t, dt)

    def _step(self, t: float, dt: float) -> None:
        sun = self._sun(t)
        fan, lamp = self.outputs["fan"], self.outputs["grow_light"]
        valve, mister = self.outputs["valve"] > 0, self.outputs["mister"] > 0
        # Outside noise is part of the outside air, the greenhouse follows it.
        outside = self._outside_temperature(t) + self._outside_t.step(dt)
        gain = (9.0 * sun + 1.5 * lamp) * (1.0 - 0.75 * fan)
        air = self._air
        air.temperature = _relax(air.temperature, outside + gain, 900, dt)
        humidity_target = 72 - 1.8 * (air.temperature - 18) + 22 * mister - 12 * fan
        air.humidity = _relax(air.humidity, min(98.0, max(20.0, humidity_target)), 600, dt)
        air.pressure = 1013.25 + self._pressure.step(dt)
        water = self._water
        water.temperature = _relax(water.temperature, air.temperature - 2, 3 * 3600, dt)
        # Acid takes a couple of minutes to mix in; pH creeps back up over a day.
        mixed = self._acid_unmixed * (1 - math.exp(-dt / 120))
        self._acid_unmixed -= mixed
        water.ph = _relax(water.ph, 7.4, 24 * 3600, dt) - 0.03 * mixed
        water.ph = min(9.5, max(3.0, water.ph))
        water.ec = _relax(water.ec, 800, 7 * 24 * 3600, dt) + 0.5 * mixed
        water.do = 0.92 * do_saturation(water.temperature)
        water.orp = 300 + 45 * (7.0 - water.ph)
        if valve:
            water.level = max(0.0, water.level - 0.05 * dt)
            self._soil = min(95.0, self._soil + 0.3 * dt)
        drying = (0.5 + 1.5 * sun * max(0.0, air.temperature) / 25) / 3600
        self._soil = max(5.0, self._soil - drying * dt)
        # The noise processes advance with time whether or not anyone reads them.
        self._air_t.step(dt)
        self._air_h.step(dt)
        self._outside_h.step(dt)
        self._pressure_fast.step(dt)
        self._ph.step(dt)
        self._do.step(dt)
        self._orp.step(dt)
        self._light.step(dt)

    # reading the world ---------------------------------------------------------------
    def _pinned(self, name: str, value: float) -> float:
        return self.pins.get(name, value)

    def air(self) -> Air:
        with self._lock:
            self._advance()
            a = self._air
            return Air(
                self._pinned("air.temperature", a.temperature + self._air_t.value),
                self._pinned("air.humidity", min(100.0, max(0.0, a.humidity + self._air_h.value))),
                self._pinned("air.pressure", a.pressure + self._pressure_fast.value),
            )

    def outside(self) -> Air:
        with self._lock:
            self._advance()
            t = self._outside_temperature(self._t) + self._outside_t.value
            h = 85 - 2.2 * (t - 14) + self._outside_h.value
            return Air(
                self._pinned("outside.temperature", t),
                self._pinned("outside.humidity", min(100.0, max(15.0, h))),
                self._pinned("air.pressure", self._air.pressure),
            )

    def water(self) -> Water:
        with self._lock:
            self._advance()
            w = self._water
            return Water(
                self._pinned("water.temperature", w.temperature),
                self._pinned("water.ph", w.ph + self._ph.value),
                self._pinned("water.ec", w.ec),
                self._pinned("water.do", max(0.0, w.do + self._do.value)),
                self._pinned("water.orp", w.orp + self._orp.value),
                self._pinned("water.level", w.level),
            )

    def soil_moisture(self) -> float:
        """Volumetric water content of the bed, %."""
        with self._lock:
            self._advance()
            return self._pinned("soil.moisture", self._soil)

    def light(self) -> float:
        """Illuminance at the plants, lux."""
        with self._lock:
            self._advance()
            lux = (21000 * self._sun(self._t) + 12000 * self.outputs["grow_light"]) * (
                1 + self._light.value
            )
            return self._pinned("light", max(0.0, lux))

    # acting on it ----------------------------------------------------------------------
    def set_output(self, name: str, level: float) -> None:
        """An actuator's level, 0..1 (a PWM duty, a relay)."""
        if name not in self.outputs:
            raise KeyError(f"the simulated greenhouse has no output {name!r}")
        with self._lock:
            self._advance()
            self.outputs[name] = min(1.0, max(0.0, level))

    def dose_acid(self, ml: float) -> None:
        """The dosing pump added `ml` of pH-down to the reservoir (negative: took it back)."""
        with self._lock:
            self._advance()
            self.dosed_ml += ml
            self._acid_unmixed += ml

    def pin(self, name: str, value: float) -> None:
        """Hold a quantity at `value` (tests, demos); `unpin` lets physics have it back."""
        if name not in QUANTITIES:
            raise KeyError(f"unknown quantity {name!r} (known: {', '.join(QUANTITIES)})")
        with self._lock:
            self.pins[name] = value

    def unpin(self, name: str) -> None:
        with self._lock:
            self.pins.pop(name, None)
