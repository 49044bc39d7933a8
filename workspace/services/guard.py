"""Every workspace write asks the decision function first, outside the write's transaction:
a refusal is recorded as a denied attempt (`access.denied`, audited in its own transaction, so
it survives the refusal) and raised as PermissionDenied."""

from __future__ import annotations

from django.db import transaction

from audit.choices import AuditAction
from audit.services import audit_record
from core.actors import Actor, SystemActor
from core.exceptions import PermissionDenied
from orgs.models import Membership, Organization
from orgs.services.guards import acting_membership
from workspace.decisions import Decision, Question, decide


def require(
    *,
    org: Organization,
    actor: Actor | None,
    action: str,
    resource: tuple[str, int] | None = None,
    integration: str | None = None,
) -> Membership | None:
    """The acting membership when the action is allowed (None for the system, which may do
    anything); otherwise the attempt is audited and PermissionDenied says why. Any other actor
    that is not a member (a SCIM token, a service key) is refused: they act on the workspace
    only through doors that decide for a named member."""
    membership = acting_membership(actor, org)
    if membership is None:
        if actor is None or isinstance(actor, SystemActor):
            return None
        raise PermissionDenied(f"{action} refused: only a member of the organization may do it.")
    decision: Decision = decide(
        org, Question(membership.pk, action, resource=resource, integration=integration)
    )
    if decision.allowed:
        return membership
    with transaction.atomic():
        audit_record(
            action=AuditAction.ACCESS_DENIED,
            org=org,
            actor=actor,
            target_type=resource[0] if resource else "organization",
            target_id=str(resource[1]) if resource else str(org.pk),
            target_label=f"{resource[0]} {resource[1]}" if resource else org.name,
            data={"action": action, "reasons": decision.reasons},
        )
    raise PermissionDenied(
        f"{action} refused: " + "; ".join(decision.reasons) + ".", reasons=decision.reasons
    )
