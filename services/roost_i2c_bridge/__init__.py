"""roost's i2c-bridge: chips on i2c buses as roost devices.

A coordinator scans each bus, identifies the chips it finds and gives each one a manager:
one asyncio task that owns the chip's I/O, samples it, publishes its readings and applies
commands. Drivers speak the chips' real protocols through smbus2; `buses = ["sim"]` puts
simulated chips with plausible physics behind the same smbus2 calls.
"""
