"""Simulated Atlas Scientific EZO circuits (pH, EC, DO, ORP, RTD) at the protocol level.

A write is an ASCII command; the reply is ready after the command's processing time. A read
before then gets status 254 (still processing), a read with nothing pending 255 (no data),
an unknown command status 2 (syntax error). `Sleep` has no reply and any later command
wakes the circuit. The probes have the errors calibration exists to remove: an
uncalibrated pH probe reads with an offset and a weak slope, and readings follow the
temperature compensation the circuit is told (`T,…`), so a wrong one shows.
"""

from __future__ import annotations

from typing import ClassVar

from roost_i2c_bridge.sim.chip import SimChip
from roost_i2c_bridge.sim.world import World, do_saturation

COMMAND_DELAY = 0.3
NO_DATA, PENDING, OK, SYNTAX = 255, 254, 1, 2


class SimEzo(SimChip):
    """What every simulated EZO circuit answers; subclasses add their readings."""

    ezo_type: ClassVar[str]
    firmware: ClassVar[str] = "2.16"
    command_delay: ClassVar[float] = COMMAND_DELAY
    read_delay: ClassVar[float] = 0.9
    cal_delay: ClassVar[float] = 0.9
    compensates_temperature: ClassVar[bool] = False

    def __init__(self, world: World, address: int) -> None:
        super().__init__(world, address)
        self.led = True
        self.asleep = False
        self.calibration_points = 0
        self.compensation = 25.0
        self.vcc = 5.02
        self.commands: list[str] = []
        self._pending: tuple[float, int, str] | None = None

    # the wire --------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        text = data.decode("ascii", errors="replace").strip()
        if not text:
            return  # an address probe (quick write)
        self.commands.append(text)
        self.asleep = False
        if text.lower() == "sleep":
            self.asleep = True
            self._pending = None
            return
        answer = self.handle(text)
        if answer is None:
            self._pending = (self.now() + self.command_delay, SYNTAX, "")
        else:
            delay, reply = answer
            self._pending = (self.now() + delay, OK, reply)

    def read(self, length: int) -> bytes:
        if self._pending is None:
            out = bytes([NO_DATA])
        elif self.now() < self._pending[0]:
            out = bytes([PENDING])
        else:
            _, status, reply = self._pending
            self._pending = None
            out = bytes([status]) + reply.encode("ascii") + b"\0"
        return out[:length].ljust(length, b"\0")

    # commands --------------------------------------------------------------------------
    def handle(self, text: str) -> tuple[float, str] | None:
        """(processing time, reply) for a command, or None for a syntax error."""
        name, *args = text.split(",")
        name = name.lower()
        if name == "i" and not args:
            return self.command_delay, f"?I,{self.ezo_type},{self.firmware}"
        if name == "status" and not args:
            return self.command_delay, f"?STATUS,P,{self.vcc:.3f}"
        if name == "l" and len(args) == 1:
            if args[0] == "?":
                return self.command_delay, f"?L,{int(self.led)}"
            if args[0] in ("0", "1"):
                self.led = args[0] == "1"
                return self.command_delay, ""
            return None
        if name == "find" and not args:
            return self.command_delay, ""
        if name == "r" and not args:
            return self.read_delay, self.reading()
        if name == "cal":
            if args == ["?"]:
                return self.command_delay, f"?CAL,{self.calibration_points}"
            if args == ["clear"]:
                self.calibration_points = 0
                self.clear_calibration()
                return self.cal_delay, ""
            return (self.cal_delay, "") if self.calibrate(args) else None
        if name == "t" and self.compensates_temperature and len(args) == 1:
            if args[0] == "?":
                return self.command_delay, f"?T,{self.compensation:.1f}"
            try:
                self.compensation = float(args[0])
            except ValueError:
                return None
            return self.command_delay, ""
        return self.handle_extra(name, args)

    def handle_extra(self, name: str, args: list[str]) -> tuple[float, str] | None:
        return None

    def reading(self) -> str:
        raise NotImplementedError

    def calibrate(self, args: list[str]) -> bool:
        return False

    def clear_calibration(self) -> None:
        pass


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class SimEzoPh(SimEzo):
    type = "ezo-ph"
    ezo_type = "pH"
    compensates_temperature = True

    def __init__(self, world: World, address: int) -> None:
        super().__init__(world, address)
        self.offset = 0.15  # pH units an uncalibrated probe is off by at 7
        self.acid_slope = 97.2  # % of the ideal response below 7
        self.base_slope = 96.5  # % above 7

    def reading(self) -> str:
        water = self.world.water()
        # The electrode's slope is proportional to absolute temperature: compensating for
        # the wrong temperature scales the distance from 7.
        nernst = (water.temperature + 273.15) / (self.compensation + 273.15)
        distance = (water.ph - 7.0) * nernst
        slope = (self.acid_slope if distance < 0 else self.base_slope) / 100
        return f"{7.0 + self.offset + distance * slope:.3f}"

    def calibrate(self, args: list[str]) -> bool:
        if len(args) != 2 or args[0].lower() not in ("mid", "low", "high"):
            return False
        if _float(args[1]) is None:
            return False
        point = args[0].lower()
        if point == "mid":
            self.offset = 0.0
            self.calibration_points = 1
            self.acid_slope, self.base_slope = 97.2, 96.5  # mid clears low and high
        elif point == "low":
            self.acid_slope = 100.0
            self.calibration_points = min(3, max(2, self.calibration_points + 1))
        else:
            self.base_slope = 100.0
            self.calibration_points = min(3, max(2, self.calibration_points + 1))
        return True

    def clear_calibration(self) -> None:
        self.offset, self.acid_slope, self.base_slope = 0.15, 97.2, 96.5

    def handle_extra(self, name: str, args: list[str]) -> tuple[float, str] | None:
        if name == "slope" and args == ["?"]:
            return self.command_delay, f"?Slope,{self.acid_slope:.1f},{self.base_slope:.1f},-0.89"
        return None


class SimEzoEc(SimEzo):
    type = "ezo-ec"
    ezo_type = "EC"
    read_delay = 0.6
    cal_delay = 0.6
    compensates_temperature = True
    OUTPUTS: ClassVar[tuple[str, ...]] = ("EC", "TDS", "S", "SG")

    def __init__(self, world: World, address: int) -> None:
        super().__init__(world, address)
        self.k = 1.0
        self.outputs = dict.fromkeys(self.OUTPUTS, True)

    def reading(self) -> str:
        water = self.world.water()
        actual = water.ec * (1 + 0.02 * (water.temperature - 25))
        ec = actual / (1 + 0.02 * (self.compensation - 25))
        salinity = ec / 1000 * 0.55
        parts = {
            "EC": f"{ec:.0f}" if ec >= 100 else f"{ec:.2f}",
            "TDS": f"{ec * 0.54:.0f}",
            "S": f"{salinity:.2f}",
            "SG": f"{1 + salinity * 0.00075:.3f}",
        }
        return ",".join(parts[name] for name in self.OUTPUTS if self.outputs[name])

    def calibrate(self, args: list[str]) -> bool:
        if args == ["dry"]:
            return True
        if len(args) == 1 and _float(args[0]) is not None:
            self.calibration_points = 1
            return True
        if len(args) == 2 and args[0].lower() in ("low", "high") and _float(args[1]) is not None:
            self.calibration_points = 2
            return True
        return False

    def handle_extra(self, name: str, args: list[str]) -> tuple[float, str] | None:
        if name == "o" and args == ["?"]:
            enabled = [n for n in self.OUTPUTS if self.outputs[n]]
            return self.command_delay, "?O," + (",".join(enabled) if enabled else "No output")
        if name == "o" and len(args) == 2 and args[0].upper() in self.outputs:
            self.outputs[args[0].upper()] = args[1] == "1"
            return self.command_delay, ""
        if name == "k" and len(args) == 1:
            if args[0] == "?":
                return self.command_delay, f"?K,{self.k:g}"
            value = _float(args[0])
            if value is None or not 0.1 <= value <= 10:
                return None
            self.k = value
            return self.command_delay, ""
        return None


class SimEzoDo(SimEzo):
    type = "ezo-do"
    ezo_type = "DO"
    read_delay = 0.6
    cal_delay = 1.3
    compensates_temperature = True

    def __init__(self, world: World, address: int) -> None:
        super().__init__(world, address)
        self.outputs = {"mg": True, "%": True}

    def reading(self) -> str:
        water = self.world.water()
        mg = water.do * do_saturation(self.compensation) / do_saturation(water.temperature)
        saturation = 100 * mg / do_saturation(self.compensation)
        parts = []
        if self.outputs["mg"]:
            parts.append(f"{mg:.2f}")
        if self.outputs["%"]:
            parts.append(f"{saturation:.1f}")
        return ",".join(parts)

    def calibrate(self, args: list[str]) -> bool:
        if args == ["0"]:
            self.calibration_points = 2
            return True
        return False

    def handle(self, text: str) -> tuple[float, str] | None:
        if text.lower() == "cal":  # atmospheric calibration has no argument
            self.calibration_points = max(1, self.calibration_points)
            return self.cal_delay, ""
        return super().handle(text)

    def handle_extra(self, name: str, args: list[str]) -> tuple[float, str] | None:
        if name == "o" and args == ["?"]:
            enabled = [n for n in ("mg", "%") if self.outputs[n]]
            return self.command_delay, "?O," + (",".join(enabled) if enabled else "No output")
        if name == "o" and len(args) == 2 and args[0].lower() in ("mg", "%"):
            self.outputs[args[0].lower()] = args[1] == "1"
            return self.command_delay, ""
        return None


class SimEzoOrp(SimEzo):
    type = "ezo-orp"
    ezo_type = "ORP"

    def reading(self) -> str:
        return f"{self.world.water().orp:.1f}"

    def calibrate(self, args: list[str]) -> bool:
        if len(args) == 1 and _float(args[0]) is not None:
            self.calibration_points = 1
            return True
        return False


class SimEzoRtd(SimEzo):
    type = "ezo-rtd"
    ezo_type = "RTD"
    read_delay = 0.6
    cal_delay = 0.6

    def __init__(self, world: World, address: int) -> None:
        super().__init__(world, address)
        self.scale = "c"

    def reading(self) -> str:
        celsius = self.world.water().temperature
        value = {"c": celsius, "k": celsius + 273.15, "f": celsius * 9 / 5 + 32}[self.scale]
        return f"{value:.3f}"

    def calibrate(self, args: list[str]) -> bool:
        if len(args) == 1 and _float(args[0]) is not None:
            self.calibration_points = 1
            return True
        return False

    def handle_extra(self, name: str, args: list[str]) -> tuple[float, str] | None:
        if name == "s" and len(args) == 1:
            if args[0] == "?":
                return self.command_delay, f"?S,{self.scale}"
            if args[0].lower() in ("c", "k", "f"):
                self.scale = args[0].lower()
                return self.command_delay, ""
        return None
