"""Following objects across frames, and the event phases that come of it.

Detections continue the track of the same label they overlap most (IoU, greedy). A track
becomes an event (`start`) after `min_hits` detections, sends `update` when its top score
rises or its box moves (at most every `update_interval`), and `end`s once it has not
been seen for `end_after` seconds. These are Frigate's new/update/end.
"""

from __future__ import annotations

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
                (iou(track.box, det.box), index, track)
                for index, det in enumerate(detections)
                for track in self.tracks
                if track.label == det.label
            ),
            key=lambda item: item[0],
            reverse=True,
        )
        used_tracks: set[int] = set()
        used_dets: set[int] = set()
        for overlap, index, track in pairs:
            if overlap < self.config.iou:
                break
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

    def _seen(self, track: Track, det: Detection, ts: float, frame: Pixels) -> None:
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
