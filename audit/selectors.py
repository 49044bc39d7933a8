"""Audit reads: newest first, filtered, keyset-paged (constant cost however deep the page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from audit.models import AuditEvent


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""  # matches the actor's label (e-mail, key or token label), case-insensitive
    action: str = ""  # an exact action name, or a prefix ending in "." (e.g. "member.")
    actions: tuple[str, ...] = ()  # several such names or prefixes: any of them
    target: str = ""  # matches the target's label or "type:id"
    since: datetime | None = None
    until: datetime | None = None


def audit_events(*, org: object, filters: AuditFilter | None = None) -> QuerySet[AuditEvent]:
    f = filters or AuditFilter()
    qs = AuditEvent.objects.filter(org_id=org.pk)
    if f.actor:
        qs = qs.filter(actor_label__icontains=f.actor)
    if f.action:
        if f.action.endswith("."):
            qs = qs.filter(action__startswith=f.action)
        else:
            qs = qs.filter(action=f.action)
    if f.actions:
        any_of = Q(pk__in=[])
        for name in f.actions:
            any_of |= Q(action__startswith=name) if name.endswith(".") else Q(action=name)
        qs = qs.filter(any_of)
    if f.target:
        if ":" in f.target:
            t_type, _, t_id = f.target.partition(":")
            qs = qs.filter(target_type=t_type, target_id=t_id)
        else:
            qs = qs.filter(Q(target_label__icontains=f.target))
    if f.since:
        qs = qs.filter(occurred_at__gte=f.since)
    if f.until:
        qs = qs.filter(occurred_at__lt=f.until)
    return qs.order_by("-id")


def audit_page(
    *,
    org: object,
    filters: AuditFilter | None = None,
    before: int | None = None,
    limit: int = 50,
) -> tuple[list[AuditEvent], int | None]:
    """One page of events older than `before` (an event id), and the cursor of the next page."""
    qs = audit_events(org=org, filters=filters)
    if before is not None:
        qs = qs.filter(id__lt=before)
    rows = list(qs[: limit + 1])
    next_cursor = rows[limit - 1].id if len(rows) > limit else None
    return rows[:limit], next_cursor
