"""The simulated chips, by the type name config uses in `[[i2c.sim.chips]]`."""

from __future__ import annotations

from roost_i2c_bridge.sim.ads1115 import SimAds1115
from roost_i2c_bridge.sim.bme280 import SimBme280, SimBmp280
from roost_i2c_bridge.sim.chip import SimChip
from roost_i2c_bridge.sim.ezo import SimEzoDo, SimEzoEc, SimEzoOrp, SimEzoPh, SimEzoRtd
from roost_i2c_bridge.sim.ezo_pmp import SimEzoPmp
from roost_i2c_bridge.sim.mcp23017 import SimMcp23017
from roost_i2c_bridge.sim.pca9685 import SimPca9685
from roost_i2c_bridge.sim.sht31 import SimSht31

SIM_CHIPS: dict[str, type[SimChip]] = {
    cls.type: cls
    for cls in (
        SimBme280,
        SimBmp280,
        SimSht31,
        SimAds1115,
        SimPca9685,
        SimMcp23017,
        SimEzoPh,
        SimEzoEc,
        SimEzoDo,
        SimEzoOrp,
        SimEzoRtd,
        SimEzoPmp,
    )
}
