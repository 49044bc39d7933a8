"""View as: an admin sees the dashboard as one member sees it, read-only, audited from start to
stop. The session carries it (orgs.access.viewing_as); these services check and record."""

from __future__ import annotations

from django.db import transaction

from audit.choices import AuditAction
from audit.services import audit_record
from core.actors import Actor
from core.exceptions import PermissionDenied, ValidationFailed
from orgs import rbac
from orgs.models import Membership


@transaction.atomic
def view_as_start(*, admin: Membership, member: Membership, actor: Actor | None) -> None:
    if not rbac.is_admin(admin):
        raise PermissionDenied("Only an org admin can view the dashboard as another member.")
    if member.org_id != admin.org_id or not member.is_active:
        raise ValidationFailed("Choose an active member of this organization.")
    if member.pk == admin.pk:
        raise ValidationFailed("You already see the dashboard as yourself.")
    audit_record(
        action=AuditAction.VIEW_AS_STARTED,
        org=admin.org,
        actor=actor,
        target=member,
        data={"member": member.user.email},
    )


@transaction.atomic
def view_as_stop(*, admin: Membership, member: Membership | None, actor: Actor | None) -> None:
    audit_record(
        action=AuditAction.VIEW_AS_STOPPED,
        org=admin.org,
        actor=actor,
        target=member,
        data={"member": member.user.email if member else None},
    )
