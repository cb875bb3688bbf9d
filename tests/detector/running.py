"""Running the detector service inside a test, against the test's broker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from roost.settings import RoostSettings
from roost_detector.__main__ import DetectorService
from roost_detector.settings import DetectorSection, Settings


def detector_settings(base: RoostSettings, **section: Any) -> Settings:
    options: dict[str, Any] = {"detect_fps": 5, "motion": {"warmup_frames": 2}}
    options.update(section)
    return Settings(
        mqtt=base.mqtt, node=base.node, detector=DetectorSection.model_validate(options)
    )


@contextlib.asynccontextmanager
async def running_detector(settings: Settings) -> AsyncIterator[DetectorService]:
    service = DetectorService(settings)
    async with service.running():
        await service.node.wait_online(10)
        report = asyncio.create_task(service.report())
        try:
            yield service
        finally:
            report.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await report
