"""Running the camera service inside a test, against the test's broker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from roost.settings import RoostSettings
from roost_camera.__main__ import CameraService
from roost_camera.deleter import DiskProbe, disk_usage
from roost_camera.settings import CameraConfig, CameraSection, Settings, SyntheticSourceConfig


def small_camera(**overrides: Any) -> CameraConfig:
    """A light synthetic camera: 160×120, no writers unless asked."""
    source = overrides.pop("source", SyntheticSourceConfig(width=160, height=120, figure=False))
    options: dict[str, Any] = {
        "source": source,
        "fps": 10,
        "snapshot_interval": 0.5,
        "jpeg_interval": 0,
        "recording": False,
    }
    options.update(overrides)
    return CameraConfig.model_validate(options)


def camera_settings(
    base: RoostSettings, tmp_path: Path, cameras: dict[str, CameraConfig], **section: Any
) -> Settings:
    return Settings(
        mqtt=base.mqtt,
        node=base.node,
        camera=CameraSection.model_validate({"cameras": cameras, "shm_dir": tmp_path, **section}),
    )


@contextlib.asynccontextmanager
async def running_camera(
    settings: Settings, *, probe: DiskProbe = disk_usage
) -> AsyncIterator[CameraService]:
    service = CameraService(settings, probe=probe)
    async with service.running():
        await service.node.wait_online(10)
        tasks = [asyncio.create_task(part) for part in service.parts()]
        try:
            yield service
        finally:
            for task in tasks:
                task.cancel()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for result in results:
                if isinstance(result, Exception):
                    raise result
