"""Domain errors. Interfaces (pages, API, SCIM, commands) turn them into their own error shape."""

from __future__ import annotations


class ServiceError(Exception):
    """A request the domain refuses. `message` is written for the person who sent it."""

    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(ServiceError):
    code = "invalid"


class NotFound(ServiceError):
    code = "not_found"


class Conflict(ServiceError):
    code = "conflict"


class PermissionDenied(ServiceError):
    """`reasons`: the decision function's reasons, when it decided (each door shows them)."""

    code = "permission_denied"

    def __init__(
        self, message: str, *, field: str | None = None, reasons: list[str] | None = None
    ) -> None:
        super().__init__(message, field=field)
        self.reasons = list(reasons or [])


class LastAdminError(Conflict):
    code = "last_admin"
