"""The one error type of the server: an HTTP status plus the API's JSON error body.

Store and handlers raise :class:`Problem`; the ASGI app turns it into
``{"error": {"code": ..., "message": ...}}``. Keeping HTTP semantics in the exception lets
the store stay ignorant of requests while still naming the right status.
"""

from __future__ import annotations

from typing import Optional

import orjson

__all__ = ["Problem", "STATUS_CODES", "error_body"]

# Default error code per status (for injected errors and generic failures).
STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}


class Problem(Exception):
    """An error answer: ``status``, a snake_case ``code`` and a readable ``message``."""

    def __init__(self, status: int, message: str, code: Optional[str] = None):
        self.status = status
        self.code = code or STATUS_CODES.get(status, "error")
        self.message = message
        super().__init__(f"{status} {self.code}: {message}")

    @classmethod
    def bad_request(cls, message: str) -> "Problem":
        return cls(400, message)

    @classmethod
    def not_found(cls, message: str) -> "Problem":
        return cls(404, message)

    @classmethod
    def conflict(cls, message: str) -> "Problem":
        return cls(409, message)

    def body(self) -> bytes:
        return error_body(self.code, self.message)


def error_body(code: str, message: str) -> bytes:
    """The JSON error body every non-2xx answer carries."""
    return orjson.dumps({"error": {"code": code, "message": message}})
