"""Starts a child that outlives it, prints both pids, then exits with code 3 (or waits)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

child = subprocess.Popen(["sleep", "300"])
print(f"leader {os.getpid()} child {child.pid}", flush=True)
if sys.argv[1:] == ["wait"]:
    time.sleep(300)
sys.exit(3)
