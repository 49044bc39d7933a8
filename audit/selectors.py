"""Audit reads: newest first, filtered, keyset-paged (constant cost however deep the page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.db.models.functions import Lower

from audit.choices import DENIED_ACTIONS, FAILED_ACTIONS, actions_matching
from audit.models import AuditEvent, AuditSeal
from audit.sealing import sealing_key
from core.actors import ActorKind


@dataclass(frozen=True)
class AuditFilter:
    """What the audit log can be searched by, each answered by an index at any volume:

    - `actor`: the actor's label (an e-mail, an API key's or token's label), whole and
      case-insensitive; or `kind:id` (`user:12`, `api_key:3`);
    - `action` / `actions`: exact names, or prefixes ending in a dot (`scim.`), expanded
      through the registry into names;
    - `target`: `type:id` (`team:7`), `type:` (every team), or the resource's label, whole and
      case-insensitive;
    - `outcome`: allowed, denied or failed (audit.choices);
    - `since` / `until`: the time window.
    """

    actor: str = ""
    action: str = ""
    actions: tuple[str, ...] = ()
    target: str = ""
    outcome: str = ""
    since: datetime | None = None
    until: datetime | None = None


def audit_events(*, org: object, filters: AuditFilter | None = None) -> QuerySet[AuditEvent]:
    f = filters or AuditFilter()
    qs = AuditEvent.objects.filter(org_id=org.pk)
    if f.actor:
        kind, sep, ident = f.actor.partition(":")
        if sep and kind in ActorKind.values and ident:
            qs = qs.filter(actor_kind=kind, actor_id=ident)
        else:
            qs = qs.annotate(actor_key=Lower("actor_label")).filter(actor_key=f.actor.lower())
    patterns = [p for p in (f.action, *f.actions) if p]
    if patterns:
        names = sorted({n for p in patterns for n in actions_matching(p)})
        qs = qs.filter(action__in=names)
    if f.outcome == "denied":
        qs = qs.filter(action__in=sorted(DENIED_ACTIONS))
    elif f.outcome == "failed":
        qs = qs.filter(action__in=sorted(FAILED_ACTIONS))
    elif f.outcome == "allowed":
        qs = qs.exclude(action__in=sorted(DENIED_ACTIONS | FAILED_ACTIONS))
    if f.target:
        t_type, sep, t_id = f.target.partition(":")
        if sep and t_id:
            qs = qs.filter(target_type=t_type, target_id=t_id)
        elif sep:
            qs = qs.filter(target_type=t_type)
        else:
            qs = qs.annotate(target_key=Lower("target_label")).filter(target_key=f.target.lower())
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


def event_in(*, org: object, pk: object) -> AuditEvent | None:
    from core.input import as_id

    pk = as_id(pk)
    return AuditEvent.objects.filter(org_id=org.pk, pk=pk).first() if pk else None


def seal_of(event: AuditEvent) -> AuditSeal | None:
    """The seal whose range holds the event, or None while it waits for the sealer."""
    key = event.xact if sealing_key() == "xact" else event.pk
    return (
        AuditSeal.objects.filter(org_key=event.org_id or 0, bound_hi__gt=key or 0)
        .order_by("seq")
        .only("seq", "sealed_at", "count", "key_id")
        .first()
    )
