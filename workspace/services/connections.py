"""Integration connections of an organization: who connected which integration, when. The
secret material arrives with the credentials issue; a connection holds a reference to it, never
a secret in clear. Connecting needs `integrations.connect` (decision function), audited."""

from __future__ import annotations

from django.db import transaction

from audit.choices import AuditAction
from audit.services import audit_record
from core.actors import Actor, describe_actor
from core.exceptions import ValidationFailed
from core.input import clean_line
from orgs.models import Organization
from orgs.rbac import INTEGRATIONS
from workspace.models import IntegrationConnection
from workspace.services.guard import require

NAMES = dict(INTEGRATIONS)


def connection_create(
    *, org: Organization, integration: str, label: str, actor: Actor | None
) -> IntegrationConnection:
    if integration not in NAMES:
        raise ValidationFailed(
            f"Unknown integration {integration!r}; use {', '.join(sorted(NAMES))}.",
            field="integration",
        )
    require(org=org, actor=actor, action="integration.connect")
    label = clean_line(label, field="label", what="label", max_length=100) or NAMES[integration]
    with transaction.atomic():
        connection = IntegrationConnection.objects.create(
            org=org,
            integration=integration,
            label=label,
            connected_by=describe_actor(actor)[2][:300],
        )
        audit_record(
            action=AuditAction.INTEGRATION_CONNECTED,
            org=org,
            actor=actor,
            target=connection,
            data={"new": {"integration": integration, "label": label}},
        )
        return connection


def connection_delete(*, connection: IntegrationConnection, actor: Actor | None) -> None:
    require(org=connection.org, actor=actor, action="integration.connect")
    with transaction.atomic():
        audit_record(
            action=AuditAction.INTEGRATION_DISCONNECTED,
            org=connection.org,
            actor=actor,
            target=connection,
            data={"old": {"integration": connection.integration, "label": connection.label}},
        )
        connection.delete()
