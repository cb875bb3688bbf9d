"""Test support for roost and for users' own tests: a real Mosquitto and waiters.

Enable the fixtures with `pytest_plugins = ["roost.testing.plugin"]` in a conftest.
"""

from roost.testing.broker import Broker, MosquittoBroker, start_broker
from roost.testing.watch import Watcher

__all__ = ["Broker", "MosquittoBroker", "Watcher", "start_broker"]
