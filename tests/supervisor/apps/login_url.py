"""Writes a login URL where the web UI writes one (docs/services/webui.md), then waits."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

path = Path(os.environ["ROOST_NODE__DATA_DIR"]) / "webui" / "login-url"
path.parent.mkdir(parents=True, exist_ok=True)
path.write_text(sys.argv[1] + "\n")
# Stamped an hour ago, as a data dir whose file system's clock lags this one's would be
# (a network share): roost up must see a new file, whatever its clock says.
an_hour_ago = time.time() - 3600
os.utime(path, (an_hour_ago, an_hour_ago))
time.sleep(600)
