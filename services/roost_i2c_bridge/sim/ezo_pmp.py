"""A simulated EZO-PMP dosing pump: volume, volume over time, constant rate, continuous,
pause and stop, with totals; what it pumps goes into the greenhouse reservoir as pH-down."""

from __future__ import annotations

import math

from roost_i2c_bridge.sim.ezo import SimEzo
from roost_i2c_bridge.sim.world import World

MAX_RATE = 105.0  # mL/min at 12 V


def _float(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class SimEzoPmp(SimEzo):
    type = "ezo-pmp"
    ezo_type = "PMP"
    firmware = "1.06"
    read_delay = 0.3
    cal_delay = 0.3

    def __init__(self, world: World, address: int) -> None:
        super().__init__(world, address)
        self.requested = 0.0  # mL of the current or last dose
        self.dispensed = 0.0  # mL dispensed by it so far
        self.total = 0.0
        self.absolute_total = 0.0
        self.rate = 0.0  # mL/min while active, signed
        self.target: float | None = None  # |mL| to stop at; None: until stopped
        self.active = False
        self.paused = False
        self._at = self.now()

    def _advance(self) -> None:
        now = self.now()
        dt, self._at = now - self._at, now
        if not self.active or self.paused or dt <= 0:
            return
        step = self.rate * dt / 60
        if self.target is not None and abs(self.dispensed + step) >= self.target:
            step = math.copysign(self.target, self.rate) - self.dispensed
            self.active = False
        self.dispensed += step
        self.total += step
        self.absolute_total += abs(step)
        self.world.dose_acid(step)

    def _start(self, rate: float, target: float | None, requested: float | None) -> None:
        self.dispensed = 0.0
        self.rate = rate
        self.target = target
        self.active = True
        self.paused = False
        if requested is not None:
            self.requested = requested

    def write(self, data: bytes) -> None:
        self._advance()
        super().write(data)

    def read(self, length: int) -> bytes:
        self._advance()
        return super().read(length)

    def reading(self) -> str:
        return f"{self.dispensed:.2f}"

    def calibrate(self, args: list[str]) -> bool:
        if len(args) == 1 and (value := _float(args[0])) is not None and value > 0:
            self.calibration_points |= 1
            return True
        return False

    def handle_extra(self, name: str, args: list[str]) -> tuple[float, str] | None:
        busy = self.active
        if name == "d" and args == ["?"]:
            return self.command_delay, f"?D,{self.requested:.2f},{int(self.active)}"
        if name == "d" and len(args) == 1 and args[0] in ("*", "-*"):
            if busy:
                return None
            self._start(-MAX_RATE if args[0] == "-*" else MAX_RATE, None, None)
            return self.command_delay, ""
        if name == "d" and len(args) in (1, 2):
            volume = _float(args[0])
            minutes = _float(args[1]) if len(args) == 2 else None
            if busy or volume is None or volume == 0 or (len(args) == 2 and not minutes):
                return None
            rate = volume / minutes if minutes else math.copysign(MAX_RATE, volume)
            if abs(rate) > MAX_RATE:
                return None
            self._start(rate, abs(volume), volume)
            return self.command_delay, ""
        if name == "dc" and args == ["?"]:
            return self.command_delay, f"?maxrate,{MAX_RATE:.2f}"
        if name == "dc" and len(args) == 2:
            flow = _float(args[0])
            if busy or flow is None or flow == 0 or abs(flow) > MAX_RATE:
                return None
            if args[1] == "*":
                self._start(flow, None, None)
            else:
                minutes = _float(args[1])
                if not minutes or minutes < 0:
                    return None
                self._start(flow, abs(flow) * minutes, flow * minutes)
            return self.command_delay, ""
        if name == "x" and not args:
            self.active = False
            self.paused = False
            return self.command_delay, f"*DONE,{self.dispensed:.2f}"
        if name == "p" and not args:
            if not self.active:
                return None
            self.paused = not self.paused
            return self.command_delay, ""
        if name == "p" and args == ["?"]:
            return self.command_delay, f"?P,{int(self.paused)}"
        if name == "tv" and args == ["?"]:
            return self.command_delay, f"?TV,{self.total:.2f}"
        if name == "atv" and args == ["?"]:
            return self.command_delay, f"?ATV,{self.absolute_total:.2f}"
        if name == "clear" and not args:
            self.total = 0.0
            return self.command_delay, ""
        if name == "pv" and args == ["?"]:
            return self.command_delay, "?PV,12.1"
        return None
