"""The uploader's HTTP target: a multipart/form-data POST with httpx."""

from __future__ import annotations

from pathlib import Path

import httpx

from roost_camera.settings import UploadConfig
from roost_camera.uploader import PendingUpload, Target, UploadError


class HttpTarget(Target):
    """multipart/form-data POST: the file, plus `camera`, `kind`, `path` (relative, with its
    dated folders), `start` and `end` fields."""

    def __init__(self, config: UploadConfig) -> None:
        assert config.target is not None
        self.url = config.target
        self.field = config.field_name
        self.client = httpx.AsyncClient(timeout=config.timeout, headers=config.headers)

    async def send(self, entry: PendingUpload, path: Path) -> None:
        fields = {
            "camera": entry.camera,
            "kind": entry.kind,
            "path": entry.file,
            "start": str(entry.start),
            "end": str(entry.end),
        }
        content_type = "video/mp4" if entry.kind == "segment" else "image/jpeg"
        try:
            with path.open("rb") as handle:
                response = await self.client.post(
                    self.url, data=fields, files={self.field: (path.name, handle, content_type)}
                )
        except httpx.HTTPError as exc:
            raise UploadError(f"POST {self.url}: {type(exc).__name__} {exc}".strip()) from None
        if response.status_code >= 300:
            raise UploadError(f"POST {self.url}: HTTP {response.status_code}")

    async def close(self) -> None:
        await self.client.aclose()

    def describe(self) -> str:
        return self.url
