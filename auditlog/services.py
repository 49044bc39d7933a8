"""Verification runs of the audit trail: the check itself is audit.verification; this records
each run (AuditVerification), audits it, and a failure becomes an alert on the audit page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.choices import AuditAction
from audit.models import AuditVerification
from audit.services import audit_record
from audit.verification import verify
from core.actors import Actor, describe_actor
from core.exceptions import ValidationFailed
from orgs.models import Organization


def verification_run(
    *, org: Organization | None, actor: Actor | None, since: datetime | None = None
) -> AuditVerification:
    """Verify one organization's trail (None: the events of no organization), keep the result,
    and audit it: `audit.verified`, or `audit.verification_failed` with the first broken link."""
    run = AuditVerification.objects.create(
        org_key=org.pk if org else 0,
        requested_by=describe_actor(actor)[2][:300],
    )
    report = verify(org.pk if org else 0, since=since)
    with transaction.atomic():
        run.finished_at = timezone.now()
        run.ok = report["ok"]
        run.report = report
        run.save(update_fields=["finished_at", "ok", "report"])
        audit_record(
            action=AuditAction.AUDIT_VERIFIED
            if report["ok"]
            else AuditAction.AUDIT_VERIFICATION_FAILED,
            org=org,
            actor=actor,
            target_type="audit_trail",
            target_id=str(org.pk if org else 0),
            target_label=f"audit trail of {org.name if org else 'no organization'}",
            data=_summary(report),
        )
    return run


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    return {
        "ok": report["ok"],
        "events_checked": report["events_checked"],
        "seals_checked": report["seals_checked"],
        "first_broken": report["first_broken"],
    }


def last_verification(org: Organization) -> AuditVerification | None:
    return AuditVerification.objects.filter(org_key=org.pk).order_by("-id").first()


EXPORT_FORMATS = ("jsonl", "csv")


def export_start(
    *, org: Organization, actor: Actor | None, filters: Any, fmt: str, door: str
) -> Iterator[str]:
    """Audit the export (who, which filters, which format, through which door), then stream
    it: JSON Lines with the seals that cover it, or CSV (auditlog.export)."""
    from auditlog import export

    if fmt not in EXPORT_FORMATS:
        raise ValidationFailed("format is jsonl or csv.")
    with transaction.atomic():
        audit_record(
            action=AuditAction.AUDIT_EXPORTED,
            org=org,
            actor=actor,
            target_type="audit_trail",
            target_id=str(org.pk),
            target_label=f"audit trail of {org.name}",
            data={
                "format": fmt,
                "door": door,
                "filters": {k: v for k, v in export.filter_dict(filters).items() if v},
            },
        )
    return export.jsonl(org, filters) if fmt == "jsonl" else export.csv_rows(org, filters)
