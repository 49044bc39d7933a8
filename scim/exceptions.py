from __future__ import annotations

from core.exceptions import ServiceError


class ScimError(ServiceError):
    """An error in the SCIM error schema (RFC 7644 §3.12)."""

    status = 400
    scim_type: str | None = None

    def __init__(
        self, message: str, *, status: int | None = None, scim_type: str | None = None
    ) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        if scim_type is not None:
            self.scim_type = scim_type


class InvalidFilter(ScimError):
    scim_type = "invalidFilter"
