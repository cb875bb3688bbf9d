"""Recent events per device, as the page lists them: detections with the snapshot that
went with them, script errors, button presses.

Events are not retained on the broker, so this is what the web UI heard since it started
(the recorder keeps the long history). Phases of one event (start/update/end) fold into
one entry; a device that also has an image property (a detector's best snapshot) gets that
picture attached to the event it belongs to: the next event message that follows the
picture within `SNAPSHOT_LEAD` (roost's detector publishes the picture first), else the
device's open event still without one (a detector that publishes it after).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from roost.mirror import Change, ChangeKind
from roost_webui.blobs import Blob

# A picture followed this soon by an event message belongs to that event.
SNAPSHOT_LEAD = 2.0


@dataclass
class EventEntry:
    id: str
    event_type: str
    phase: str | None
    first_ts: str
    ts: str
    data: dict[str, Any]
    snapshot: Blob | None = field(default=None, repr=False)

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_type": self.event_type,
            "phase": self.phase,
            "first_ts": self.first_ts,
            "ts": self.ts,
            "data": self.data,
            "snapshot": self.snapshot.version if self.snapshot else None,
        }


class RecentEvents:
    def __init__(self, kept: int) -> None:
        self.kept = kept
        self._by_device: dict[str, deque[EventEntry]] = {}
        self._loose: dict[str, Blob] = {}  # a device's latest picture not yet claimed

    def entries(self, ref: str) -> list[EventEntry]:
        return list(reversed(self._by_device.get(ref, ())))

    def find(self, ref: str, event_id: str) -> EventEntry | None:
        for entry in self._by_device.get(ref, ()):
            if entry.id == event_id:
                return entry
        return None

    def on_change(self, change: Change, now: float) -> EventEntry | None:
        """Fold an event change in; the entry it made or updated."""
        if change.kind is ChangeKind.REMOVED:
            self._by_device.pop(change.ref, None)
            self._loose.pop(change.ref, None)
            return None
        if change.kind is not ChangeKind.EVENT or change.event is None:
            return None
        event = change.event
        ring = self._by_device.setdefault(change.ref, deque(maxlen=self.kept))
        entry = next((e for e in ring if e.id == event.id), None)
        phase = event.phase.value if event.phase else None
        if entry is None:
            entry = EventEntry(event.id, event.event_type, phase, event.ts, event.ts, event.data)
            ring.append(entry)
        else:
            entry.phase = phase
            entry.ts = event.ts
            entry.data = {**entry.data, **event.data}
        loose = self._loose.pop(change.ref, None)
        if loose is not None and now - loose.received <= SNAPSHOT_LEAD:
            entry.snapshot = loose
        return entry

    def on_blob(self, ref: str, blob: Blob) -> EventEntry | None:
        """A new picture on a device: held for the event message that follows it, and
        meanwhile shown on the device's open event that has none yet."""
        self._loose[ref] = blob
        ring = self._by_device.get(ref)
        latest = ring[-1] if ring else None
        if latest is not None and latest.phase != "end" and latest.snapshot is None:
            latest.snapshot = blob
            return latest
        return None
