"""Atlas Scientific EZO-DO (0x61): dissolved oxygen in mg/L and % saturation.

Which of the two a reading carries is the circuit's output setting (`O,?`). Calibrate in
air (`atmospheric`) and optionally in a zero-oxygen solution (`zero`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from roost.models.meta import PropertySpec
from roost_i2c_bridge.drivers.base import Values
from roost_i2c_bridge.drivers.ezo import (
    EzoDriver,
    EzoOptions,
    enabled_outputs,
    multi_reading,
)

OUTPUTS = {"MG": "dissolved_oxygen", "%": "saturation"}


class DoCalibration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    point: Literal["atmospheric", "zero", "clear"]


class EzoDo(EzoDriver[EzoOptions]):
    name = "ezo-do"
    model = "EZO-DO"
    ezo_type = "DO"
    options_model = EzoOptions
    read_delay = 0.6
    cal_delay = 1.3
    compensates_temperature = True

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.outputs: list[str] = ["MG"]

    def reading_properties(self) -> dict[str, PropertySpec]:
        return {
            "dissolved_oxygen": PropertySpec(
                kind="number",
                unit="mg/L",
                precision=2,
                state_class="measurement",
                deadband=0.05,
            ),
            "saturation": PropertySpec(
                kind="number", unit="%", precision=1, state_class="measurement"
            ),
        }

    async def setup_extra(self) -> Values:
        self.outputs = enabled_outputs(await self.query("O,?"), OUTPUTS)
        return {}

    def parse_reading(self, reply: str) -> Values:
        return multi_reading(reply, self.outputs, OUTPUTS)

    def calibration_params(self) -> type[BaseModel]:
        return DoCalibration

    def calibration_help(self) -> str:
        return "Calibrate: atmospheric (probe in air), zero (in zero-oxygen solution), clear"

    def calibration_command(self, params: DoCalibration) -> str:
        return {"atmospheric": "Cal", "zero": "Cal,0", "clear": "Cal,clear"}[params.point]
