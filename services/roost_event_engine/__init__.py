"""roost event engine: auto-home JavaScript automations on MQTT."""
