"""The e-mail domains an organization claims, and their verification by DNS.

A claim is pending until a TXT record `governance-verification=<token>` (a token per claim) is
found at the domain; only then does it route sign-ins to the organization's IdP and let the IdP
create or link accounts. Celery beat re-checks every claim daily: a verified claim whose record
is gone is suspended (and routes nobody) until the record is back. A resolver that cannot answer
changes nothing: only a definite "no such record" suspends. A claim an operator verified with
`manage.py sso_domain_verify --skip-dns` is not re-checked (there is no record to find)."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.choices import AuditAction
from audit.services import audit_record
from core import dns
from core.actors import Actor, SystemActor
from core.exceptions import Conflict, ValidationFailed
from orgs.choices import DomainStatus
from orgs.models import DomainClaim, Organization
from orgs.services.guards import lock_org

DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
MAX_DOMAINS = 50


def clean_domains(domains: Iterable[str]) -> list[str]:
    wanted: list[str] = []
    for raw in domains:
        if not isinstance(raw, str):
            raise ValidationFailed("Each domain must be a string.", field="domains")
        domain = raw.strip().lower().lstrip("@").rstrip(".")
        if not domain:
            continue
        if not DOMAIN_RE.match(domain):
            raise ValidationFailed(
                f"{raw[:100]!r} is not a domain (e.g. acme.com).", field="domains"
            )
        if domain not in wanted:
            wanted.append(domain)
    if len(wanted) > MAX_DOMAINS:
        raise ValidationFailed(f"At most {MAX_DOMAINS} domains.", field="domains")
    return wanted


@transaction.atomic
def domains_set(
    *, org: Organization, domains: Iterable[str], actor: Actor | None
) -> list[DomainClaim]:
    """The organization's claims become `domains`: new ones are pending (each with its own
    token), dropped ones are released. Another organization's claim never blocks a claim: only
    verification decides who holds a domain."""
    wanted = clean_domains(domains)
    lock_org(org.pk)
    current = {c.domain: c for c in DomainClaim.objects.filter(org=org)}
    released = sorted(set(current) - set(wanted))
    added = [d for d in wanted if d not in current]
    if released:
        DomainClaim.objects.filter(org=org, domain__in=released).delete()
        audit_record(
            action=AuditAction.DOMAIN_RELEASED,
            org=org,
            actor=actor,
            target=org,
            data={"domains": released},
        )
    if added:
        DomainClaim.objects.bulk_create(
            [DomainClaim(org=org, domain=d, token=secrets.token_urlsafe(24)) for d in added]
        )
        audit_record(
            action=AuditAction.DOMAIN_CLAIMED,
            org=org,
            actor=actor,
            target=org,
            data={"domains": added, "status": DomainStatus.PENDING},
        )
    return list(DomainClaim.objects.filter(org=org))


def _lookup(claim: DomainClaim) -> tuple[bool, str]:
    """(found, what was seen) for the claim's TXT record; DnsUnavailable passes through."""
    records = dns.txt_records(claim.domain)
    if claim.txt_value in records:
        return True, ""
    seen = ", ".join(repr(r[:60]) for r in records[:5]) or "no TXT records"
    return False, f"no TXT record {claim.txt_value!r} at {claim.domain} (found {seen})"


def _mark_verified(claim: DomainClaim, *, method: str, actor: Actor | None) -> DomainClaim:
    old = claim.status
    claim.status = DomainStatus.VERIFIED
    claim.verified_at = claim.checked_at = timezone.now()
    claim.verified_method = method
    claim.check_error = ""
    try:
        with transaction.atomic():
            claim.save()
    except IntegrityError as exc:
        raise Conflict(
            f"{claim.domain} is verified by another organization. If it is yours, remove the "
            "record the other organization asked for and contact support.",
            field="domains",
        ) from exc
    audit_record(
        action=AuditAction.DOMAIN_VERIFIED,
        org=claim.org,
        actor=actor,
        target=claim,
        data={"domain": claim.domain, "method": method, "old": {"status": old}},
    )
    return claim


@transaction.atomic
def domain_verify(
    *, claim: DomainClaim, actor: Actor | None, skip_dns: bool = False
) -> DomainClaim:
    """Verify a claim now: its TXT record must be published (or, for an operator's
    `manage.py sso_domain_verify --skip-dns`, taken on trust: audited as such). A failed check
    is a clear error and changes nothing."""
    lock_org(claim.org_id)
    claim = (
        DomainClaim.objects.select_for_update(of=("self",)).select_related("org").get(pk=claim.pk)
    )
    if claim.is_verified:
        return claim
    if DomainClaim.objects.filter(domain=claim.domain, status=DomainStatus.VERIFIED).exists():
        raise Conflict(f"{claim.domain} is verified by another organization.", field="domains")
    if not skip_dns:
        try:
            found, why = _lookup(claim)
        except dns.DnsUnavailable as exc:
            raise ValidationFailed(f"{exc} Try again in a few minutes.", field="domains") from exc
        if not found:
            raise ValidationFailed(
                f"Not verified: {why}. Publish the TXT record, wait for DNS to update, and "
                "verify again.",
                field="domains",
            )
    return _mark_verified(claim, method="skip-dns" if skip_dns else "dns", actor=actor)


def domains_recheck() -> dict[str, int]:
    """Celery beat, daily: every claim's record is looked up again. A verified claim whose
    record is definitely gone is suspended (audited); a pending or suspended one whose record
    is found is verified. Each claim is its own transaction."""
    actor = SystemActor("daily domain verification")
    counts = {"checked": 0, "verified": 0, "suspended": 0, "unavailable": 0}
    # An operator's --skip-dns verification is their word, not a record: it is not re-checked.
    claims = DomainClaim.objects.exclude(status=DomainStatus.VERIFIED, verified_method="skip-dns")
    for pk in claims.order_by("pk").values_list("pk", flat=True):
        counts["checked"] += 1
        with transaction.atomic():
            claim = (
                DomainClaim.objects.select_for_update(of=("self",))
                .select_related("org")
                .filter(pk=pk)
                .first()
            )
            if claim is None:
                continue
            try:
                found, why = _lookup(claim)
            except dns.DnsUnavailable as exc:
                counts["unavailable"] += 1
                claim.checked_at, claim.check_error = timezone.now(), str(exc)[:300]
                claim.save(update_fields=["checked_at", "check_error"])
                continue
            if found and not claim.is_verified:
                try:
                    _mark_verified(claim, method="dns", actor=actor)
                    counts["verified"] += 1
                except Conflict as exc:
                    claim.checked_at, claim.check_error = timezone.now(), exc.message[:300]
                    claim.save(update_fields=["checked_at", "check_error"])
            elif not found and claim.is_verified:
                claim.status = DomainStatus.SUSPENDED
                claim.checked_at, claim.check_error = timezone.now(), why[:300]
                claim.save(update_fields=["status", "checked_at", "check_error"])
                audit_record(
                    action=AuditAction.DOMAIN_SUSPENDED,
                    org=claim.org,
                    actor=actor,
                    target=claim,
                    data={"domain": claim.domain, "reason": why, "old": {"status": "verified"}},
                )
                counts["suspended"] += 1
            else:
                claim.checked_at, claim.check_error = timezone.now(), why[:300]
                claim.save(update_fields=["checked_at", "check_error"])
    return counts
