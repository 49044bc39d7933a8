"""An organization's audit streams, each with its backlog and lag computed by the same query
(one query for the whole list, however many streams or seals there are)."""

from __future__ import annotations

from typing import Any

from django.db.models import IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from audit.models import AuditSeal
from orgs.models import Organization
from siem.models import AuditStream


def _pending() -> Any:
    return AuditSeal.objects.filter(org_key=OuterRef("org_id"), seq__gt=OuterRef("cursor_seq"))


def streams_of(*, org: Organization) -> QuerySet[AuditStream]:
    """The organization's streams, with `pending_events` (sealed, not yet delivered) and
    `oldest_pending` (when the oldest of them was sealed)."""
    total = _pending().order_by().values("org_key").annotate(n=Sum("count")).values("n")[:1]
    oldest = _pending().order_by("seq").values("sealed_at")[:1]
    return (
        AuditStream.objects.filter(org=org)
        .annotate(
            pending_seal_events=Coalesce(Subquery(total, output_field=IntegerField()), 0),
            oldest_pending=Subquery(oldest),
        )
        .order_by("name")
    )


def stream_get(*, org: Organization, pk: Any) -> AuditStream | None:
    return streams_of(org=org).filter(pk=pk).first()


def lag(stream: AuditStream) -> dict[str, Any]:
    """Backlog and lag as the page and the API show them: events sealed but not delivered, and
    how long ago the oldest of them was sealed (0 when caught up)."""
    pending = max(0, int(getattr(stream, "pending_seal_events", 0)) - stream.cursor_offset)
    oldest = getattr(stream, "oldest_pending", None)
    seconds = (timezone.now() - oldest).total_seconds() if oldest and pending else 0.0
    if stream.paused:
        state = "paused"
    elif stream.failures:
        state = "failing"
    elif pending:
        state = "catching up"
    else:
        state = "up to date"
    return {"state": state, "pending_events": pending, "lag_seconds": round(seconds, 1)}
