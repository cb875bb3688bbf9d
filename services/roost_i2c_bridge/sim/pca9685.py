"""A simulated PCA9685: its register file with the chip's rules, and its outputs driving the
greenhouse (channel 0 the fan, channel 1 the grow light).

Rules kept: power-on values (MODE1 0x11 asleep, every channel full-off, prescale 0x1E),
auto-increment only with MODE1's AI bit, the prescaler only writable while asleep,
ALL_LED registers writing every channel and reading 0, RESTART cleared by writing 1.
"""

from __future__ import annotations

from typing import ClassVar

from roost_i2c_bridge.sim.chip import RegisterChip
from roost_i2c_bridge.sim.world import World

MODE1, MODE2, LED0, ALL_LED, PRESCALE = 0x00, 0x01, 0x06, 0xFA, 0xFE
RESTART, AUTO_INCREMENT, SLEEP = 0x80, 0x20, 0x10
FULL = 0x10


class SimPca9685(RegisterChip):
    type = "pca9685"
    wiring: ClassVar[dict[int, str]] = {0: "fan", 1: "grow_light"}

    def __init__(self, world: World, address: int) -> None:
        super().__init__(world, address)
        self.power_on()

    def power_on(self) -> None:
        self.regs[:] = bytes(256)
        self.regs[MODE1] = 0x11
        self.regs[MODE2] = 0x04
        for n in range(16):
            self.regs[LED0 + 4 * n + 3] = FULL
        self.regs[PRESCALE] = 0x1E
        self._drive()

    def next_register(self, register: int, *, writing: bool) -> int:
        if not self.regs[MODE1] & AUTO_INCREMENT:
            return register
        return 0 if register >= 0xFF else register + 1

    def read_register(self, register: int) -> int:
        if ALL_LED <= register <= ALL_LED + 3:
            return 0
        return self.regs[register]

    def write_register(self, register: int, value: int) -> None:
        if register == MODE1:
            restart = self.regs[MODE1] & RESTART and not value & RESTART
            self.regs[MODE1] = (value & ~RESTART) | (RESTART if restart else 0)
        elif register == PRESCALE:
            if self.regs[MODE1] & SLEEP:
                self.regs[PRESCALE] = max(3, value)
        elif ALL_LED <= register <= ALL_LED + 3:
            for n in range(16):
                self.regs[LED0 + 4 * n + register - ALL_LED] = value
        elif 0x02 <= register < ALL_LED:
            self.regs[register] = value
        self._drive()

    def duty(self, channel: int) -> float:
        """The output's high fraction as the pin would show it (0 while asleep)."""
        on_l, on_h, off_l, off_h = self.regs[LED0 + 4 * channel : LED0 + 4 * channel + 4]
        if self.regs[MODE1] & SLEEP or off_h & FULL:
            return 0.0
        if on_h & FULL:
            return 1.0
        on = on_l | (on_h & 0x0F) << 8
        off = off_l | (off_h & 0x0F) << 8
        return ((off - on) % 4096) / 4096

    def _drive(self) -> None:
        for channel, output in self.wiring.items():
            self.world.set_output(output, self.duty(channel))
