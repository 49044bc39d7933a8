"""The e-mail domains an organization claims: sign-in routes their addresses to its IdP, and
just-in-time provisioning and e-mail linking accept only them."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db import IntegrityError, transaction

from core.actors import Actor
from core.exceptions import Conflict, ValidationFailed
from orgs.models import Organization
from sso.models import SsoConnection, SsoDomain
from sso.services.config import sso_changed, sso_lock

DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


@transaction.atomic
def sso_domains_set(
    *, org: Organization, domains: Iterable[str], actor: Actor | None
) -> SsoConnection:
    """The e-mail domains the org claims: sign-in sends them to its IdP; JIT and e-mail linking
    accept only them. A domain another org claims is refused (one IdP per domain)."""
    wanted: list[str] = []
    for raw in domains:
        domain = raw.strip().lower().lstrip("@")
        if not domain:
            continue
        if not DOMAIN_RE.match(domain):
            raise ValidationFailed(f"{raw!r} is not a domain (e.g. acme.com).", field="domains")
        if domain not in wanted:
            wanted.append(domain)
    if len(wanted) > 50:
        raise ValidationFailed("At most 50 domains.", field="domains")
    conn = sso_lock(org, actor)
    taken = list(
        SsoDomain.objects.filter(domain__in=wanted)
        .exclude(org=org)
        .values_list("domain", flat=True)
    )
    if taken:
        raise Conflict(
            f"{', '.join(sorted(taken))} is claimed by another organization.", field="domains"
        )
    before = sorted(SsoDomain.objects.filter(org=org).values_list("domain", flat=True))
    if before == sorted(wanted):
        return conn
    SsoDomain.objects.filter(org=org).exclude(domain__in=wanted).delete()
    try:
        with transaction.atomic():
            SsoDomain.objects.bulk_create(
                [SsoDomain(org=org, domain=d) for d in wanted if d not in before]
            )
    except IntegrityError as exc:  # claimed concurrently by another org
        raise Conflict("A domain was just claimed by another organization.") from exc
    sso_changed(conn, actor=actor, changes={"domains": [before, sorted(wanted)]})
    return conn
