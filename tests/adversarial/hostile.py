"""A seeded generator of hostile payloads: what a peer with an ordinary broker login could
publish. Raw bytes, invalid UTF-8, deep and huge JSON, extreme numbers and times, odd
unicode, oversized blobs, and well-formed messages of each kind (state, meta, event,
command, request, frame descriptor) whose values are all of those.

JSON is built as text so that it can hold what a JSON library would refuse to write
(NaN, lone surrogates, 400-digit numbers)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable

import cv2
import numpy as np

NUMBERS = [
    "0", "-0", "1", "-1", "0.5", "1e16", "1e300", "-1e17", "1e308", "-1e308", "1e999",
    "-1e999", "1e-400", "5e-324", "NaN", "Infinity", "-Infinity", "9" * 400, "-" + "9" * 400,
    "18446744073709551616", "-9223372036854775809", "4.9e-324", "1E+2", "0x10", "01",
]  # fmt: skip
TIMES = [
    "1e16", "1e300", "-1e17", "1e999", "NaN", "9" * 40, "-" + "9" * 40, '"NaN"', '"now"',
    '"2026-13-45T25:61:61Z"', '"+275760-09-13T00:00:00Z"', '"0000-00-00"', '"9999-12-31T23:59:59Z"',
    '"0001-01-01T00:00:00+14:00"', '"9999-12-31T23:59:59-14:00"', '""', "true", "[]", "{}",
    '"' + "2" * 5000 + '"', "-62135596801", "253402300800", "0", "1767225600",
]  # fmt: skip
TEXTS = [
    "", " ", "online", "offline", "on", "OFF", "40", "٤٠", "４０", "1e999", "NaN", "null",
    "\u0000", "a\u0301", "\u202eevil", "\ufeffbom", "\r\n", "%s%n%x", "../../etc/passwd",
    "<script>alert(1)</script>", "\x1b[31mred", "🙂" * 300, "x" * 70_000, "日本語", "\t",
    "roost/#", "+", "$SYS/broker",
]  # fmt: skip
RAW_STRINGS = ['"\\ud800"', '"\\udfff\\ud800"', '"\\u0000"', '"\\x41"', '"unterminated']
KINDS = ["number", "switch", "button", "text", "enum", "image", "event", "", "nope", "NUMBER"]
KEYS = ["ts", "id", "value", "x" * 300, "", "ünï", "a.b", "$where", "__proto__", "0"]
PARAMS = ["device", "prop", "from", "to", "step", "limit", "offset", "skip", "event_type", "x"]
DEVICE_REFS = ["fz/probe", "fz/cam", "recorder/database", "nope", "a/b/c", "", "/"]
RING_PATHS = ["/dev/zero", "/etc/passwd", "/proc/self/mem", "/nonexistent", "", "/", "/dev/shm"]


def _tiny_jpeg() -> bytes:
    ok, data = cv2.imencode(".jpg", np.zeros((16, 16, 3), np.uint8))
    assert ok
    return bytes(data.tobytes())


TINY_JPEG = _tiny_jpeg()


class Hostile:
    """Draws payloads from one `random.Random(seed)`: the same seed, the same barrage."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.oversized_left = 4  # a few multi-MB messages per run, not thousands

    # building blocks ---------------------------------------------------------------
    def text(self) -> str:
        return json.dumps(self.rng.choice(TEXTS))

    def number(self) -> str:
        return self.rng.choice(NUMBERS)

    def time(self) -> str:
        return self.rng.choice(TIMES)

    def deep(self) -> str:
        depth = self.rng.choice([64, 300, 2000, 50_000])
        opener, closer = self.rng.choice([("[", "]"), ('{"a":', "}")])
        inner = opener * depth + "1" + closer * depth
        return inner if self.rng.random() < 0.8 else inner[:-1]  # sometimes unclosed

    def value(self, depth: int = 0) -> str:
        """A JSON text fragment: anything a hostile value could be."""
        roll = self.rng.random()
        if roll < 0.25:
            return self.number()
        if roll < 0.45:
            return self.text()
        if roll < 0.5:
            return self.rng.choice(RAW_STRINGS)
        if roll < 0.6:
            return self.rng.choice(["true", "false", "null"])
        if roll < 0.65:
            return self.deep()
        if roll < 0.75 and depth < 3:
            items = [self.value(depth + 1) for _ in range(self.rng.randint(0, 4))]
            return "[" + ",".join(items) + "]"
        if roll < 0.85 and depth < 3:
            return self.object({self.key(): lambda: self.value(depth + 1) for _ in range(3)})
        return self.time()

    def key(self) -> str:
        return self.rng.choice([*KEYS, f"p{self.rng.randint(0, 20)}"])

    def object(self, fields: dict[str, Callable[[], str]]) -> str:
        return "{" + ",".join(f"{json.dumps(k)}:{make()}" for k, make in fields.items()) + "}"

    # payloads ----------------------------------------------------------------------
    def garbage(self) -> bytes:
        """Something that is not the message the topic wants at all."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.2:
            return rng.randbytes(rng.randint(0, 300))
        if roll < 0.3:
            return b"\xff\xfe\xfa" + rng.randbytes(rng.randint(0, 50)) + b'{"a": "\xc3\x28"}'
        if roll < 0.45:
            return self.deep().encode()
        if roll < 0.55:
            return self.huge()
        if roll < 0.75:
            return self.value().encode()
        if roll < 0.85:
            return b""
        return rng.choice([b"[]", b"null", b"{}", b'"text"', b"{", b"}", b"\x00", b"1" * 5000])

    def huge(self) -> bytes:
        if self.oversized_left > 0 and self.rng.random() < 0.1:
            self.oversized_left -= 1
            return b'{"blob": "' + b"z" * (3 * 1024 * 1024) + b'"}'
        count = self.rng.choice([1_000, 20_000])
        return ("[" + ",".join(["1e300"] * count) + "]").encode()

    def shaped_or_garbage(self, shaped: Callable[[], str]) -> bytes:
        return shaped().encode() if self.rng.random() < 0.6 else self.garbage()

    def state(self, props: list[str]) -> bytes:
        names = self.rng.sample(props, min(len(props), 3)) if props else []
        fields: dict[str, Callable[[], str]] = dict.fromkeys(names, self.value)
        fields[self.key()] = self.value
        if self.rng.random() < 0.8:
            fields["ts"] = self.time
        return self.shaped_or_garbage(lambda: self.object(fields))

    def meta(self) -> bytes:
        def prop() -> str:
            return self.object(
                {
                    "kind": lambda: json.dumps(self.rng.choice(KINDS)),
                    "min": self.number,
                    "max": self.number,
                    "step": self.number,
                    "precision": self.number,
                    "options": lambda: "[" + ",".join(self.value() for _ in range(3)) + "]",
                    "unit": self.value,
                    "settable": self.value,
                }
            )

        return self.shaped_or_garbage(
            lambda: self.object(
                {
                    "name": self.value,
                    "properties": lambda: self.object({self.key(): prop for _ in range(3)}),
                    "events": self.value,
                    "methods": self.value,
                }
            )
        )

    def event(self) -> bytes:
        return self.shaped_or_garbage(
            lambda: self.object(
                {
                    "event_type": self.value,
                    "id": self.value,
                    "phase": lambda: self.rng.choice(['"start"', '"end"', '"bogus"', "1"]),
                    "ts": self.time,
                    "data": self.value,
                }
            )
        )

    def command(self, props: list[str]) -> bytes:
        """A `/set` payload that is certainly refused: not an object, or naming no real
        property (a junk name beside the real ones)."""
        if self.rng.random() < 0.4:
            return self.garbage() or b"\x00"
        fields: dict[str, Callable[[], str]] = {f"zz-{self.key()}": self.value}
        for name in self.rng.sample(props, min(len(props), 2)):
            fields[name] = self.value
        return self.object(fields).encode()

    def bare(self) -> bytes:
        """A `/set/<prop>` bare value."""
        roll = self.rng.random()
        if roll < 0.5:
            return self.rng.choice(TEXTS).encode()
        if roll < 0.7:
            return self.number().encode()
        return self.garbage()

    def request(self, reply_to: str | None, names: list[str]) -> bytes:
        """Mostly well-formed requests (so the params reach the method) whose params are
        plausible names with hostile values; sometimes a hostile id or an unknown key."""

        def param(name: str) -> Callable[[], str]:
            def make() -> str:
                if self.rng.random() < 0.3:
                    return self.value()
                if name in ("from", "to"):
                    return self.time()
                if name in ("step", "limit", "offset", "skip"):
                    return self.number()
                if name == "device":
                    return json.dumps(self.rng.choice(DEVICE_REFS))
                if name == "prop":
                    return json.dumps(self.rng.choice(["level", "text", "temperature"]))
                return self.value()

            return make

        def params() -> str:
            given = [n for n in names if self.rng.random() < 0.85] or self.rng.sample(PARAMS, 2)
            if self.rng.random() < 0.1:
                given.append(self.rng.choice(PARAMS))
            return self.object({name: param(name) for name in given})

        def request_id() -> str:
            return json.dumps(f"r{self.rng.randint(0, 999)}") if self.rng.random() < 0.7 else (
                self.value()
            )  # fmt: skip

        fields: dict[str, Callable[[], str]] = {"id": request_id, "params": params}
        if reply_to is not None:
            fields["reply_to"] = lambda: json.dumps(reply_to)
        if self.rng.random() < 0.1:
            fields[self.key()] = self.value
        roll = self.rng.random()
        return self.object(fields).encode() if roll < 0.8 else self.garbage()

    def descriptor(self) -> bytes:
        return self.shaped_or_garbage(
            lambda: self.object(
                {
                    "ring": lambda: json.dumps(self.rng.choice(RING_PATHS)),
                    "ring_id": self.value,
                    "host": self.value,
                    "seq": self.number,
                    "slot": self.number,
                    "ts": self.time,
                    "width": self.number,
                    "height": self.number,
                    "channels": self.number,
                    "format": lambda: self.rng.choice(['"bgr24"', '"gray8"', '"yuv"', "1"]),
                }
            )
        )

    def jpeg(self) -> bytes:
        """A frame on a camera's `jpeg` topic: garbage, or a tiny JPEG whose header
        declares up to 30000 x 30000 pixels (gigabytes, decoded)."""
        if self.rng.random() < 0.5:
            return self.garbage()
        side = self.rng.choice([16, 4097, 30000])
        header = bytearray(TINY_JPEG)
        at = header.find(b"\xff\xc0")
        header[at + 5 : at + 9] = side.to_bytes(2, "big") * 2
        return bytes(header)

    def availability(self) -> bytes:
        return self.rng.choice(
            [b"online", b"offline", b"", b"ONLINE", b"online\x00", b"\xff", self.garbage()]
        )
