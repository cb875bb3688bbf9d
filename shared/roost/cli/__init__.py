"""The `roost` command line: inspect and drive a running system through the broker."""
