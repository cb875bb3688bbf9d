"""Atlas Scientific EZO circuits: the ASCII command/response protocol and what every EZO
driver shares.

A command is one i2c write of ASCII text. The circuit then needs its processing time
(300 ms for most commands, 600–1300 ms for readings and calibration), after which one
i2c read returns a status byte and a NUL-terminated ASCII reply: 1 success, 2 syntax
error, 254 still processing, 255 no data. The bus is free while the circuit thinks: the
driver sleeps without holding the bus lock and only the write and each read are bus
transactions. A read that comes too early (254) is repeated shortly after. The high bit of
reply bytes is cleared, as Atlas's own Raspberry Pi code does (clock stretching on the Pi
can set it).

Every EZO driver has the LED, sleep, restart reason and supply voltage (`Status`), its
calibration point count, `Find`, an arbitrary-command method for what roost does not
model, and, for the circuits that compensate for temperature, `T,<°C>` fed from a fixed
value or a link to a temperature device.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from roost.errors import CommandError, ErrorCode, TopicError
from roost.models.meta import PropertySpec
from roost.topics import check_device_id, check_name, check_node_id
from roost_i2c_bridge.drivers.base import (
    ChipError,
    Driver,
    DriverOptions,
    Identity,
    Method,
    Probe,
    Values,
)
from roost_i2c_bridge.i2c_bus import I2cBus

RESPONSE_LENGTH = 40
STATUS_OK, STATUS_SYNTAX, STATUS_PENDING, STATUS_NO_DATA = 1, 2, 254, 255
COMMAND_DELAY = 0.3  # s: the documented processing time of everything but R and Cal
POLL_INTERVAL = 0.1  # s between reads while the circuit answers 254
MAX_POLLS = 20
STATUS_REFRESH = 60.0  # s between `Status` reads (supply voltage)
# The factory addresses of the EZO circuits roost drives: DO, ORP, pH, EC, (0x65 is the
# EZO-FLO's neighbour, free), RTD, PMP.
EZO_ADDRESSES = (0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67)
RESTART_REASONS = {
    "P": "powered_off",
    "S": "software_reset",
    "B": "brown_out",
    "W": "watchdog",
    "U": "unknown",
}


class EzoSyntaxError(Exception):
    """The circuit answered status 2: it does not take this command."""


class EzoNoData(ChipError):
    """Status 255 where a reply was due: the circuit lost the command (it restarted?)."""


def decode(payload: bytes) -> str:
    """The ASCII reply after the status byte: up to the NUL, high bits cleared."""
    text = bytes(b & 0x7F for b in payload.split(b"\0", 1)[0])
    if any(not 0x20 <= b < 0x7F for b in text):
        raise ChipError(f"reply is not text: {payload[:16]!r}")
    return text.decode("ascii")


async def send(bus: I2cBus, address: int, command: str) -> None:
    """Write a command that has no reply (`Sleep`)."""
    await bus.write(address, command.encode("ascii"))


async def query(bus: I2cBus, address: int, command: str, delay: float | None = None) -> str:
    """Write `command`, wait its processing time (`COMMAND_DELAY` unless given), read the
    reply."""
    await bus.write(address, command.encode("ascii"))
    await asyncio.sleep(COMMAND_DELAY if delay is None else delay)
    for _ in range(MAX_POLLS):
        raw = await bus.read(address, RESPONSE_LENGTH)
        status = raw[0]
        if status == STATUS_PENDING:
            await asyncio.sleep(POLL_INTERVAL)
            continue
        if status == STATUS_OK:
            return decode(raw[1:])
        if status == STATUS_SYNTAX:
            raise EzoSyntaxError(f"{command!r}: the circuit answered 'syntax error'")
        if status == STATUS_NO_DATA:
            raise EzoNoData(f"{command!r}: the circuit has no reply (status 255)")
        raise ChipError(f"{command!r}: unknown status byte {status}")
    raise ChipError(f"{command!r}: still processing after {MAX_POLLS} polls")


def fields(reply: str, key: str) -> list[str]:
    """The values of a `?KEY,a,b` reply (keys compare without case)."""
    parts = reply.split(",")
    if parts[0].upper() != f"?{key.upper()}":
        raise ChipError(f"expected a ?{key} reply, got {reply!r}")
    return parts[1:]


def enabled_outputs(reply: str, known: Mapping[str, str]) -> list[str]:
    """The outputs an `O,?` reply says are on, of those `known` (DO and EC circuits)."""
    return [item.upper() for item in fields(reply, "O") if item.upper() in known]


def multi_reading(reply: str, enabled: list[str], known: Mapping[str, str]) -> Values:
    """A reading of a circuit with several outputs: each enabled output's value in the
    order the circuit sends them; outputs that are off are unknown."""
    values: Values = dict.fromkeys(known.values())
    for output, text in zip(enabled, reply.split(","), strict=False):
        values[known[output]] = number(text)
    return values


def number(text: str) -> float | None:
    """A reading's number; the circuit's own markers (`*OV`, `*UV`, `No output`) are None."""
    try:
        return float(text)
    except ValueError:
        if text.startswith("*") or text.lower().startswith("no"):
            return None
        raise ChipError(f"not a number: {text!r}") from None


async def info(probe: Probe) -> tuple[str, str] | None:
    """(type, firmware) from the circuit's `i` reply (`?I,pH,2.16`), asked once per scan."""
    if "ezo_info" not in probe.cache:
        try:
            reply = await query(probe.bus, probe.address, "i")
            parts = fields(reply, "I")
            probe.cache["ezo_info"] = (parts[0], parts[1] if len(parts) > 1 else "")
        except (OSError, ChipError, EzoSyntaxError, IndexError):
            probe.cache["ezo_info"] = None
    result: tuple[str, str] | None = probe.cache["ezo_info"]
    return result


class EzoOptions(DriverOptions):
    """Temperature compensation: a fixed temperature, or a link to a temperature device
    (`ezo-rtd-66/temperature` on this bridge, `node/device/prop` elsewhere)."""

    temperature: float | None = Field(default=None, ge=-20, le=150)
    temperature_source: str | None = None

    @model_validator(mode="after")
    def _one(self) -> EzoOptions:
        if self.temperature is not None and self.temperature_source is not None:
            raise ValueError("give temperature or temperature_source, not both")
        if self.temperature_source is not None:
            parts = self.temperature_source.split("/")
            if len(parts) not in (2, 3):
                raise ValueError("temperature_source is device/prop or node/device/prop")
            try:
                if len(parts) == 3:
                    check_node_id(parts[0])
                check_device_id(parts[-2])
                check_name(parts[-1])
            except TopicError as exc:
                raise ValueError(f"temperature_source: {exc}") from None
        return self


class CommandParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    command: str = Field(min_length=1, max_length=32, pattern=r"^[\x20-\x7e]+$")
    wait: float | None = Field(default=None, ge=0.3, le=5.0)  # s; None: 300 ms


OptionsT = TypeVar("OptionsT", bound=EzoOptions)


class EzoDriver(Driver[OptionsT]):
    """What every EZO circuit has; a subclass adds its reading, calibration and extras."""

    manufacturer = "Atlas Scientific"
    addresses = EZO_ADDRESSES
    ezo_type: ClassVar[str]  # as the `i` reply names it: "pH"
    read_delay: ClassVar[float] = 0.9
    cal_delay: ClassVar[float] = 0.9
    compensates_temperature: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._asleep = False
        self._compensation: float | None = None  # what the circuit says it uses
        self._wanted: float | None = self.options.temperature
        self._status_at = 0.0

    @classmethod
    async def identify(cls, probe: Probe) -> Identity | None:
        found = await info(probe)
        if found is None or found[0].upper() != cls.ezo_type.upper():
            return None
        return Identity(driver=cls.name, model=cls.model, firmware=found[1] or None)

    async def query(self, command: str, delay: float | None = None) -> str:
        self._asleep = False  # any command wakes a sleeping circuit
        return await query(self.bus, self.address, command, delay)

    # properties ----------------------------------------------------------------------
    def reading_properties(self) -> dict[str, PropertySpec]:
        raise NotImplementedError

    def properties(self) -> dict[str, PropertySpec]:
        props = dict(self.reading_properties())
        if self.compensates_temperature:
            props["temperature_compensation"] = PropertySpec(
                kind="number",
                name="Temperature compensation",
                unit="°C",
                min=-20,
                max=150,
                step=0.1,
                precision=1,
                settable=True,
                device_class="temperature",
                entity_category="config",
            )
        props.update(
            led=PropertySpec(kind="switch", name="LED", settable=True, entity_category="config"),
            sleep=PropertySpec(kind="switch", settable=True, entity_category="config"),
            calibration=PropertySpec(
                kind="number",
                name="Calibration points",
                precision=0,
                entity_category="diagnostic",
            ),
            vcc=PropertySpec(
                kind="number",
                name="Supply voltage",
                unit="V",
                precision=2,
                device_class="voltage",
                entity_category="diagnostic",
                deadband=0.05,
            ),
            restart_reason=PropertySpec(
                kind="enum",
                name="Restart reason",
                options=list(RESTART_REASONS.values()),
                entity_category="diagnostic",
            ),
        )
        return props

    def links(self) -> dict[str, str]:
        source = self.options.temperature_source
        return {"temperature": source} if source and self.compensates_temperature else {}

    def on_link(self, name: str, value: float) -> None:
        if name == "temperature":
            self._wanted = round(value, 1)

    # methods -------------------------------------------------------------------------
    def methods(self) -> list[Method]:
        return [
            Method(
                "calibrate",
                self._calibrate,
                params=self.calibration_params(),
                description=self.calibration_help(),
            ),
            Method("find", self._find, title="Find", description="Blink the LED to find it"),
            Method(
                "ezo_command",
                self._command,
                params=CommandParams,
                description="Send any EZO command and return its reply (see the datasheet)",
            ),
        ]

    def calibration_params(self) -> type[BaseModel]:
        raise NotImplementedError

    def calibration_help(self) -> str:
        return "Calibrate the probe"

    def calibration_command(self, params: Any) -> str:
        raise NotImplementedError

    async def _calibrate(self, params: Any) -> JsonValue:
        command = self.calibration_command(params)
        try:
            await self.query(command, self.cal_delay)
        except EzoSyntaxError:
            raise CommandError(
                ErrorCode.FAILED, f"the circuit refused {command!r}", prop="calibration"
            ) from None
        points = await self._calibration_points()
        changes: Values = {"calibration": points}
        changes.update(await self.after_calibration())
        self.report(changes)
        return {"command": command, **changes}

    async def after_calibration(self) -> Values:
        return {}

    async def _find(self, params: Any) -> JsonValue:
        await self.query("Find")
        return {"ok": True}

    async def _command(self, params: CommandParams) -> JsonValue:
        try:
            reply = await self.query(params.command, params.wait)
        except EzoSyntaxError as exc:
            raise CommandError(ErrorCode.FAILED, str(exc)) from None
        return {"reply": reply}

    # the chip --------------------------------------------------------------------------
    async def _calibration_points(self) -> int:
        values = fields(await self.query("Cal,?"), "CAL")
        return int(values[0])

    async def _status(self) -> Values:
        values = fields(await self.query("Status"), "STATUS")
        self._status_at = time.monotonic()
        return {
            "restart_reason": RESTART_REASONS.get(values[0].upper(), "unknown"),
            "vcc": number(values[1]) if len(values) > 1 else None,
        }

    async def _read_compensation(self) -> Values:
        self._compensation = number(fields(await self.query("T,?"), "T")[0])
        return {"temperature_compensation": self._compensation}

    async def setup_extra(self) -> Values:
        return {}

    async def setup(self) -> Values:
        values = await self._status()
        values["led"] = fields(await self.query("L,?"), "L")[0] == "1"
        values["sleep"] = False
        values["calibration"] = await self._calibration_points()
        if self.compensates_temperature:
            if self._wanted is not None:
                await self.query(f"T,{self._wanted:.1f}")
            values.update(await self._read_compensation())
        values.update(await self.setup_extra())
        return values

    def parse_reading(self, reply: str) -> Values:
        raise NotImplementedError

    async def sample(self) -> Values:
        values: Values = {}
        if (
            self.compensates_temperature
            and self._wanted is not None
            and (self._compensation is None or abs(self._wanted - self._compensation) >= 0.1)
        ):
            await self.query(f"T,{self._wanted:.1f}")
            values.update(await self._read_compensation())
        values.update(self.parse_reading(await self.query("R", self.read_delay)))
        if time.monotonic() - self._status_at >= STATUS_REFRESH:
            values.update(await self._status())
        return values

    @property
    def sleeping(self) -> bool:
        return self._asleep

    async def apply(self, values: Values) -> Values:
        out: Values = {}
        if values.get("sleep") is False and self._asleep:
            await self.query("i")  # any command wakes it
            out["sleep"] = False
        if "led" in values:
            await self.query(f"L,{1 if values['led'] else 0}")
            out["led"] = fields(await self.query("L,?"), "L")[0] == "1"
        if "temperature_compensation" in values and self.compensates_temperature:
            value = values["temperature_compensation"]
            assert isinstance(value, int | float)
            self._wanted = round(float(value), 1)
            await self.query(f"T,{self._wanted:.1f}")
            out.update(await self._read_compensation())
        if values.get("sleep") is True:
            await send(self.bus, self.address, "Sleep")
            self._asleep = True
            out["sleep"] = True
        elif "sleep" in values:
            out["sleep"] = self._asleep
        return out
