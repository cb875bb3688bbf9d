"""Atlas Scientific EZO-EC (0x64): conductivity, TDS, salinity and specific gravity.

Which of the four a reading carries is the circuit's output setting (`O,?`); the ones it
leaves out read as unknown. Temperature compensation matters here: conductivity changes
about 2 % per °C.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from roost.models.meta import PropertySpec
from roost_i2c_bridge.drivers.base import Values
from roost_i2c_bridge.drivers.ezo import (
    EzoDriver,
    EzoOptions,
    enabled_outputs,
    fields,
    multi_reading,
    number,
)

OUTPUTS = {"EC": "conductivity", "TDS": "tds", "S": "salinity", "SG": "specific_gravity"}


class EcOptions(EzoOptions):
    probe_k: float | None = Field(default=None, ge=0.1, le=10.0)  # the probe's K (cell constant)


class EcCalibration(BaseModel):
    """`dry` first, then `single`, or `low` and `high` (values in µS/cm); `clear` forgets."""

    model_config = ConfigDict(extra="forbid")

    point: Literal["dry", "single", "low", "high", "clear"]
    value: float | None = Field(default=None, gt=0, le=500000)

    @model_validator(mode="after")
    def _value(self) -> Self:
        if self.point in ("single", "low", "high") and self.value is None:
            raise ValueError(f"the {self.point} point needs the solution's µS/cm as value")
        return self


class EzoEc(EzoDriver[EcOptions]):
    name = "ezo-ec"
    model = "EZO-EC"
    ezo_type = "EC"
    options_model = EcOptions
    read_delay = 0.6
    cal_delay = 0.6
    compensates_temperature = True

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.outputs: list[str] = list(OUTPUTS)

    def reading_properties(self) -> dict[str, PropertySpec]:
        return {
            "conductivity": PropertySpec(
                kind="number",
                unit="µS/cm",
                precision=0,
                device_class="conductivity",
                state_class="measurement",
                deadband=5,
            ),
            "tds": PropertySpec(
                kind="number", name="TDS", unit="ppm", precision=0, state_class="measurement"
            ),
            "salinity": PropertySpec(
                kind="number", unit="PSU", precision=2, state_class="measurement"
            ),
            "specific_gravity": PropertySpec(kind="number", precision=3, state_class="measurement"),
            "probe_k": PropertySpec(
                kind="number", name="Probe K", precision=2, entity_category="diagnostic"
            ),
        }

    async def setup_extra(self) -> Values:
        self.outputs = enabled_outputs(await self.query("O,?"), OUTPUTS)
        k = number(fields(await self.query("K,?"), "K")[0])
        wanted = self.options.probe_k
        if wanted is not None and (k is None or abs(k - wanted) > 1e-6):
            await self.query(f"K,{wanted:g}")
            k = number(fields(await self.query("K,?"), "K")[0])
        return {"probe_k": k}

    def parse_reading(self, reply: str) -> Values:
        return multi_reading(reply, self.outputs, OUTPUTS)

    def calibration_params(self) -> type[BaseModel]:
        return EcCalibration

    def calibration_help(self) -> str:
        return "Calibrate: dry first, then single or low and high in µS/cm solutions"

    def calibration_command(self, params: EcCalibration) -> str:
        if params.point in ("dry", "clear"):
            return f"Cal,{params.point}"
        if params.point == "single":
            return f"Cal,{params.value:g}"
        return f"Cal,{params.point},{params.value:g}"
