"""Atlas Scientific EZO-pH (0x63): pH with temperature compensation, 1–3 point calibration."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from roost.models.meta import PropertySpec
from roost_i2c_bridge.drivers.base import Values
from roost_i2c_bridge.drivers.ezo import EzoDriver, EzoOptions, EzoSyntaxError, fields, number


class PhCalibration(BaseModel):
    """`mid` first (it clears `low` and `high`), then `low` and `high`; `clear` forgets all."""

    model_config = ConfigDict(extra="forbid")

    point: Literal["mid", "low", "high", "clear"]
    value: float | None = Field(default=None, ge=0, le=14)

    @model_validator(mode="after")
    def _value(self) -> Self:
        if self.point != "clear" and self.value is None:
            raise ValueError(f"calibrating the {self.point} point needs the buffer's pH as value")
        return self


class EzoPh(EzoDriver[EzoOptions]):
    name = "ezo-ph"
    model = "EZO-pH"
    ezo_type = "pH"
    options_model = EzoOptions
    read_delay = 0.9
    cal_delay = 0.9
    compensates_temperature = True

    def reading_properties(self) -> dict[str, PropertySpec]:
        return {
            "ph": PropertySpec(
                kind="number",
                name="pH",
                precision=2,
                device_class="ph",
                state_class="measurement",
                deadband=0.01,
            ),
            "acid_slope": PropertySpec(
                kind="number", unit="%", precision=1, entity_category="diagnostic"
            ),
            "base_slope": PropertySpec(
                kind="number", unit="%", precision=1, entity_category="diagnostic"
            ),
        }

    def parse_reading(self, reply: str) -> Values:
        return {"ph": number(reply)}

    def calibration_params(self) -> type[BaseModel]:
        return PhCalibration

    def calibration_help(self) -> str:
        return "Calibrate in a buffer: point mid (7.00) first, then low (4.00) and high (10.00)"

    def calibration_command(self, params: PhCalibration) -> str:
        if params.point == "clear":
            return "Cal,clear"
        return f"Cal,{params.point},{params.value:.2f}"

    async def _slopes(self) -> Values:
        try:
            values = fields(await self.query("Slope,?"), "Slope")
        except EzoSyntaxError:  # firmware before slopes were reported
            return {}
        return {
            "acid_slope": number(values[0]),
            "base_slope": number(values[1]) if len(values) > 1 else None,
        }

    async def setup_extra(self) -> Values:
        return await self._slopes()

    async def after_calibration(self) -> Values:
        return await self._slopes()
