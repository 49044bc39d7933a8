"""Gateway tokens: a member mints one for the gateway's audience and gives it to their MCP
client; the gateway accepts it only for that audience, until it expires or is revoked (by the
member, or with the membership)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.choices import AuditAction
from audit.services import audit_record
from core import tokens
from core.actors import Actor
from core.exceptions import ValidationFailed
from core.input import clean_line
from gateway.models import McpToken
from orgs.models import Membership

PREFIX = "gmt_"
# How a token is read with its member, user, organization, roles and servers
# (gateway.rows.with_grants: model, related paths, the membership's path, the field matched).
READ = (McpToken, ("membership", "membership__user", "membership__org"), "membership", "prefix")
MAX_DAYS = 365


def audience() -> str:
    """This gateway's resource URL (what RFC 9728's metadata names, and tokens are bound to)."""
    return settings.MCP_GATEWAY_URL.rstrip("/") + "/mcp"


def mcp_token_create(
    *, membership: Membership, label: str = "", days: Any = 30, actor: Actor | None
) -> tuple[McpToken, str]:
    """The token and its secret, shown once."""
    label = clean_line(label, field="label", what="label", max_length=100)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(f"days must be a whole number from 1 to {MAX_DAYS}.", field="days")
    with transaction.atomic():
        member = (
            Membership.objects.select_for_update()
            .select_related("org", "user")
            .get(pk=membership.pk)
        )
        if not member.is_active:
            raise ValidationFailed("A deactivated member cannot get a gateway token.")
        prefix, secret, key_hash = tokens.mint(PREFIX)
        token = McpToken.objects.create(
            org=member.org,
            membership=member,
            label=label,
            prefix=prefix,
            key_hash=key_hash,
            audience=audience(),
            expires_at=timezone.now() + timedelta(days=days),
        )
        audit_record(
            action=AuditAction.MCP_TOKEN_CREATED,
            org=member.org,
            actor=actor,
            target=token,
            data={"new": {"label": label, "audience": token.audience, "days": days}},
        )
    return token, secret


def mcp_token_revoke(*, token: McpToken, actor: Actor | None) -> McpToken:
    with transaction.atomic():
        current = McpToken.objects.select_for_update().get(pk=token.pk)
        if current.revoked_at is None:
            current.revoked_at = timezone.now()
            current.save(update_fields=["revoked_at"])
            audit_record(
                action=AuditAction.MCP_TOKEN_REVOKED,
                org=current.org,
                actor=actor,
                target=current,
                data={"label": current.label},
            )
    return current


def member_deactivated(membership: Membership, actor: Actor | None) -> None:
    """In the deactivation's transaction: the member's gateway tokens are revoked, audited."""
    revoked = McpToken.objects.filter(membership=membership, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if revoked:
        audit_record(
            action=AuditAction.MCP_TOKEN_REVOKED,
            org=membership.org,
            actor=actor,
            target=membership,
            data={"reason": "member deactivated", "tokens": revoked},
        )


def prefix_of(secret: str) -> str:
    """The public prefix of a gateway token ("" for anything else)."""
    return tokens.prefix_of(PREFIX, secret)


def _with_roles(prefix: str) -> McpToken | None:
    """The token by its prefix, its member, user and organization, the member's custom roles
    (`roles_held`: role id -> (name, permissions)) and the organization's enabled servers
    (`servers`), in one statement."""
    from gateway.rows import with_grants

    found, roles, servers = with_grants(*READ, prefix)
    if found is not None:
        found.roles_held, found.servers = roles, servers
    return found


def resolve(secret: str) -> McpToken:
    """The live token for this secret, for this gateway's audience; ValueError saying why not."""
    found = tokens.lookup(_with_roles, PREFIX, secret)
    if found is None or found.revoked_at is not None:
        raise ValueError("Unknown or revoked gateway token.")
    if found.expires_at <= timezone.now():
        raise ValueError("The gateway token expired; mint another.")
    if found.audience != audience():
        raise ValueError(
            f"The token was minted for {found.audience}, not for this gateway ({audience()})."
        )
    tokens.touch_last_used(found)
    return found
