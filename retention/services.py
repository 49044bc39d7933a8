"""Retention settings and legal holds: every change audited with its old and new values. "Keep
forever" is only ever an explicit, confirmed choice; shortening a window and releasing a hold
are previewed by the dry run first (the pages and the API show it before they save)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.choices import AuditAction
from audit.services import audit_record
from core import retention as registry
from core.actors import Actor, describe_actor
from core.exceptions import ValidationFailed
from core.input import clean_line
from orgs.models import Membership, Organization, Team
from retention.choices import HoldScope
from retention.models import LegalHold, RetentionPolicy, TeamRetention
from retention.selection import windows_of
from workspace.models import Agent, Workflow

MAX_DAYS = 36_500  # a hundred years: longer is "keep forever", chosen as such


def window_days(category: str, value: Any, forever_confirmed: bool) -> int | None:
    if value is None or value == "forever":
        if not forever_confirmed:
            raise ValidationFailed(
                f"Keeping {registry.CATEGORIES[category].label.lower()} forever must be "
                "confirmed: send confirm_forever (the page asks), or give a number of days.",
                field=category,
            )
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationFailed(f"The window of {category} is a number of days.", field=category)
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or not 0 <= int(text) <= MAX_DAYS:
        raise ValidationFailed(
            f"The window of {category} is a whole number of days from 0 to {MAX_DAYS} "
            "(0: kept only until the next run).",
            field=category,
        )
    return int(text)


def _locked_policy(org: Organization) -> RetentionPolicy:
    """The organization's policy row, locked: enforcement batches take the same lock."""
    RetentionPolicy.objects.get_or_create(org=org)
    return RetentionPolicy.objects.select_for_update().get(org=org)


@transaction.atomic
def policy_set(
    *,
    org: Organization,
    actor: Actor | None,
    windows: dict[str, Any],
    confirm_forever: bool = False,
) -> dict[str, int | None]:
    """Sets the windows named (others keep theirs); returns the effective windows."""
    if not isinstance(windows, dict) or not windows:
        raise ValidationFailed("Send the windows as {category: days}.", field="windows")
    unknown = sorted(set(windows) - set(registry.CATEGORIES))
    if unknown:
        raise ValidationFailed(
            f"Unknown category {unknown[0]!r}; the categories are "
            f"{', '.join(sorted(registry.CATEGORIES))}.",
            field="windows",
        )
    policy = _locked_policy(org)
    before = windows_of(org)
    new = {c: window_days(c, v, confirm_forever) for c, v in windows.items()}
    changed = {c: d for c, d in new.items() if before[c] != d}
    if not changed:
        return before
    policy.windows = {**policy.windows, **changed}
    policy.updated_at = timezone.now()
    policy.save(update_fields=["windows", "updated_at"])
    audit_record(
        action=AuditAction.RETENTION_POLICY_CHANGED,
        org=org,
        actor=actor,
        data={"old": {c: before[c] for c in changed}, "new": changed},
    )
    return windows_of(org)


@transaction.atomic
def team_window_set(
    *,
    team: Team,
    actor: Actor | None,
    category: str,
    days: Any,
    confirm_forever: bool = False,
    clear: bool = False,
) -> TeamRetention | None:
    """A team's own window for one category of run data (or, with `clear`, none)."""
    entry = registry.CATEGORIES.get(category)
    if entry is None or not entry.per_team:
        per_team = sorted(k for k, c in registry.CATEGORIES.items() if c.per_team)
        raise ValidationFailed(
            f"A team can set only the windows of run data: {', '.join(per_team)}.",
            field="category",
        )
    _locked_policy(team.org)
    row = TeamRetention.objects.filter(team=team, category=category).first()
    old = "none" if row is None else row.days
    if clear:
        if row is None:
            return None
        row.delete()
        new: Any = "none"
        result = None
    else:
        value = window_days(category, days, confirm_forever)
        if row is not None and row.days == value:
            return row
        row, _ = TeamRetention.objects.update_or_create(
            team=team, category=category, defaults={"org": team.org, "days": value}
        )
        new, result = value, row
    audit_record(
        action=AuditAction.RETENTION_TEAM_WINDOW_CHANGED,
        org=team.org,
        actor=actor,
        target=team,
        data={"category": category, "old": old, "new": new},
    )
    return result


@transaction.atomic
def zdr_set(
    *,
    org: Organization,
    actor: Actor | None,
    enabled: bool,
    resource: Agent | Workflow | None = None,
) -> bool:
    """Zero data retention for the organization, or for one agent or workflow. Switched on,
    no new content is written; what is stored is emptied by the next run (its dry run counts
    it first)."""
    if not isinstance(enabled, bool):
        raise ValidationFailed("enabled is true or false.", field="enabled")
    _locked_policy(org)
    target: Any = resource or org
    model = type(target)
    current = model.objects.select_for_update().get(pk=target.pk)
    if current.zero_data_retention == enabled:
        return enabled
    model.objects.filter(pk=target.pk).update(zero_data_retention=enabled)
    audit_record(
        action=AuditAction.RETENTION_ZDR_CHANGED,
        org=org,
        actor=actor,
        target=target,
        data={"old": not enabled, "new": enabled},
    )
    return enabled


def _target(org: Organization, scope: str, target_id: Any) -> tuple[int | None, str]:
    if scope == HoldScope.ORG:
        return None, org.name
    models = {
        HoldScope.TEAM: Team,
        HoldScope.MEMBER: Membership,
        HoldScope.AGENT: Agent,
        HoldScope.WORKFLOW: Workflow,
    }
    if scope not in models:
        raise ValidationFailed("The scope is org, team, member, agent or workflow.", field="scope")
    text = str(target_id if target_id is not None else "")
    obj = (
        models[scope].objects.filter(org=org, pk=int(text)).first()
        if text.isascii() and text.isdigit() and len(text) < 19
        else None
    )
    if obj is None:
        raise ValidationFailed(
            f"No {scope} with id {text[:20]!r} in this organization.", field="target"
        )
    label = obj.user.email if scope == HoldScope.MEMBER else str(obj)
    return obj.pk, label


@transaction.atomic
def hold_place(
    *,
    org: Organization,
    actor: Actor | None,
    scope: str,
    target_id: Any = None,
    reason: str,
    case_reference: str = "",
    starts: datetime | None = None,
    ends: datetime | None = None,
) -> LegalHold:
    """A legal hold: what it covers is never deleted until it is released."""
    pk, label = _target(org, scope, target_id)
    reason = clean_line(reason, field="reason", what="reason", max_length=1000)
    if not reason:
        raise ValidationFailed("Say why the data is held (the matter).", field="reason")
    case_reference = clean_line(
        case_reference, field="case_reference", what="case reference", max_length=200
    )
    if starts and ends and ends <= starts:
        raise ValidationFailed("The hold's end must be after its start.", field="ends")
    _locked_policy(org)  # serialized with enforcement batches: honoured from the next one
    hold = LegalHold.objects.create(
        org=org,
        scope=scope,
        target_id=pk,
        target_label=label[:300],
        starts=starts,
        ends=ends,
        reason=reason,
        case_reference=case_reference,
        created_by=describe_actor(actor)[2][:300],
    )
    audit_record(
        action=AuditAction.RETENTION_HOLD_PLACED,
        org=org,
        actor=actor,
        target=hold,
        data={
            "scope": scope,
            "target": label,
            "starts": starts.isoformat() if starts else None,
            "ends": ends.isoformat() if ends else None,
            "reason": reason,
            "case_reference": case_reference,
        },
    )
    return hold


@transaction.atomic
def hold_release(*, hold: LegalHold, actor: Actor | None) -> LegalHold:
    _locked_policy(hold.org)
    hold = LegalHold.objects.select_for_update().get(pk=hold.pk)
    if hold.released_at is not None:
        return hold
    hold.released_at = timezone.now()
    hold.released_by = describe_actor(actor)[2][:300]
    hold.save(update_fields=["released_at", "released_by"])
    audit_record(
        action=AuditAction.RETENTION_HOLD_RELEASED,
        org=hold.org,
        actor=actor,
        target=hold,
        data={
            "scope": hold.scope,
            "target": hold.target_label,
            "case_reference": hold.case_reference,
        },
    )
    return hold
