"""roost: small services that talk only through retained MQTT topics.

The library every service imports: the topic contract (`roost.topics`), the payload
models (`roost.models`), the managed connection (`roost.bus`), the node runtime
(`roost.node`), Home Assistant discovery (`roost.discovery`), the state mirror
(`roost.mirror`), settings, logging, the CLI and the pytest plugin (`roost.testing`).
"""

__version__ = "0.1.0"
