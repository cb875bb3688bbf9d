"""The one error the web UI's routes raise: an HTTP status with roost's error body."""

from __future__ import annotations

from starlette.responses import JSONResponse


class ApiError(Exception):
    """Answered as `{"error": {"code", "message"}}` with `status`."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
