"""roost's web UI: a live dashboard over the retained state of every node and device.

It is a node itself (so it shows in `roost status`) and a controller: it mirrors the
broker's retained topics, pushes changes to browsers over a WebSocket, and turns every
click into a command (`/set`) or a request on the broker. It owns no device state.
"""
