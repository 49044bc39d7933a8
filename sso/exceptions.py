"""Domain errors of sign-in."""

from __future__ import annotations

from core.exceptions import ServiceError


class SsoFailure(ServiceError):
    """An SSO sign-in (or test) refused. `message` says why in plain words; it is shown to the
    admin on a test, written to the audit log, and never shown to an anonymous browser in full."""

    code = "sso_failed"
