"""Reads of credentials, services, connections and pending revocations: always within one
organization (another organization's id is simply not found)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, QuerySet

from credentials.models import CredentialService, OktaCredential, ServiceConnection, TokenRevocation
from orgs.models import Membership, Organization


def credentials_of(*, org: Organization) -> QuerySet[OktaCredential]:
    return (
        OktaCredential.objects.filter(org=org)
        .annotate(service_count=Count("services", distinct=True))
        .order_by("name", "id")
    )


def credential_get(*, org: Organization, pk: Any) -> OktaCredential | None:
    return OktaCredential.objects.filter(org=org, pk=pk).first()


def services_of(*, org: Organization, credential: OktaCredential | None = None) -> QuerySet:
    qs = CredentialService.objects.filter(org=org).select_related("credential")
    if credential is not None:
        qs = qs.filter(credential=credential)
    return qs.annotate(connection_count=Count("connections")).order_by("name", "id")


def service_get(*, org: Organization, pk: Any) -> CredentialService | None:
    return CredentialService.objects.filter(org=org, pk=pk).select_related("credential").first()


def service_by_ref(*, org: Organization, ref: Any) -> CredentialService | None:
    """A service by id, or by its name (what a runtime configuration would hold)."""
    qs = CredentialService.objects.filter(org=org).select_related("credential")
    if isinstance(ref, int) and not isinstance(ref, bool):
        return qs.filter(pk=ref).first()
    if isinstance(ref, str) and ref.strip():
        text = ref.strip()
        if text.isdigit():
            return qs.filter(pk=int(text)).first()
        return qs.filter(name=text).first()
    return None


def connections_of(*, membership: Membership) -> dict[int, ServiceConnection]:
    """The member's connections, by service id."""
    return {
        c.service_id: c
        for c in ServiceConnection.objects.filter(org_id=membership.org_id, membership=membership)
    }


def connection_get(*, membership: Membership, pk: Any) -> ServiceConnection | None:
    return (
        ServiceConnection.objects.filter(org_id=membership.org_id, membership=membership, pk=pk)
        .select_related("service__credential", "membership__user")
        .first()
    )


def pending_revocations(*, org: Organization) -> list[TokenRevocation]:
    return list(TokenRevocation.objects.filter(org=org).order_by("id")[:200])


def connection_lookup(*, org: Organization, member: Any, service: Any) -> ServiceConnection | None:
    """The runtime's one read: a connection by its member (membership id or e-mail) and its
    service (id or name), with the member, their user, the service and its credential."""
    from core.input import as_id

    qs = (
        ServiceConnection.objects.filter(org=org)
        .select_related("membership__user", "service")
        .only(  # what the token endpoint reads; a refresh reads the rest under its lock
            "id",
            "org_id",
            "status",
            "access_token",
            "expires_at",
            "scopes",
            "membership__id",
            "membership__org_id",
            "membership__role",
            "membership__is_active",
            "membership__user__id",
            "membership__user__email",
            "service__id",
            "service__org_id",
            "service__name",
            "service__integration",
            "service__credential_id",
        )
    )
    if isinstance(member, str) and "@" in member:
        qs = qs.filter(membership__user__email__iexact=member.strip())
    else:
        member_id = as_id(member)
        if member_id is None:
            return None
        qs = qs.filter(membership_id=member_id)
    if isinstance(service, int) and not isinstance(service, bool):
        qs = qs.filter(service_id=service)
    elif isinstance(service, str) and service.strip():
        text = service.strip()
        qs = qs.filter(service_id=int(text)) if text.isdigit() else qs.filter(service__name=text)
    else:
        return None
    found = list(qs[:1])
    if not found:
        return None
    found[0].org = org
    found[0].membership.org = org
    found[0].service.org = org
    return found[0]
