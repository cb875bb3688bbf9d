"""Recent events: phases fold into one entry; a picture goes to the event it belongs to."""

from __future__ import annotations

from roost.mirror import Change, ChangeKind
from roost.models import EventPayload, EventPhase
from roost_webui.blobs import Blob
from roost_webui.recent import SNAPSHOT_LEAD, RecentEvents

REF = "detector/demo"


def event(event_id: str, phase: str, **data: object) -> Change:
    payload = EventPayload(
        event_type="person",
        id=event_id,
        phase=EventPhase(phase),
        ts="2026-01-01T00:00:00Z",
        data=dict(data),
    )
    return Change(ChangeKind.EVENT, "detector", "demo", event=payload)


def picture(version: int, received: float) -> Blob:
    return Blob(b"\xff\xd8\xff" + bytes([version]), version, f"e{version}", "image/jpeg", received)


def test_phases_fold_into_one_entry_newest_first() -> None:
    recent = RecentEvents(kept=2)
    recent.on_change(event("a", "start", score=0.5), now=0.0)
    recent.on_change(event("a", "update", score=0.9), now=1.0)
    recent.on_change(event("a", "end"), now=2.0)
    recent.on_change(event("b", "start"), now=3.0)
    recent.on_change(event("c", "start"), now=4.0)
    entries = recent.entries(REF)
    assert [e.id for e in entries] == ["c", "b"]  # only `kept` per device
    assert recent.find(REF, "a") is None


def test_a_picture_published_first_goes_to_the_event_that_follows() -> None:
    recent = RecentEvents(kept=10)
    recent.on_change(event("a", "start"), now=0.0)
    first = picture(1, received=0.5)
    assert recent.on_blob(REF, first) is not None  # shown on the open event meanwhile
    recent.on_change(event("a", "end"), now=1.0)
    second = picture(2, received=10.0)
    assert recent.on_blob(REF, second) is None  # nothing open: held for what follows
    recent.on_change(event("b", "start"), now=10.5)
    a, b = recent.find(REF, "a"), recent.find(REF, "b")
    assert a is not None and b is not None
    assert a.snapshot is first and b.snapshot is second
    # a better picture for b, then b's update
    third = picture(3, received=11.0)
    recent.on_blob(REF, third)
    recent.on_change(event("b", "update"), now=11.2)
    assert b.snapshot is third and b.json()["snapshot"] == 3


def test_a_stale_picture_is_not_claimed() -> None:
    recent = RecentEvents(kept=10)
    recent.on_blob(REF, picture(1, received=0.0))
    recent.on_change(event("a", "start"), now=SNAPSHOT_LEAD + 1)
    entry = recent.find(REF, "a")
    assert entry is not None and entry.snapshot is None
