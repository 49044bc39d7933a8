"""Reads of sign-in: who an IdP assertion is, where an e-mail signs in, and which
memberships Require SSO leaves a password for."""

from __future__ import annotations

from identity.models import User
from identity.selectors import user_by_email
from orgs.choices import RbacRole
from orgs.models import Membership, Organization
from orgs.selectors import email_domain_verified_by, verified_claim
from sso.assertion import SsoAssertion
from sso.exceptions import SsoFailure
from sso.models import SsoConnection, SsoIdentity


def _email_trusted(org: Organization, assertion: SsoAssertion) -> bool:
    """An asserted e-mail links or creates an account only when the IdP vouches for it (OIDC
    email_verified) and its domain is one the org holds verified (a pending claim links nobody)."""
    if not assertion.email or not assertion.email_verified or "@" not in assertion.email:
        return False
    return email_domain_verified_by(org, assertion.email)


def sso_resolve(
    *, org: Organization, assertion: SsoAssertion
) -> tuple[User | None, SsoIdentity | None, str]:
    """Read-only: (user or None, identity or None, plan) where plan is 'known', 'link' or 'jit';
    or SsoFailure with the reason. Shared by sign-in and Test connection."""
    identity = (
        SsoIdentity.objects.select_related("user")
        .filter(org=org, issuer=assertion.issuer, subject=assertion.subject)
        .first()
    )
    if identity is not None:
        user, plan = identity.user, "known"
    else:
        if not _email_trusted(org, assertion):
            raise SsoFailure(
                f"First sign-in of {assertion.subject!r}: its e-mail {assertion.email or '(none)'} "
                "is not verified by the IdP or not in a domain this organization claims, so it "
                "cannot be linked to an account. Add the domain under SSO → Domains."
            )
        user = user_by_email(assertion.email)
        if user is not None:
            other = SsoIdentity.objects.filter(org=org, issuer=assertion.issuer, user=user).first()
            if other is not None:
                raise SsoFailure(
                    f"{assertion.email} is already linked to another subject ({other.subject!r}) "
                    f"of this IdP; the IdP now says {assertion.subject!r}. Refused, so one "
                    "person cannot sign in as another by sharing an e-mail address."
                )
            if not Membership.objects.filter(org=org, user=user).exists():
                raise SsoFailure(
                    f"An account for {assertion.email} exists but is not a member of this "
                    "organization; an admin must add it first (JIT only creates new accounts)."
                )
            plan = "link"
        else:
            conn = SsoConnection.objects.filter(org=org).first()
            if conn is None or not conn.jit_enabled:
                raise SsoFailure(
                    f"No account for {assertion.email}, and just-in-time provisioning is off. "
                    "Add the person (or provision them by SCIM), or turn JIT on."
                )
            plan = "jit"
    if user is not None:
        membership = Membership.objects.filter(org=org, user=user).first()
        if not user.is_active or membership is None or not membership.is_active:
            raise SsoFailure(f"The membership of {user.email} in this organization is deactivated.")
    return user, identity, plan


def break_glass_orgs(user: User) -> list[Organization]:
    """Orgs requiring SSO in which this user is an active admin (password still allowed)."""
    return [
        m.org
        for m in Membership.objects.select_related("org").filter(
            user=user, is_active=True, role="admin", org__sso__require_sso=True
        )
    ]


def password_blocked_by_sso(user: User) -> bool:
    """True when every active membership of the user is in an org that requires SSO and in which
    they are not an admin: a password would open nothing."""
    active = Membership.objects.filter(user=user, is_active=True)
    open_doors = active.exclude(org__sso__require_sso=True) | active.filter(role="admin")
    return active.exists() and not open_doors.exists()


def sso_route(email: str) -> tuple[str, str] | None:
    """(protocol, org slug) when the e-mail's domain belongs to an org that signs in with SSO.
    Decided by the domain alone, never by whether the address has an account."""
    domain = email.rsplit("@", 1)[1].strip().lower() if "@" in email else ""
    claim = verified_claim(domain) if domain else None  # a pending claim routes nobody
    conn = SsoConnection.objects.filter(org_id=claim.org_id).first() if claim else None
    if conn is None or not conn.active:
        return None
    return conn.protocol, claim.org.slug


def org_with_sso(slug: str) -> Organization | None:
    """The organization with its SSO connection (or none yet), by slug."""
    return Organization.objects.filter(slug=slug).select_related("sso").first()


def org_with_sso_by_id(pk: int) -> Organization | None:
    return Organization.objects.filter(pk=pk).select_related("sso").first()


def sso_connection(*, org: Organization) -> SsoConnection | None:
    return SsoConnection.objects.filter(org=org).first()


def sso_required_for(*, slug: str, user: User, vouched: list[int]) -> str | None:
    """The protocol to sign in with when the organization requires SSO of this user (an active
    non-admin member whose session its IdP has not vouched for); else None. One indexed read."""
    conn = (
        SsoConnection.objects.filter(org__slug=slug, require_sso=True)
        .exclude(org_id__in=vouched)
        .filter(
            org__memberships__user=user,
            org__memberships__is_active=True,
            org__memberships__role=RbacRole.MEMBER,
        )
        .only("protocol")
        .first()
    )
    return (conn.protocol or "saml") if conn is not None else None
