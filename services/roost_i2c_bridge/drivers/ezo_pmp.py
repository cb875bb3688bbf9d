"""Atlas Scientific EZO-PMP peristaltic dosing pump (0x67).

Set `dose` (mL, negative runs the pump in reverse) to dispense a volume; switch
`dispensing` on to run continuously and off to stop; the methods dose a volume over a
number of minutes or at a constant rate. State is what the pump reports: the volume
requested (`D,?`), whether it is dispensing, what the current or last dose has dispensed
so far (`R`), the total since the last `clear_total` (`TV,?`), whether it is paused.
"""

from __future__ import annotations

import time
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

from roost.errors import CommandError, ErrorCode
from roost.models.meta import PropertySpec
from roost_i2c_bridge.drivers.base import Method, Values
from roost_i2c_bridge.drivers.ezo import (
    STATUS_REFRESH,
    EzoDriver,
    EzoOptions,
    EzoSyntaxError,
    fields,
    number,
)

MAX_DOSE = 1000.0  # mL in one command: a guard against a slipped digit, not the pump's limit


class PumpCalibration(BaseModel):
    """Dispense 10 mL (`dose` 10), measure what came out, give that as `value`."""

    model_config = ConfigDict(extra="forbid")

    point: Literal["volume", "clear"]
    value: float | None = Field(default=None, gt=0, le=MAX_DOSE)

    @model_validator(mode="after")
    def _value(self) -> Self:
        if self.point == "volume" and self.value is None:
            raise ValueError("calibration needs the measured volume in mL as value")
        return self


class DoseOverTime(BaseModel):
    model_config = ConfigDict(extra="forbid")

    volume: float = Field(ge=-MAX_DOSE, le=MAX_DOSE)
    minutes: int = Field(ge=1, le=1440)


class DoseAtRate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rate: float = Field(gt=-200, lt=200)  # mL/min; negative reverses
    minutes: int | None = Field(default=None, ge=1, le=1440)  # None: until stopped


class EzoPmp(EzoDriver[EzoOptions]):
    name = "ezo-pmp"
    model = "EZO-PMP"
    ezo_type = "PMP"
    options_model = EzoOptions
    read_delay = 0.3
    cal_delay = 0.3

    def reading_properties(self) -> dict[str, PropertySpec]:
        return {
            "dose": PropertySpec(
                kind="number",
                name="Dose",
                unit="mL",
                min=-MAX_DOSE,
                max=MAX_DOSE,
                step=0.01,
                precision=2,
                settable=True,
                out_of_range="reject",
                device_class="volume",
            ),
            "dispensing": PropertySpec(kind="switch", settable=True),
            "paused": PropertySpec(kind="switch", settable=True),
            "dispensed": PropertySpec(
                kind="number",
                name="Dispensed",
                unit="mL",
                precision=2,
                device_class="volume",
                state_class="total",
            ),
            "total_volume": PropertySpec(
                kind="number",
                name="Total volume",
                unit="mL",
                precision=2,
                device_class="volume",
                state_class="total",
            ),
            "max_flow_rate": PropertySpec(
                kind="number",
                unit="mL/min",
                precision=1,
                entity_category="diagnostic",
            ),
            "pump_voltage": PropertySpec(
                kind="number",
                unit="V",
                precision=1,
                device_class="voltage",
                entity_category="diagnostic",
            ),
        }

    def methods(self) -> list[Method]:
        return [
            *super().methods(),
            Method(
                "dose_over_time",
                self._dose_over_time,
                params=DoseOverTime,
                description="Dispense a volume (mL) evenly over a number of minutes",
            ),
            Method(
                "dose_at_rate",
                self._dose_at_rate,
                params=DoseAtRate,
                description="Dispense at a constant rate (mL/min) for minutes, or until stopped",
            ),
            Method("stop", self._stop, title="Stop", description="Stop dispensing"),
            Method(
                "clear_total",
                self._clear_total,
                title="Clear total volume",
                description="Set the total dispensed volume back to 0",
            ),
        ]

    def calibration_params(self) -> type[BaseModel]:
        return PumpCalibration

    def calibration_help(self) -> str:
        return "Dose 10 mL, measure it, then calibrate with the measured volume"

    def calibration_command(self, params: PumpCalibration) -> str:
        return "Cal,clear" if params.point == "clear" else f"Cal,{params.value:.2f}"

    def parse_reading(self, reply: str) -> Values:
        return {"dispensed": number(reply)}

    # the pump --------------------------------------------------------------------------
    async def _dosing(self) -> Values:
        values = fields(await self.query("D,?"), "D")
        return {
            "dose": number(values[0]) if values else None,
            "dispensing": len(values) > 1 and values[1].strip() == "1",
        }

    async def _state(self) -> Values:
        values = await self._dosing()
        values["dispensed"] = number(await self.query("R"))
        values["total_volume"] = number(fields(await self.query("TV,?"), "TV")[0])
        values["paused"] = fields(await self.query("P,?"), "P")[0].strip() == "1"
        return values

    async def setup_extra(self) -> Values:
        values = await self._state()
        values["max_flow_rate"] = number(fields(await self.query("DC,?"), "maxrate")[0])
        values["pump_voltage"] = number(fields(await self.query("PV,?"), "PV")[0])
        return values

    async def sample(self) -> Values:
        values = await self._state()
        if await self._status_due():
            values.update(await self._status())
            values["pump_voltage"] = number(fields(await self.query("PV,?"), "PV")[0])
        return values

    async def _status_due(self) -> bool:
        return time.monotonic() - self._status_at >= STATUS_REFRESH

    async def _run(self, command: str, prop: str | None = None) -> None:
        try:
            await self.query(command)
        except EzoSyntaxError:
            raise CommandError(
                ErrorCode.FAILED,
                f"the pump refused {command!r} (a dose already running? stop it first)",
                prop=prop,
            ) from None

    async def apply(self, values: Values) -> Values:
        rest = {k: v for k, v in values.items() if k not in ("dose", "dispensing", "paused")}
        out = await super().apply(rest) if rest else {}
        if values.get("dispensing") is False:
            await self._run("X", "dispensing")
        if "paused" in values:
            # `P` toggles: send it only when the pump is not already where it was asked.
            paused = fields(await self.query("P,?"), "P")[0].strip() == "1"
            if paused != values["paused"]:
                await self._run("P", "paused")
        if "dose" in values:
            volume = values["dose"]
            assert isinstance(volume, int | float)
            if volume == 0:
                raise CommandError(
                    ErrorCode.INVALID_VALUE, "a dose of 0 mL does nothing", prop="dose"
                )
            await self._run(f"D,{volume:.2f}", "dose")
        elif values.get("dispensing") is True:
            await self._run("D,*", "dispensing")
        out.update(await self._state())
        return out

    async def _dose_over_time(self, params: DoseOverTime) -> JsonValue:
        await self._run(f"D,{params.volume:.2f},{params.minutes}")
        state = await self._state()
        self.report(state)
        return dict(state)

    async def _dose_at_rate(self, params: DoseAtRate) -> JsonValue:
        minutes = "*" if params.minutes is None else str(params.minutes)
        await self._run(f"DC,{params.rate:.2f},{minutes}")
        state = await self._state()
        self.report(state)
        return dict(state)

    async def _stop(self, params: Any) -> JsonValue:
        await self._run("X")
        state = await self._state()
        self.report(state)
        return dict(state)

    async def _clear_total(self, params: Any) -> JsonValue:
        await self._run("Clear")
        state = await self._state()
        self.report(state)
        return dict(state)
