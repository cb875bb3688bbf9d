"""Atlas Scientific EZO-RTD (0x66): PT-100/PT-1000 temperature, one-point calibration.

Readings are reported in °C whatever scale the circuit is set to (`S,?`). With no probe
attached the circuit reads -1023, which is reported as unknown, not as a temperature.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from roost.models.meta import PropertySpec
from roost_i2c_bridge.drivers.base import Values
from roost_i2c_bridge.drivers.ezo import EzoDriver, EzoOptions, fields, number

NO_PROBE = -1023.0


class RtdCalibration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    point: Literal["single", "clear"]
    value: float | None = Field(default=None, ge=-126, le=1254)  # °C

    @model_validator(mode="after")
    def _value(self) -> Self:
        if self.point == "single" and self.value is None:
            raise ValueError("calibration needs the reference temperature in °C as value")
        return self


class EzoRtd(EzoDriver[EzoOptions]):
    name = "ezo-rtd"
    model = "EZO-RTD"
    ezo_type = "RTD"
    options_model = EzoOptions
    read_delay = 0.6
    cal_delay = 0.6
    scale = "c"

    def reading_properties(self) -> dict[str, PropertySpec]:
        return {
            "temperature": PropertySpec(
                kind="number",
                unit="°C",
                precision=2,
                device_class="temperature",
                state_class="measurement",
                deadband=0.05,
            )
        }

    async def setup_extra(self) -> Values:
        self.scale = fields(await self.query("S,?"), "S")[0].lower()
        return {}

    def _to_celsius(self, value: float) -> float:
        if self.scale == "k":
            return value - 273.15
        if self.scale == "f":
            return (value - 32) * 5 / 9
        return value

    def _from_celsius(self, value: float) -> float:
        if self.scale == "k":
            return value + 273.15
        if self.scale == "f":
            return value * 9 / 5 + 32
        return value

    def parse_reading(self, reply: str) -> Values:
        value = number(reply)
        if value is None or value <= NO_PROBE:
            return {"temperature": None}
        return {"temperature": self._to_celsius(value)}

    def calibration_params(self) -> type[BaseModel]:
        return RtdCalibration

    def calibration_help(self) -> str:
        return "Calibrate against a reference: value is its temperature in °C"

    def calibration_command(self, params: RtdCalibration) -> str:
        if params.point == "clear" or params.value is None:
            return "Cal,clear"
        return f"Cal,{self._from_celsius(params.value):.2f}"
