"""The simulated bus answers smbus2's calls like a real adapter, faults included, and the
bridge's `I2cBus` keeps one transaction at a time without holding the bus across waits."""

from __future__ import annotations

import asyncio
import errno
import time

import pytest
from smbus2 import I2cFunc, i2c_msg

from roost_i2c_bridge.drivers import ezo
from roost_i2c_bridge.sim.bus import Fault
from roost_i2c_bridge.sim.chip import RegisterChip
from roost_i2c_bridge.sim.ezo import SimEzoPh

from .conftest import Bench


def test_every_smbus_call_reaches_the_registers(bench: Bench) -> None:
    chip = bench.sim.attach(RegisterChip(bench.world, 0x50))
    assert isinstance(chip, RegisterChip)
    sim = bench.sim
    sim.write_byte_data(0x50, 0x10, 0xAB)
    assert chip.regs[0x10] == 0xAB
    assert sim.read_byte_data(0x50, 0x10) == 0xAB
    sim.write_word_data(0x50, 0x20, 0x1234)
    assert chip.regs[0x20:0x22] == bytes([0x34, 0x12])  # SMBus words are little-endian
    assert sim.read_word_data(0x50, 0x20) == 0x1234
    sim.write_i2c_block_data(0x50, 0x30, [1, 2, 3])
    assert sim.read_i2c_block_data(0x50, 0x30, 3) == [1, 2, 3]
    sim.write_byte(0x50, 0x30)  # sets the register pointer
    assert sim.read_byte(0x50) == 1
    write, read = i2c_msg.write(0x50, [0x31]), i2c_msg.read(0x50, 2)
    sim.i2c_rdwr(write, read)  # one combined transaction, repeated start
    assert bytes(read) == bytes([2, 3])
    sim.write_quick(0x50)


def test_an_empty_address_is_not_acknowledged(bench: Bench) -> None:
    with pytest.raises(OSError, match="Remote I/O") as caught:
        bench.sim.read_byte_data(0x51, 0)
    assert caught.value.errno == errno.EREMOTEIO


def test_injected_faults(bench: Bench) -> None:
    bench.sim.attach(RegisterChip(bench.world, 0x50))
    sim = bench.sim
    sim.inject(0x50, Fault.NACK, count=2)
    for _ in range(2):
        with pytest.raises(OSError, match="Remote I/O"):
            sim.read_byte_data(0x50, 0)
    assert sim.read_byte_data(0x50, 0) == 0  # the fault was for two transactions
    sim.inject(0x50, "timeout", count=1)
    start = time.monotonic()
    with pytest.raises(OSError, match="timed out") as caught:
        sim.read_byte_data(0x50, 0)
    assert caught.value.errno == errno.ETIMEDOUT
    assert time.monotonic() - start >= 0.15  # a hung transfer blocks before it fails
    sim.write_i2c_block_data(0x50, 0, [0] * 16)
    sim.inject(0x50, Fault.GARBAGE)
    assert any(sim.read_i2c_block_data(0x50, 0, 16))  # sixteen zeros come back as noise
    sim.inject(0x50, Fault.NONE)
    assert sim.read_i2c_block_data(0x50, 0, 16) == [0] * 16
    sim.unplug(0x50)
    with pytest.raises(OSError, match="Remote I/O"):
        sim.write_quick(0x50)
    sim.plug(0x50)
    sim.write_quick(0x50)


async def test_probe_finds_what_answers(bench: Bench) -> None:
    bench.sim.attach(RegisterChip(bench.world, 0x50))
    bench.sim.attach(RegisterChip(bench.world, 0x20))
    found = [a for a in range(0x08, 0x78) if await bench.bus.probe(a)]
    assert found == [0x20, 0x50]
    assert bench.bus.errors == 0  # an empty address is an answer, not an error


async def test_the_bus_is_free_while_an_ezo_thinks(bench: Bench) -> None:
    """An EZO reading takes 900 ms; the lock is held for the write and the read only."""
    bench.sim.attach(SimEzoPh(bench.world, 0x63))
    bench.sim.attach(RegisterChip(bench.world, 0x50))
    reading = asyncio.create_task(ezo.query(bench.bus, 0x63, "R", 0.9))
    other = 0
    start = time.monotonic()
    while not reading.done():
        await bench.bus.read_byte_data(0x50, 0)
        other += 1
        await asyncio.sleep(0.01)
    assert float(await reading) > 0
    assert time.monotonic() - start >= 0.9
    assert other >= 3  # the other chip was read while the EZO was processing


async def test_a_cancelled_caller_does_not_free_the_bus_early(bench: Bench) -> None:
    """A transaction stuck in its thread keeps the lock until the thread is done."""
    bench.sim.attach(RegisterChip(bench.world, 0x50))
    bench.sim.inject(0x50, Fault.TIMEOUT, count=1)
    stuck = asyncio.create_task(bench.bus.read_byte_data(0x50, 0))
    for _ in range(100):  # until it is on the bus
        if bench.bus.lock.locked():
            break
        await asyncio.sleep(0)
    stuck.cancel()
    await asyncio.sleep(0)
    assert bench.bus.lock.locked()  # still held: the thread is still on the bus
    with pytest.raises(asyncio.CancelledError):
        await stuck
    assert not bench.bus.lock.locked()


class Tally(RegisterChip):
    """Counts the messages it sees."""

    writes = 0
    reads = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        super().write(data)

    def read(self, length: int) -> bytes:
        self.reads += 1
        return super().read(length)


async def test_probe_reads_where_quick_writes_are_unwise_or_missing(bench: Bench) -> None:
    plain, eeprom = Tally(bench.world, 0x20), Tally(bench.world, 0x50)
    bench.sim.attach(plain)
    bench.sim.attach(eeprom)
    assert await bench.bus.probe(0x20) and await bench.bus.probe(0x50)
    assert (plain.writes, plain.reads) == (1, 0)  # a quick write
    assert (eeprom.writes, eeprom.reads) == (0, 1)  # EEPROM range: a read, never a write
    bench.sim.funcs = I2cFunc.I2C  # an adapter without SMBus quick
    assert await bench.bus.probe(0x20)
    assert (plain.writes, plain.reads) == (1, 1)
