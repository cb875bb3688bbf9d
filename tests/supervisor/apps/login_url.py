"""Writes a login URL where the web UI writes one (docs/services/webui.md), then waits."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

path = Path(os.environ["ROOST_NODE__DATA_DIR"]) / "webui" / "login-url"
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(sys.argv[1] + "\n")
time.sleep(600)
