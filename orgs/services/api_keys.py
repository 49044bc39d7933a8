"""A member's API keys: minted once (only an HMAC is stored), revoked at will or with the
membership."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from audit.choices import AuditAction
from audit.services import audit_record
from core import tokens
from core.actors import Actor
from core.exceptions import ValidationFailed
from core.input import clean_line
from orgs.models import ApiKey, Membership
from orgs.services.guards import lock_membership

API_KEY_PREFIX = "gov_"


@transaction.atomic
def api_key_create(
    *, membership: Membership, label: str = "", actor: Actor | None
) -> tuple[ApiKey, str]:
    """Returns the key and its full secret; the secret is never stored and never shown again."""
    membership = lock_membership(membership)
    if not membership.is_active:
        raise ValidationFailed("A deactivated member cannot get an API key.")
    label = clean_line(label, field="label", what="label", max_length=100)
    prefix, secret, key_hash = tokens.mint(API_KEY_PREFIX)
    key = ApiKey.objects.create(
        membership=membership, label=label, prefix=prefix, key_hash=key_hash
    )
    audit_record(
        action=AuditAction.API_KEY_CREATED,
        org=membership.org,
        actor=actor,
        target=key,
        data={"new": {"label": label, "member": membership.user.email}},
    )
    return key, secret


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: Actor | None) -> ApiKey:
    api_key = (
        ApiKey.objects.select_for_update(of=("self",))
        .select_related("membership__org")
        .get(pk=api_key.pk)
    )
    if api_key.revoked_at is not None:
        return api_key
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    audit_record(
        action=AuditAction.API_KEY_REVOKED,
        org=api_key.membership.org,
        actor=actor,
        target=api_key,
        data={"label": api_key.label},
    )
    return api_key
