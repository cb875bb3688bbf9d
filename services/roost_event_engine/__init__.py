"""roost event engine: JavaScript automations on MQTT."""
