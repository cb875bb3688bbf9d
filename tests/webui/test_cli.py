"""`roost webui url` prints the link the running web UI wrote."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from roost.cli.app import app, load_plugins
from roost.settings import RoostSettings

from .conftest import running, webui_settings

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def test_roost_webui_url_prints_the_login_link(
    roost_settings: RoostSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_plugins(app)
    monkeypatch.setenv("ROOST_NODE__DATA_DIR", str(roost_settings.node.data_dir))
    runner = CliRunner()
    missing = runner.invoke(app, ["webui", "url"])
    assert missing.exit_code == 2
    assert "no login link" in missing.output
    async with running(webui_settings(roost_settings)) as ui:
        shown = runner.invoke(app, ["webui", "url"])
        assert shown.exit_code == 0, shown.output
        assert shown.output.strip() == ui.login_link.url
        assert shown.output.startswith(ui.url + "/login?token=")
