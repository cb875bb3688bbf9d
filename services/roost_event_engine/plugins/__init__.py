"""Plugins: Python functions scripts call by name, as `home.<name>(...)` or
`home.plugins.<name>(...)`.

A plugin is one file with one subclass of `Plugin`; defining the class registers it.
Calls are carried out by the engine after the script's function returns (scripts never
wait on I/O); a plugin that answers later does so by calling a function of the script
by name (`callback` is the index of the argument that names it).
"""

from roost_event_engine.plugins.base import Plugin, PluginError, PluginHost
from roost_event_engine.plugins.http import HttpPlugin
from roost_event_engine.plugins.notify import NotifyPlugin
from roost_event_engine.plugins.publish import PublishPlugin
from roost_event_engine.plugins.schedule import SchedulePlugin, UnschedulePlugin

__all__ = [
    "HttpPlugin",
    "NotifyPlugin",
    "Plugin",
    "PluginError",
    "PluginHost",
    "PublishPlugin",
    "SchedulePlugin",
    "UnschedulePlugin",
]
