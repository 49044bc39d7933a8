"""Service keys: the organization's keys for the agent runtime (decisions, runs). Only an
admin makes or revokes them; the secret is shown once and only its HMAC is stored."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from audit.choices import AuditAction
from audit.services import audit_record
from core import tokens
from core.actors import Actor, describe_actor
from core.input import clean_line
from orgs.models import Organization, ServiceKey
from orgs.services.guards import require_admin_for_admin_changes

SERVICE_KEY_PREFIX = "gsk_"


@transaction.atomic
def service_key_create(
    *, org: Organization, label: str = "", actor: Actor | None
) -> tuple[ServiceKey, str]:
    require_admin_for_admin_changes(actor, org)
    label = clean_line(label, field="label", what="label", max_length=100)
    prefix, secret, key_hash = tokens.mint(SERVICE_KEY_PREFIX)
    key = ServiceKey.objects.create(
        org=org,
        label=label,
        prefix=prefix,
        key_hash=key_hash,
        created_by=describe_actor(actor)[2][:300],
    )
    audit_record(
        action=AuditAction.SERVICE_KEY_CREATED,
        org=org,
        actor=actor,
        target=key,
        data={"new": {"label": label, "prefix": prefix}},
    )
    return key, secret


@transaction.atomic
def service_key_revoke(*, key: ServiceKey, actor: Actor | None) -> ServiceKey:
    key = ServiceKey.objects.select_for_update(of=("self",)).select_related("org").get(pk=key.pk)
    require_admin_for_admin_changes(actor, key.org)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(
            action=AuditAction.SERVICE_KEY_REVOKED,
            org=key.org,
            actor=actor,
            target=key,
            data={"old": {"active": True}, "new": {"active": False}},
        )
    return key
