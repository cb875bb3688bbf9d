"""roost's supervisor: the hub that runs roost on one machine.

It runs apps (roost's own services and any user program) with one actor per app, reports
each app as a device whose state comes from what the OS says about the process, restarts
failing apps with a capped backoff, watches the host (disk, memory, load, temperature),
backs up SQLite databases on a schedule, and serves `roost up`, `roost init`, `roost
backup` and `roost restore`.
"""
