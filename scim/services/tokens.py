"""SCIM bearer tokens: one organization each, shown once, stored as an HMAC."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from audit.choices import AuditAction
from audit.services import audit_record
from core import tokens
from core.actors import Actor
from core.input import clean_line
from orgs.models import Organization
from scim.models import ScimToken

SCIM_TOKEN_PREFIX = "scim_"


@transaction.atomic
def scim_token_create(
    *, org: Organization, label: str = "", actor: Actor | None
) -> tuple[ScimToken, str]:
    """Returns the token and its secret. The secret is shown once and stored only as an HMAC
    (a keyed hash, not a slow password hash: each SCIM request checks it)."""
    label = clean_line(label, field="label", what="label", max_length=100)
    prefix, secret, key_hash = tokens.mint(SCIM_TOKEN_PREFIX)
    token = ScimToken.objects.create(org=org, label=label, prefix=prefix, key_hash=key_hash)
    audit_record(
        action=AuditAction.SCIM_TOKEN_CREATED,
        org=org,
        actor=actor,
        target=token,
        data={"new": {"label": label, "prefix": prefix}},
    )
    return token, secret


@transaction.atomic
def scim_token_revoke(*, token: ScimToken, actor: Actor | None) -> ScimToken:
    token = ScimToken.objects.select_for_update(of=("self",)).select_related("org").get(pk=token.pk)
    if token.revoked_at is not None:
        return token
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit_record(
        action=AuditAction.SCIM_TOKEN_REVOKED,
        org=token.org,
        actor=actor,
        target=token,
        data={"label": token.label, "prefix": token.prefix},
    )
    return token
