"""A JPEG's size from its header, read before decoding it.

A JPEG of a few hundred bytes can declare 30000 x 30000 pixels: decoding it allocates
gigabytes and takes half a minute of CPU. Frames from MQTT come from any peer, so their
size is checked first and a frame larger than a camera could send is refused.
"""

from __future__ import annotations

MAX_PIXELS = 4096 * 4096  # larger than any camera roost drives sends
# Start-of-frame markers (baseline, progressive, lossless, ...): not DHT, JPG or DAC.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # markers without a length


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from the first start-of-frame segment; None if there is none."""
    if not data.startswith(b"\xff\xd8"):
        return None
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in _STANDALONE:
            at += 2
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in _SOF:
            if at + 9 > len(data):
                return None
            height = int.from_bytes(data[at + 5 : at + 7], "big")
            width = int.from_bytes(data[at + 7 : at + 9], "big")
            return width, height
        if marker == 0xDA or length < 2:  # scan data before any frame header
            return None
        at += 2 + length
    return None
