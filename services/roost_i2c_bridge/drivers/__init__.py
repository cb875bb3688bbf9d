"""The chip drivers, by name. Adding a chip is adding a module here and a line below.

Order matters where drivers share addresses: identification tries them in this order.
"""

from __future__ import annotations

from typing import Any

from roost_i2c_bridge.drivers.ads1115 import Ads1115
from roost_i2c_bridge.drivers.base import Driver
from roost_i2c_bridge.drivers.bme280 import Bme280, Bmp280
from roost_i2c_bridge.drivers.ezo_do import EzoDo
from roost_i2c_bridge.drivers.ezo_ec import EzoEc
from roost_i2c_bridge.drivers.ezo_orp import EzoOrp
from roost_i2c_bridge.drivers.ezo_ph import EzoPh
from roost_i2c_bridge.drivers.ezo_pmp import EzoPmp
from roost_i2c_bridge.drivers.ezo_rtd import EzoRtd
from roost_i2c_bridge.drivers.mcp23017 import Mcp23017
from roost_i2c_bridge.drivers.pca9685 import Pca9685
from roost_i2c_bridge.drivers.sht31 import Sht31

DriverClass = type[Driver[Any]]

DRIVERS: dict[str, DriverClass] = {
    cls.name: cls
    for cls in (
        Bme280,
        Bmp280,
        Sht31,
        Ads1115,
        Pca9685,
        EzoPh,
        EzoEc,
        EzoDo,
        EzoOrp,
        EzoRtd,
        EzoPmp,
        Mcp23017,
    )
}


def candidates(address: int) -> list[DriverClass]:
    """The drivers a scan asks about a chip answering at `address`."""
    return [d for d in DRIVERS.values() if d.auto_identify and address in d.addresses]


def known_addresses() -> list[int]:
    return sorted({a for d in DRIVERS.values() if d.auto_identify for a in d.addresses})
