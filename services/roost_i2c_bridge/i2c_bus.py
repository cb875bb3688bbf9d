"""One i2c bus as the drivers use it: smbus2 calls run off the event loop, one at a time.

Every method is one bus transaction. The bus's lock is held for exactly that transaction
and never across a chip's processing delay, so an EZO circuit thinking for 900 ms does not
stop its neighbours from being read. smbus2 blocks in the kernel (or, on a simulated bus,
in the simulation), so each call goes through `asyncio.to_thread`. A caller cancelled while
its transaction runs still waits for the thread to finish before the lock is released: two
threads must never drive one bus at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from collections.abc import Callable
from typing import TypeVar

from smbus2 import I2cFunc, SMBus, i2c_msg

log = logging.getLogger("roost_i2c_bridge.bus")

T = TypeVar("T")

# Addresses where i2cdetect reads rather than quick-writes: EEPROMs and some chips take a
# quick write as a real write.
READ_PROBE = frozenset({*range(0x30, 0x38), *range(0x50, 0x60)})


class I2cBus:
    """An smbus2 `SMBus` (real or simulated) behind a lock, with async transactions."""

    def __init__(self, name: str, smbus: SMBus) -> None:
        self.name = name
        self.smbus = smbus
        self.lock = asyncio.Lock()
        self.transactions = 0
        self.errors = 0

    def __repr__(self) -> str:
        return f"I2cBus({self.name})"

    async def run(self, call: Callable[[], T], *, count_errors: bool = True) -> T:
        """Run one blocking smbus2 transaction in a worker thread under the bus lock."""
        async with self.lock:
            future = asyncio.ensure_future(asyncio.to_thread(call))
            try:
                result = await asyncio.shield(future)
            except asyncio.CancelledError:
                with contextlib.suppress(BaseException):
                    await asyncio.wait({future})
                raise
            except OSError:
                if count_errors:
                    self.errors += 1
                raise
            finally:
                self.transactions += 1
            return result

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.smbus.close()

    # presence ------------------------------------------------------------------------
    async def probe(self, address: int) -> bool:
        """Does a chip acknowledge `address`? i2cdetect's method: a quick write, or a
        one-byte read where a quick write could do harm or the adapter has no quick."""
        quick = bool(self.smbus.funcs & I2cFunc.SMBUS_QUICK)
        try:
            if address in READ_PROBE or not quick:
                await self.run(lambda: self.smbus.read_byte(address), count_errors=False)
            else:
                await self.run(lambda: self.smbus.write_quick(address), count_errors=False)
        except OSError as exc:
            if exc.errno not in (errno.EREMOTEIO, errno.ENXIO, errno.EIO, errno.ETIMEDOUT):
                log.debug("bus %s: probing %#04x: %s", self.name, address, exc)
            return False
        return True

    # SMBus transactions --------------------------------------------------------------
    async def read_byte_data(self, address: int, register: int) -> int:
        return await self.run(lambda: self.smbus.read_byte_data(address, register))

    async def write_byte_data(self, address: int, register: int, value: int) -> None:
        await self.run(lambda: self.smbus.write_byte_data(address, register, value))

    async def read_word_data(self, address: int, register: int) -> int:
        return await self.run(lambda: self.smbus.read_word_data(address, register))

    async def write_word_data(self, address: int, register: int, value: int) -> None:
        await self.run(lambda: self.smbus.write_word_data(address, register, value))

    async def read_block(self, address: int, register: int, length: int) -> list[int]:
        """`read_i2c_block_data`: write the register, repeated start, read `length` bytes."""
        return await self.run(lambda: self.smbus.read_i2c_block_data(address, register, length))

    async def write_block(self, address: int, register: int, data: list[int]) -> None:
        """`write_i2c_block_data`: the register, then the bytes."""
        await self.run(lambda: self.smbus.write_i2c_block_data(address, register, data))

    # plain i2c messages (i2c_rdwr) ---------------------------------------------------
    async def write(self, address: int, data: bytes) -> None:
        """One i2c write of raw bytes: a command to an EZO circuit or a Sensirion sensor."""
        await self.run(lambda: self.smbus.i2c_rdwr(i2c_msg.write(address, data)))

    async def read(self, address: int, length: int) -> bytes:
        """One i2c read of `length` raw bytes."""

        def transfer() -> bytes:
            message = i2c_msg.read(address, length)
            self.smbus.i2c_rdwr(message)
            return bytes(message)

        return await self.run(transfer)
