"""What the browser receives: nodes, devices, events and errors as plain JSON objects.

One shape for the WebSocket snapshot, its updates and the JSON API, so a script using
the API sees exactly what the page draws.
"""

from __future__ import annotations

from typing import Any

from pydantic_core import to_json
from starlette.responses import JSONResponse

from roost.mirror import DeviceView, NodeView, StateView
from roost.models import ErrorPayload, EventPayload


def text(value: Any) -> str:
    """JSON a browser's JSON.parse takes: a peer's non-finite number (`1e999` reads as
    infinity) goes out as null, never as Infinity, which would break the whole page."""
    return to_json(value, inf_nan_mode="null").decode()


class WireResponse(JSONResponse):
    """The API's JSON answers, encoded as `text` (Starlette's refuses infinity: a 500
    for every device list that holds one)."""

    def render(self, content: Any) -> bytes:
        return to_json(content, inf_nan_mode="null")


def node_json(node: NodeView) -> dict[str, Any]:
    info = node.info
    stats = node.stats
    return {
        "id": node.id,
        "online": node.online,
        "info": info.model_dump(mode="json", by_alias=True) if info else None,
        "stats": stats.model_dump(mode="json") if stats else None,
        "devices": sorted(node.devices),
    }


def device_json(view: StateView, device: DeviceView) -> dict[str, Any]:
    return {
        "ref": device.ref,
        "node": device.node,
        "id": device.id,
        "meta": device.meta.wire() if device.meta else None,
        "state": device.state,
        "available": device.available,
        "online": view.online(device),
        "last_error": error_json(device.last_error) if device.last_error else None,
    }


def event_json(event: EventPayload) -> dict[str, Any]:
    return event.model_dump(mode="json", exclude_none=True)


def error_json(error: ErrorPayload) -> dict[str, Any]:
    return error.model_dump(mode="json", exclude_none=True)


def snapshot_json(view: StateView) -> dict[str, Any]:
    return {
        "nodes": [node_json(node) for node in sorted(view.nodes.values(), key=lambda n: n.id)],
        "devices": [
            device_json(view, device)
            for device in sorted(view.devices(), key=lambda d: (d.node, d.id))
        ],
    }


def find_method_node(view: StateView, method: str, prefer: str | None = None) -> str | None:
    """The node serving `method`: `prefer` if it is known, else an online node offering it."""
    if prefer is not None:
        return prefer
    candidates = [
        node
        for node in view.nodes.values()
        if node.info is not None and method in node.info.methods and node.info.state == "running"
    ]
    candidates.sort(key=lambda n: (not n.online, n.id))
    return candidates[0].id if candidates else None
