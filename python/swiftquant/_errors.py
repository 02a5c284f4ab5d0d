"""The exception raised for every error the native library reports."""
from __future__ import annotations

__all__ = ["SwiftQuantError"]


class SwiftQuantError(ValueError):
    """An error reported by libSwiftQuant.

    A subclass of ``ValueError``: every native failure is a bad argument or bad data from the caller's
    point of view (an internal bug is reported as ``SQ_ERROR_INTERNAL``).

    Attributes:
        status: the native ``sq_status`` code (negative int).
        status_name: its name, e.g. ``"SQ_ERROR_SHAPE"``.
    """

    def __init__(self, message: str, status: int = -100, status_name: str = "SQ_ERROR_INTERNAL"):
        super().__init__(message)
        self.status = int(status)
        self.status_name = str(status_name)

    def __reduce__(self):
        return (type(self), (str(self), self.status, self.status_name))
