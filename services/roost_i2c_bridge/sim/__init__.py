"""The simulated i2c bus: smbus2's `SMBus` answered by simulated chips in a simulated
greenhouse, so the drivers run unchanged without hardware."""
