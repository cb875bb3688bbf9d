"""A simulated MCP23017 (IOCON.BANK=0 register map) wired to the greenhouse: A0 the
irrigation valve, A1 the mister (relays, active high); B0 the reservoir float switch
(closed to ground when the level is low, so it reads high with a pull-up while full)."""

from __future__ import annotations

from typing import ClassVar

from roost_i2c_bridge.sim.chip import RegisterChip
from roost_i2c_bridge.sim.world import World

IODIRA, IODIRB, IPOLA, IPOLB = 0x00, 0x01, 0x02, 0x03
GPPUA, GPPUB, GPIOA, GPIOB, OLATA, OLATB = 0x0C, 0x0D, 0x12, 0x13, 0x14, 0x15
IOCON_A, IOCON_B = 0x0A, 0x0B


class SimMcp23017(RegisterChip):
    type = "mcp23017"
    wiring: ClassVar[dict[int, str]] = {0: "valve", 1: "mister"}  # port A bit → output

    def __init__(self, world: World, address: int) -> None:
        super().__init__(world, address)
        self.regs[IODIRA] = self.regs[IODIRB] = 0xFF

    def _inputs(self) -> int:
        """External levels on A|B<<8 for pins that are inputs (floating pins read 0)."""
        full = self.world.water().level > 50
        pulled = self.regs[GPPUA] | self.regs[GPPUB] << 8
        levels = pulled
        if not full:
            levels &= ~(1 << 8)  # the float switch pulls B0 low
        return levels

    def read_register(self, register: int) -> int:
        if register in (GPIOA, GPIOB):
            shift = 0 if register == GPIOA else 8
            iodir = self.regs[register - GPIOA + IODIRA]
            ipol = self.regs[register - GPIOA + IPOLA]
            olat = self.regs[register - GPIOA + OLATA]
            external = self._inputs() >> shift & 0xFF
            return (external ^ ipol) & iodir | olat & ~iodir & 0xFF
        if register > 0x15:
            return 0
        return self.regs[register]

    def write_register(self, register: int, value: int) -> None:
        if register in (GPIOA, GPIOB):
            register += OLATA - GPIOA
        if register in (IOCON_A, IOCON_B):
            self.regs[IOCON_A] = self.regs[IOCON_B] = value & 0xFE
        elif register <= 0x15 and register not in (0x0E, 0x0F, 0x10, 0x11):
            self.regs[register] = value
        self._drive()

    def _drive(self) -> None:
        outputs = self.regs[OLATA] & ~self.regs[IODIRA]
        for bit, name in self.wiring.items():
            self.world.set_output(name, 1.0 if outputs >> bit & 1 else 0.0)
