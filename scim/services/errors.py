"""Refused SCIM requests, kept 7 days for the dashboard's "recent errors"."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from core.holds import holds_covering
from core.input import storable
from scim.models import ScimRequestError, ScimToken

ERROR_LOG_DAYS = 7


def scim_error_record(
    *, token: ScimToken, method: str, path: str, status: int, scim_type: str | None, detail: str
) -> None:
    """Log a refused request for the dashboard. Not audited: nothing changed."""
    now = timezone.now()
    # Pruned here (a flood of refusals must not grow the table), except under an organization
    # hold, which keeps everything it covers.
    if not holds_covering(token.org_id, "org"):
        ScimRequestError.objects.filter(
            org_id=token.org_id, at__lt=now - timedelta(days=ERROR_LOG_DAYS)
        ).delete()
    ScimRequestError.objects.create(
        org_id=token.org_id,
        token=token,
        at=now,
        method=storable(method)[:10],
        path=storable(path)[:300],
        status=status,
        scim_type=scim_type or "",
        detail=storable(detail)[:500],
    )
