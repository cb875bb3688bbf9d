"""Atlas Scientific EZO-ORP (0x62): oxidation-reduction potential in mV, one-point calibration."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from roost.models.meta import PropertySpec
from roost_i2c_bridge.drivers.base import Values
from roost_i2c_bridge.drivers.ezo import EzoDriver, EzoOptions, number


class OrpCalibration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    point: Literal["single", "clear"]
    value: float | None = Field(default=None, ge=-1019.9, le=1019.9)

    @model_validator(mode="after")
    def _value(self) -> Self:
        if self.point == "single" and self.value is None:
            raise ValueError("calibration needs the calibration solution's mV as value")
        return self


class EzoOrp(EzoDriver[EzoOptions]):
    name = "ezo-orp"
    model = "EZO-ORP"
    ezo_type = "ORP"
    options_model = EzoOptions
    read_delay = 0.9
    cal_delay = 0.9

    def reading_properties(self) -> dict[str, PropertySpec]:
        return {
            "orp": PropertySpec(
                kind="number",
                name="ORP",
                unit="mV",
                precision=1,
                device_class="voltage",
                state_class="measurement",
                deadband=1.0,
            )
        }

    def parse_reading(self, reply: str) -> Values:
        return {"orp": number(reply)}

    def calibration_params(self) -> type[BaseModel]:
        return OrpCalibration

    def calibration_help(self) -> str:
        return "Calibrate in an ORP solution: value is its mV (e.g. 225)"

    def calibration_command(self, params: OrpCalibration) -> str:
        return "Cal,clear" if params.point == "clear" else f"Cal,{params.value:.1f}"
