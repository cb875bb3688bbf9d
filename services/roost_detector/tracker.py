"""Following objects across frames, and the event phases that come of it.

Detections continue the track of the same label they fit best (greedy): first by overlap
(IoU) with the track's last box or where its speed says it is now, else by distance from
that predicted place, so someone walking past a few missed frames stays one object. A track
becomes an event (`start`) after `min_hits` detections, sends `update` when its top score
rises or its box moves (at most every `update_interval`), and `end`s once it has not
been seen for `end_after` seconds. These are Frigate's new/update/end.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Literal

from roost_detector.detection import Box, Detection, Pixels, iou
from roost_detector.settings import TrackingConfig

Phase = Literal["start", "update", "end"]
MOVED_IOU = 0.7


@dataclass(eq=False)
class Track:
    label: str
    box: Box
    score: float
    start: float
    last_seen: float
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    top_score: float = 0.0
    hits: int = 1
    started: bool = False
    end: float | None = None
    best_frame: Pixels | None = None
    best_box: Box | None = None
    best_changed: bool = False
    sent_at: float = 0.0
    sent_box: Box | None = None
    sent_top: float = 0.0
    velocity: tuple[float, float] = (0.0, 0.0)  # pixels per second of the box's centre

    def predict(self, ts: float) -> Box:
        """Where the box should be at `ts`, moving as it has been."""
        dt = max(0.0, ts - self.last_seen)
        dx, dy = round(self.velocity[0] * dt), round(self.velocity[1] * dt)
        x1, y1, x2, y2 = self.box
        return (x1 + dx, y1 + dy, x2 + dx, y2 + dy)

    def data(self, camera: str) -> dict[str, object]:
        return {
            "label": self.label,
            "score": round(self.score, 3),
            "top_score": round(self.top_score, 3),
            "box": list(self.box),
            "start": round(self.start, 3),
            "end": round(self.end, 3) if self.end is not None else None,
            "camera": camera,
        }


@dataclass(frozen=True, slots=True)
class TrackChange:
    phase: Phase
    track: Track


class Tracker:
    def __init__(self, config: TrackingConfig) -> None:
        self.config = config
        self.tracks: list[Track] = []

    @property
    def active(self) -> list[Track]:
        """Tracks that are events now."""
        return [t for t in self.tracks if t.started]

    def update(self, detections: list[Detection], ts: float, frame: Pixels) -> list[TrackChange]:
        """Fold one frame's detections in; the event phases that result."""
        changes: list[TrackChange] = []
        pairs = sorted(
            (
                (fit, index, track)
                for index, det in enumerate(detections)
                for track in self.tracks
                if track.label == det.label and (fit := self._fit(track, det, ts)) is not None
            ),
            key=lambda item: item[0],
            reverse=True,
        )
        used_tracks: set[int] = set()
        used_dets: set[int] = set()
        for _, index, track in pairs:
            if id(track) in used_tracks or index in used_dets:
                continue
            used_tracks.add(id(track))
            used_dets.add(index)
            self._seen(track, detections[index], ts, frame)
        for index, det in enumerate(detections):
            if index not in used_dets:
                track = Track(det.label, det.box, det.score, ts, ts)
                self._best(track, det, frame)
                self.tracks.append(track)
        for track in self.tracks:
            if track.last_seen != ts:
                continue
            if not track.started and track.hits >= self.config.min_hits:
                track.started = True
                self._sent(track, ts)
                changes.append(TrackChange("start", track))
            elif track.started and self._worth_update(track, ts):
                self._sent(track, ts)
                changes.append(TrackChange("update", track))
        return changes + self.expire(ts)

    def expire(self, now: float) -> list[TrackChange]:
        """End tracks not seen for `end_after` seconds."""
        changes = []
        for track in list(self.tracks):
            if now - track.last_seen >= self.config.end_after:
                self.tracks.remove(track)
                if track.started:
                    track.end = track.last_seen
                    changes.append(TrackChange("end", track))
        return changes

    def _fit(self, track: Track, det: Detection, ts: float) -> float | None:
        """How well `det` continues `track`: above 1 by overlap, below 1 by distance, None
        when it does not."""
        predicted = track.predict(ts)
        overlap = max(iou(track.box, det.box), iou(predicted, det.box))
        if overlap >= self.config.iou:
            return 1.0 + overlap
        size = max(predicted[2] - predicted[0], predicted[3] - predicted[1], 1)
        (px, py), (dx, dy) = _centre(predicted), _centre(det.box)
        distance = math.hypot(px - dx, py - dy) / size
        ratio = _area(det.box) / max(1, _area(track.box))
        if distance <= self.config.max_distance and 0.5 <= ratio <= 2.0:
            return 1.0 - 0.999 * distance / max(self.config.max_distance, 1e-9)
        return None

    def _seen(self, track: Track, det: Detection, ts: float, frame: Pixels) -> None:
        dt = ts - track.last_seen
        if dt > 0:
            (ox, oy), (nx, ny) = _centre(track.box), _centre(det.box)
            vx, vy = (nx - ox) / dt, (ny - oy) / dt
            # Smoothed: one jittery box should not send the prediction off.
            track.velocity = (
                0.5 * track.velocity[0] + 0.5 * vx,
                0.5 * track.velocity[1] + 0.5 * vy,
            )
        track.box = det.box
        track.score = det.score
        track.last_seen = ts
        track.hits += 1
        self._best(track, det, frame)

    def _best(self, track: Track, det: Detection, frame: Pixels) -> None:
        if det.score > track.top_score:
            track.top_score = det.score
            track.best_frame = frame
            track.best_box = det.box
            track.best_changed = True

    def _worth_update(self, track: Track, ts: float) -> bool:
        if ts - track.sent_at < self.config.update_interval:
            return False
        moved = track.sent_box is None or iou(track.sent_box, track.box) < MOVED_IOU
        return moved or track.top_score > track.sent_top

    def _sent(self, track: Track, ts: float) -> None:
        track.sent_at = ts
        track.sent_box = track.box
        track.sent_top = track.top_score


def _centre(box: Box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _area(box: Box) -> int:
    return max(0, box[2] - box[0]) * max(0, box[3] - box[1])
