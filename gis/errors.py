"""One error hierarchy for the whole service.

Every error carries an HTTP status and a message in Ukrainian and English, so the web layer can
turn it into a 4xx answer and the CLI into a one-line message — never a stack trace.
"""
from __future__ import annotations


class HromadaError(Exception):
    """Base class: a problem the user can understand and fix."""

    http_status = 400
    code = "bad_request"

    def __init__(self, uk: str, en: str | None = None, **details):
        self.uk = uk
        self.en = en or uk
        self.details = details
        super().__init__(f"{self.uk} / {self.en}")

    def message(self, lang: str = "uk") -> str:
        return self.en if lang == "en" else self.uk

    def to_dict(self) -> dict:
        out = {"error": self.code, "message": {"uk": self.uk, "en": self.en}}
        if self.details:
            out["details"] = self.details
        return out


class InvalidInput(HromadaError):
    http_status = 400
    code = "invalid_input"


class InvalidGeometry(InvalidInput):
    code = "invalid_geometry"


class Unprocessable(HromadaError):
    """Well-formed but impossible to act on (e.g. a point outside every hromada)."""

    http_status = 422
    code = "unprocessable"


class NotFound(HromadaError):
    http_status = 404
    code = "not_found"


class Forbidden(HromadaError):
    http_status = 403
    code = "forbidden"


class Conflict(HromadaError):
    http_status = 409
    code = "conflict"


class Unauthorized(HromadaError):
    http_status = 401
    code = "unauthorized"


class PreconditionFailed(HromadaError):
    """A write based on an old version (If-Match names another ETag)."""

    http_status = 412
    code = "precondition_failed"


class PreconditionRequired(HromadaError):
    """A write that names no version at all."""

    http_status = 428
    code = "precondition_required"


class UnsupportedMediaType(HromadaError):
    http_status = 415
    code = "unsupported_media_type"


class DatabaseUnavailable(HromadaError):
    """The database cannot be started or reached; the message says why and what to do."""

    http_status = 503
    code = "database_unavailable"
