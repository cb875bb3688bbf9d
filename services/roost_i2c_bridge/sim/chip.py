"""A simulated chip at the wire level: it sees i2c write and read messages, nothing else.

The simulated bus turns every smbus2 call into the messages the kernel would put on the
wire (`read_byte_data(a, r)` is a write of `[r]` then a read of one byte), so a simulated
chip behaves like the real one whichever smbus2 call a driver uses. A chip that does not
acknowledge raises `Nack`.
"""

from __future__ import annotations

import time
from typing import ClassVar

from roost_i2c_bridge.sim.world import World


class Nack(Exception):
    """The chip did not acknowledge (busy, or a byte it refuses)."""


class SimChip:
    """Base of the simulated chips; `type` is the name config uses (`[[i2c.sim.chips]]`)."""

    type: ClassVar[str]

    def __init__(self, world: World, address: int) -> None:
        self.world = world
        self.address = address

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address:#04x})"

    @staticmethod
    def now() -> float:
        return time.monotonic()

    def write(self, data: bytes) -> None:
        """One write message (the address byte already acknowledged)."""

    def read(self, length: int) -> bytes:
        """One read message of `length` bytes."""
        return bytes(length)


class RegisterChip(SimChip):
    """A chip with 8-bit registers behind a pointer: a write sets the pointer and writes
    on from there, a read reads on from the pointer (the common register-file chip)."""

    def __init__(self, world: World, address: int) -> None:
        super().__init__(world, address)
        self.regs = bytearray(256)
        self.pointer = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.pointer = data[0]
        for value in data[1:]:
            self.write_register(self.pointer, value)
            self.pointer = self.next_register(self.pointer, writing=True)

    def read(self, length: int) -> bytes:
        out = bytearray()
        for _ in range(length):
            out.append(self.read_register(self.pointer))
            self.pointer = self.next_register(self.pointer, writing=False)
        return bytes(out)

    def read_register(self, register: int) -> int:
        return self.regs[register]

    def write_register(self, register: int, value: int) -> None:
        self.regs[register] = value

    def next_register(self, register: int, *, writing: bool) -> int:
        return (register + 1) & 0xFF
