"""The synthetic camera: the embedded default, so the whole pipeline runs with no hardware.

Everything in a frame is a function of the wall-clock time it is drawn for, so frames are
reproducible and motion does not depend on how fast they are read: shapes bounce round
the frame, a clock runs, a patch of noise flickers like a sensor's, an optional photo
(`visitor`) walks across from left to right now and then, and an
optional video file loops behind it all. Without a photo a drawn person walks through
instead (`figure`), so the demo detector has someone to find.

The visitor's cycle: `visitor_gap` seconds of empty scene, then `visitor_seconds` to walk
in at the left and out at the right, again and again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from roost_camera.settings import SyntheticSourceConfig
from roost_camera.sources.base import FrameSource, Pixels, SourceError

NOISE_TILES = 8
NOISE_SIZE = 64


@dataclass(frozen=True)
class _Shape:
    kind: str
    size: int
    color: tuple[int, int, int]
    x0: float
    y0: float
    vx: float
    vy: float


def _bounce(start: float, speed: float, t: float, span: float) -> float:
    """Position on [0, span] of a point moving at `speed` and bouncing off both ends."""
    if span <= 0:
        return 0.0
    travelled = (start + speed * t) % (2 * span)
    return travelled if travelled <= span else 2 * span - travelled


def _figure(height: int) -> tuple[Pixels, npt.NDArray[np.bool_]]:
    """A drawn person, `height` tall, and its mask: OpenCV's HOG people detector finds it,
    so the demo has someone to detect without shipping a photo."""
    width = height // 2 + 8
    sprite = np.zeros((height, width, 3), np.uint8)
    mask = np.zeros((height, width), np.uint8)
    cx, h = width // 2, height - 8
    for canvas, colour in ((sprite, (30, 25, 20)), (mask, 255)):
        head = h // 8
        cv2.circle(canvas, (cx, 4 + head), head, colour, -1)
        torso = (cx, 4 + 2 * head + int(h * 0.18))
        cv2.ellipse(canvas, torso, (int(h * 0.11), int(h * 0.2)), 0, 0, 360, colour, -1)
        arm, leg = max(3, h // 25), max(4, h // 16)
        for side in (-1, 1):
            shoulder = (cx + side * int(h * 0.1), 4 + int(h * 0.3))
            hand = (cx + side * int(h * 0.17), 4 + int(h * 0.55))
            cv2.line(canvas, shoulder, hand, colour, arm)
            hip = (cx + side * int(h * 0.05), 4 + int(h * 0.6))
            foot = (cx + side * int(h * 0.09), 4 + h)
            cv2.line(canvas, hip, foot, colour, leg)
    return sprite, mask > 0


class SyntheticSource(FrameSource, source_type="synthetic"):
    def __init__(self, config: SyntheticSourceConfig) -> None:
        self.config = config
        self.width = config.width
        self.height = config.height
        self._background = self._gradient()
        self._video: cv2.VideoCapture | None = None
        self._visitor: Pixels | None = None
        self._visitor_mask: npt.NDArray[np.bool_] | None = None
        rng = np.random.default_rng(7)
        self._noise = rng.integers(0, 256, (NOISE_TILES, NOISE_SIZE, NOISE_SIZE, 3), np.uint8)
        self._shapes = [self._shape(i, rng) for i in range(config.shapes)]
        self._epoch = time.time()

    def _gradient(self) -> Pixels:
        h, w = self.height, self.width
        ys = np.linspace(40, 110, h, dtype=np.float32)[:, None]
        xs = np.linspace(0, 30, w, dtype=np.float32)[None, :]
        base = ys + xs
        return np.dstack([base + 20, base + 10, base]).clip(0, 255).astype(np.uint8)

    def _shape(self, index: int, rng: np.random.Generator) -> _Shape:
        size = max(8, min(self.width, self.height) // 10)
        colors = [(40, 40, 220), (40, 200, 40), (220, 120, 30), (30, 200, 220), (200, 40, 200)]
        return _Shape(
            kind="circle" if index % 2 == 0 else "box",
            size=size,
            color=colors[index % len(colors)],
            x0=float(rng.uniform(0, self.width)),
            y0=float(rng.uniform(0, self.height)),
            vx=float(rng.uniform(0.15, 0.35) * self.width),
            vy=float(rng.uniform(0.1, 0.25) * self.height),
        )

    def open(self) -> None:
        cfg = self.config
        if cfg.video is not None:
            video = cv2.VideoCapture(str(cfg.video))
            if not video.isOpened():
                raise SourceError(f"cannot open background video {cfg.video}")
            self._video = video
        height = max(16, int(self.height * cfg.visitor_height))
        if cfg.visitor is None and cfg.figure:
            self._visitor, self._visitor_mask = _figure(height)
        elif cfg.visitor is not None:
            photo = cv2.imread(str(cfg.visitor), cv2.IMREAD_COLOR)
            if photo is None:
                raise SourceError(f"cannot read visitor image {cfg.visitor}")
            width = max(8, int(photo.shape[1] * height / photo.shape[0]))
            self._visitor = np.asarray(
                cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA), dtype=np.uint8
            )

    def close(self) -> None:
        if self._video is not None:
            self._video.release()
            self._video = None

    def read(self, now: float) -> Pixels:
        frame = self._backdrop()
        t = now - self._epoch
        for shape in self._shapes:
            span_x, span_y = self.width - shape.size, self.height - shape.size
            x = int(_bounce(shape.x0, shape.vx, t, span_x))
            y = int(_bounce(shape.y0, shape.vy, t, span_y))
            if shape.kind == "circle":
                half = shape.size // 2
                cv2.circle(frame, (x + half, y + half), half, shape.color, -1)
            else:
                cv2.rectangle(frame, (x, y), (x + shape.size, y + shape.size), shape.color, -1)
        self._draw_visitor(frame, t)  # in front of the shapes, as a person walking by
        if self.config.noise and self.width > NOISE_SIZE * 2 and self.height > NOISE_SIZE * 2:
            tile = self._noise[int(t * 25) % NOISE_TILES]
            frame[8 : 8 + NOISE_SIZE, -NOISE_SIZE - 8 : -8] = tile
        if self.config.clock:
            self._draw_clock(frame, now)
        return frame

    def _backdrop(self) -> Pixels:
        if self._video is None:
            return self._background.copy()
        ok, image = self._video.read()
        if not ok:
            self._video.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, image = self._video.read()
            if not ok:
                raise SourceError(f"background video {self.config.video} has no frames")
        if image.shape[1] != self.width or image.shape[0] != self.height:
            image = cv2.resize(image, (self.width, self.height))
        return np.ascontiguousarray(image, dtype=np.uint8)

    def _draw_visitor(self, frame: Pixels, t: float) -> None:
        visitor = self._visitor
        if visitor is None:
            return
        cfg = self.config
        period = cfg.visitor_seconds + cfg.visitor_gap
        walked = t % period - cfg.visitor_gap  # an empty scene first, then a walk across
        if walked < 0:
            return
        vh, vw = visitor.shape[:2]
        left = int(-vw + (self.width + vw) * walked / cfg.visitor_seconds)
        # Feet a little above the bottom edge: detectors need a margin round a person.
        top = max(0, self.height - vh - self.height // 16)
        x1, x2 = max(0, left), min(self.width, left + vw)
        if x2 <= x1:
            return
        part = visitor[:, x1 - left : x2 - left]
        if self._visitor_mask is None:
            frame[top : top + vh, x1:x2] = part
        else:
            mask = self._visitor_mask[:, x1 - left : x2 - left]
            frame[top : top + vh, x1:x2][mask] = part[mask]

    def _draw_clock(self, frame: Pixels, now: float) -> None:
        text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
        scale = max(0.4, self.width / 1200)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        y = self.height - 8
        cv2.rectangle(frame, (4, y - th - 6), (12 + tw, y + base), (0, 0, 0), -1)
        cv2.putText(
            frame,
            text,
            (8, y - 2),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )

    def describe(self) -> str:
        return f"synthetic {self.width}x{self.height}"
