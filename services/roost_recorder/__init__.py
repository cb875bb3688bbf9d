"""roost's recorder: every device state and event, kept losslessly in SQLite.

It reads state and event topics through a persistent MQTT session and acknowledges each
message only after the batch holding it is committed, so neither a restart nor a crash
loses one. Numbers are kept raw for a while and as 1-minute and 10-minute aggregates for
longer; an optional InfluxDB sink copies them out; `history` answers queries over MQTT.
"""
