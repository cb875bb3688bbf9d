"""NXP PCA9685 16-channel 12-bit PWM controller (0x40–0x47).

Each channel is a settable duty (0–100 %) and an on/off switch; the chip's frequency (one
prescaler for all channels) is settable too. Setting a duty switches the channel on unless
the same command switches it off; switching off keeps the duty in the chip (the LEDn full-
off bit beats the count), so switching on again restores it. Everything reported is read
back from the chip's registers.

A restart of the bridge does not disturb the outputs: a chip that is awake (configured by
an earlier run) keeps its duties and frequency; only a chip in its power-on state (asleep)
is initialised.
"""

from __future__ import annotations

import asyncio

from pydantic import Field, field_validator

from roost.models.meta import PropertySpec
from roost_i2c_bridge.drivers.base import ChipError, Driver, DriverOptions, Identity, Probe, Values

MODE1, MODE2, LED0, ALL_LED_ON_L, PRESCALE = 0x00, 0x01, 0x06, 0xFA, 0xFE
RESTART, EXTCLK, AUTO_INCREMENT, SLEEP, ALLCALL = 0x80, 0x40, 0x20, 0x10, 0x01
INVRT, OUTDRV = 0x10, 0x04
FULL = 0x10  # bit 4 of LEDn_ON_H (full on) and LEDn_OFF_H (full off)
CHANNELS = 16
STEPS = 4096
OSCILLATOR = 25_000_000
MIN_PRESCALE, MAX_PRESCALE = 3, 255


def prescale_for(frequency: float, oscillator: int = OSCILLATOR) -> int:
    """The datasheet's prescale = round(osc / (4096 × f)) − 1, within 3..255."""
    value = round(oscillator / (STEPS * frequency)) - 1
    return max(MIN_PRESCALE, min(MAX_PRESCALE, value))


def frequency_of(prescale: int, oscillator: int = OSCILLATOR) -> float:
    return oscillator / (STEPS * (prescale + 1))


def channel_registers(duty: float, on: bool) -> list[int]:
    """LEDn_ON_L, ON_H, OFF_L, OFF_H for a duty in % (output rises at count 0)."""
    count = round(duty / 100 * STEPS)
    on_h = 0
    if count >= STEPS:
        on_h, count = FULL, 0
    off_h = (count >> 8) & 0x0F | (0 if on else FULL)
    return [0, on_h, count & 0xFF, off_h]


def decode_channel(regs: list[int]) -> tuple[float, bool]:
    """(duty %, on) from a channel's four registers."""
    on_l, on_h, off_l, off_h = regs
    if on_h & FULL:
        duty = 100.0
    else:
        on_count = on_l | (on_h & 0x0F) << 8
        off_count = off_l | (off_h & 0x0F) << 8
        duty = ((off_count - on_count) % STEPS) / STEPS * 100
    return duty, not off_h & FULL


class Pca9685Options(DriverOptions):
    frequency: float | None = Field(default=None, ge=24, le=1526)  # None: keep the chip's
    oscillator: int = Field(default=OSCILLATOR, ge=20_000_000, le=30_000_000)
    channels: dict[int, str] = Field(default_factory=dict)  # channel → name ("Fan")
    invert: bool = False  # MODE2 INVRT: outputs inverted (LEDs to the supply)
    open_drain: bool = False  # MODE2 OUTDRV cleared: open-drain instead of totem pole

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: dict[int, str]) -> dict[int, str]:
        bad = [n for n in value if not 0 <= n < CHANNELS]
        if bad:
            raise ValueError(f"channels are 0..15, not {bad}")
        return value


class Pca9685(Driver[Pca9685Options]):
    name = "pca9685"
    model = "PCA9685"
    manufacturer = "NXP"
    addresses = (0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47)
    options_model = Pca9685Options

    @classmethod
    async def identify(cls, probe: Probe) -> Identity | None:
        bus, address = probe.bus, probe.address
        mode2 = await bus.read_byte_data(address, MODE2)
        prescale = await bus.read_byte_data(address, PRESCALE)
        # MODE2's top three bits are reserved and read 0; the prescaler cannot hold < 3.
        if mode2 & 0xE0 or prescale < MIN_PRESCALE:
            return None
        return Identity(driver=cls.name, model=cls.model)

    def properties(self) -> dict[str, PropertySpec]:
        props = {
            "frequency": PropertySpec(
                kind="number",
                unit="Hz",
                min=24,
                max=1526,
                step=1,
                precision=0,
                settable=True,
                device_class="frequency",
                entity_category="config",
            )
        }
        for n in range(CHANNELS):
            label = self.options.channels.get(n)
            props[f"ch{n}_duty"] = PropertySpec(
                kind="number",
                name=f"{label} duty" if label else f"Channel {n} duty",
                unit="%",
                min=0,
                max=100,
                step=0.1,
                precision=1,
                settable=True,
            )
            props[f"ch{n}_on"] = PropertySpec(
                kind="switch", name=label or f"Channel {n}", settable=True
            )
        return props

    @property
    def _mode2(self) -> int:
        return (INVRT if self.options.invert else 0) | (0 if self.options.open_drain else OUTDRV)

    async def setup(self) -> Values:
        bus, address = self.bus, self.address
        mode1 = await bus.read_byte_data(address, MODE1)
        if await bus.read_byte_data(address, MODE2) != self._mode2:
            await bus.write_byte_data(address, MODE2, self._mode2)
        wanted = self.options.frequency
        if mode1 & SLEEP:
            # Power-on state: set the prescaler while asleep (the only time it is taken),
            # then wake with register auto-increment on.
            if wanted is not None:
                await bus.write_byte_data(
                    address, PRESCALE, prescale_for(wanted, self.options.oscillator)
                )
            await bus.write_byte_data(address, MODE1, AUTO_INCREMENT | ALLCALL)
            await asyncio.sleep(0.0005)  # the oscillator needs 500 µs to start
        else:
            if not mode1 & AUTO_INCREMENT:
                await bus.write_byte_data(address, MODE1, (mode1 & ~RESTART) | AUTO_INCREMENT)
            if wanted is not None:
                await self._set_frequency(wanted)
        if not await bus.read_byte_data(address, MODE1) & AUTO_INCREMENT:
            raise ChipError("MODE1 does not keep auto-increment")
        return await self._read_all()

    async def sample(self) -> Values:
        return await self._read_all()

    async def _read_all(self) -> Values:
        bus, address = self.bus, self.address
        regs = await bus.read_block(address, LED0, 32) + await bus.read_block(
            address, LED0 + 32, 32
        )
        values: Values = {}
        for n in range(CHANNELS):
            duty, on = decode_channel(regs[4 * n : 4 * n + 4])
            values[f"ch{n}_duty"] = duty
            values[f"ch{n}_on"] = on
        prescale = await bus.read_byte_data(address, PRESCALE)
        values["frequency"] = frequency_of(prescale, self.options.oscillator)
        return values

    async def _set_frequency(self, frequency: float) -> None:
        bus, address = self.bus, self.address
        prescale = prescale_for(frequency, self.options.oscillator)
        if await bus.read_byte_data(address, PRESCALE) == prescale:
            return
        old = await bus.read_byte_data(address, MODE1) & ~RESTART
        await bus.write_byte_data(address, MODE1, old | SLEEP)
        await bus.write_byte_data(address, PRESCALE, prescale)
        await bus.write_byte_data(address, MODE1, old)
        await asyncio.sleep(0.0005)
        await bus.write_byte_data(address, MODE1, old | RESTART)  # restart the PWM channels

    async def apply(self, values: Values) -> Values:
        bus, address = self.bus, self.address
        out: Values = {}
        if "frequency" in values:
            value = values["frequency"]
            assert isinstance(value, int | float)
            await self._set_frequency(float(value))
            prescale = await bus.read_byte_data(address, PRESCALE)
            out["frequency"] = frequency_of(prescale, self.options.oscillator)
        for n in range(CHANNELS):
            duty_key, on_key = f"ch{n}_duty", f"ch{n}_on"
            if duty_key not in values and on_key not in values:
                continue
            register = LED0 + 4 * n
            duty, on = decode_channel(await bus.read_block(address, register, 4))
            if duty_key in values:
                new_duty = values[duty_key]
                assert isinstance(new_duty, int | float)
                duty, on = float(new_duty), True
            if on_key in values:
                on = bool(values[on_key])
            await bus.write_block(address, register, channel_registers(duty, on))
            duty, on = decode_channel(await bus.read_block(address, register, 4))
            out[duty_key], out[on_key] = duty, on
        return out
