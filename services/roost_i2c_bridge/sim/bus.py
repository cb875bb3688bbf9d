"""A simulated i2c bus: smbus2's `SMBus` with its transfers answered by simulated chips.

`SimBus` overrides every transfer method of `smbus2.SMBus` and turns each call into the
i2c messages the kernel would send (a register write, a repeated start, a read), handed to
the chip at that address. Nothing else changes for the drivers: they make exactly the calls
they make on a Raspberry Pi. An address with no chip does not acknowledge: `OSError` errno
121 (`EREMOTEIO`), as on real hardware.

Fault injection, per address, for tests and demos: `nack` (the chip stops acknowledging),
`timeout` (the transfer hangs, then ETIMEDOUT), `garbage` (reads return random bytes), and
`unplug`/`plug` (the chip disappears and comes back, keeping its registers).
"""

from __future__ import annotations

import ctypes
import errno
import os
import random
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from smbus2 import I2cFunc, SMBus, i2c_msg
from smbus2.smbus2 import I2C_M_RD

from roost_i2c_bridge.sim.chip import Nack, SimChip
from roost_i2c_bridge.sim.world import World

TIMEOUT_DELAY = 0.2  # s a hung transfer blocks before the adapter gives up


class Fault(StrEnum):
    NONE = "none"
    NACK = "nack"
    TIMEOUT = "timeout"
    GARBAGE = "garbage"


@dataclass
class _Injected:
    fault: Fault
    remaining: int | None  # transactions still affected; None: until cleared


def _error(code: int) -> OSError:
    return OSError(code, os.strerror(code))


class SimBus(SMBus):
    """A bus of simulated chips; `name` is how config names it ("sim", "sim-b")."""

    def __init__(self, name: str, world: World, *, seed: int | None = None) -> None:
        super().__init__(None)
        # What a Raspberry Pi's adapter reports: plain i2c and every SMBus transfer.
        self.funcs = I2cFunc.I2C | I2cFunc.SMBUS_EMUL
        self.name = name
        self.world = world
        self.chips: dict[int, SimChip] = {}
        self.unplugged: dict[int, SimChip] = {}
        self.faults: dict[int, _Injected] = {}
        self.transactions = 0
        self._lock = threading.Lock()
        self._rng = random.Random(seed)

    def __repr__(self) -> str:
        return f"SimBus({self.name}, {len(self.chips)} chips)"

    # the bench -----------------------------------------------------------------------
    def attach(self, chip: SimChip) -> SimChip:
        with self._lock:
            if chip.address in self.chips:
                raise ValueError(f"{self.name}: address {chip.address:#04x} is taken")
            self.chips[chip.address] = chip
        return chip

    def unplug(self, address: int) -> SimChip:
        """Take the chip off the bus (it keeps its registers, like a chip on a connector)."""
        with self._lock:
            chip = self.chips.pop(address)
            self.unplugged[address] = chip
            return chip

    def plug(self, address: int) -> SimChip:
        """Put an unplugged chip back."""
        with self._lock:
            chip = self.unplugged.pop(address)
            self.chips[address] = chip
            return chip

    def inject(self, address: int, fault: Fault | str, count: int | None = None) -> None:
        """Make the next `count` transactions to `address` fail this way (None: until
        cleared); `Fault.NONE` clears."""
        fault = Fault(fault)
        with self._lock:
            if fault is Fault.NONE:
                self.faults.pop(address, None)
            else:
                self.faults[address] = _Injected(fault, count)

    # the wire --------------------------------------------------------------------------
    def _transfer(self, address: int, messages: Sequence[tuple[bool, bytes | int]]) -> list[bytes]:
        """One transaction: (is_read, data-to-write | length-to-read) messages to one
        address, with repeated starts between them. Returns what each read got."""
        with self._lock:
            self.transactions += 1
            fault = self._take_fault(address)
            chip = self.chips.get(address)
        if fault is Fault.TIMEOUT:
            time.sleep(TIMEOUT_DELAY)
            raise _error(errno.ETIMEDOUT)
        if chip is None or fault is Fault.NACK:
            raise _error(errno.EREMOTEIO)
        results: list[bytes] = []
        try:
            for is_read, payload in messages:
                if is_read:
                    assert isinstance(payload, int)
                    data = chip.read(payload)
                    if fault is Fault.GARBAGE:
                        data = self._rng.randbytes(payload)
                    results.append(data)
                else:
                    assert isinstance(payload, bytes)
                    chip.write(payload)
        except Nack:
            raise _error(errno.EREMOTEIO) from None
        return results

    def _take_fault(self, address: int) -> Fault:
        injected = self.faults.get(address)
        if injected is None:
            return Fault.NONE
        if injected.remaining is not None:
            injected.remaining -= 1
            if injected.remaining <= 0:
                del self.faults[address]
        return injected.fault

    def _read(self, address: int, prefix: bytes, length: int) -> bytes:
        messages: list[tuple[bool, bytes | int]] = []
        if prefix:
            messages.append((False, prefix))
        messages.append((True, length))
        return self._transfer(address, messages)[-1]

    def _write(self, address: int, data: bytes) -> None:
        self._transfer(address, [(False, data)])

    # smbus2's SMBus, call by call ----------------------------------------------------------
    def open(self, bus: int | str) -> None:
        raise OSError(errno.ENODEV, f"{self.name} is simulated; there is no {bus} to open")

    def close(self) -> None:
        pass

    def write_quick(self, i2c_addr: int, force: bool | None = None) -> None:
        self._write(i2c_addr, b"")

    def read_byte(self, i2c_addr: int, force: bool | None = None) -> int:
        return self._read(i2c_addr, b"", 1)[0]

    def write_byte(self, i2c_addr: int, value: int, force: bool | None = None) -> None:
        self._write(i2c_addr, bytes([value & 0xFF]))

    def read_byte_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        return self._read(i2c_addr, bytes([register]), 1)[0]

    def write_byte_data(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> None:
        self._write(i2c_addr, bytes([register, value & 0xFF]))

    def read_word_data(self, i2c_addr: int, register: int, force: bool | None = None) -> int:
        data = self._read(i2c_addr, bytes([register]), 2)
        return data[0] | data[1] << 8  # SMBus words are little-endian on the wire

    def write_word_data(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> None:
        self._write(i2c_addr, bytes([register, value & 0xFF, value >> 8 & 0xFF]))

    def process_call(
        self, i2c_addr: int, register: int, value: int, force: bool | None = None
    ) -> int:
        messages: list[tuple[bool, bytes | int]] = [
            (False, bytes([register, value & 0xFF, value >> 8 & 0xFF])),
            (True, 2),
        ]
        data = self._transfer(i2c_addr, messages)[-1]
        return data[0] | data[1] << 8

    def read_block_data(self, i2c_addr: int, register: int, force: bool | None = None) -> list[int]:
        # An SMBus block read: the chip sends its count first. Read the longest block and
        # cut it to the count, as the adapter would.
        data = self._read(i2c_addr, bytes([register]), 33)
        return list(data[1 : 1 + min(data[0], 32)])

    def write_block_data(
        self, i2c_addr: int, register: int, data: Sequence[int], force: bool | None = None
    ) -> None:
        if len(data) > 32:
            raise ValueError("Data length cannot exceed 32 bytes")
        self._write(i2c_addr, bytes([register, len(data), *data]))

    def block_process_call(
        self, i2c_addr: int, register: int, data: Sequence[int], force: bool | None = None
    ) -> list[int]:
        messages: list[tuple[bool, bytes | int]] = [
            (False, bytes([register, len(data), *data])),
            (True, 33),
        ]
        reply = self._transfer(i2c_addr, messages)[-1]
        return list(reply[1 : 1 + min(reply[0], 32)])

    def read_i2c_block_data(
        self, i2c_addr: int, register: int, length: int, force: bool | None = None
    ) -> list[int]:
        if length > 32:
            raise ValueError("Desired block length over 32 bytes")
        return list(self._read(i2c_addr, bytes([register]), length))

    def write_i2c_block_data(
        self, i2c_addr: int, register: int, data: Sequence[int], force: bool | None = None
    ) -> None:
        if len(data) > 32:
            raise ValueError("Data length cannot exceed 32 bytes")
        self._write(i2c_addr, bytes([register, *data]))

    def i2c_rdwr(self, *i2c_msgs: i2c_msg) -> None:
        """Combined messages; all to one address here (a different address would be a
        second transaction, which is how it is served)."""
        index = 0
        while index < len(i2c_msgs):
            address = i2c_msgs[index].addr
            group: list[i2c_msg] = []
            while index < len(i2c_msgs) and i2c_msgs[index].addr == address:
                group.append(i2c_msgs[index])
                index += 1
            plan: list[tuple[bool, bytes | int]] = [
                (True, int(m.len))
                if m.flags & I2C_M_RD
                else (False, ctypes.string_at(m.buf, m.len))
                for m in group
            ]
            replies = iter(self._transfer(address, plan))
            for message in group:
                if message.flags & I2C_M_RD:
                    data = next(replies)
                    ctypes.memmove(message.buf, data, min(len(data), message.len))
