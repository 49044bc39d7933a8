"""Writes of sign-in: the person an IdP vouched for (linked, or created just in time), every
refusal with its reason, password sign-ins and sign-outs, break-glass use, and a password
change. Events about a person go to the log of each organization they belong to."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from audit.choices import AuditAction
from audit.context import current_context
from audit.services import audit_record
from core.actors import AnonymousActor, SystemActor
from identity import services as identity_services
from identity.models import User, UserSession, normalize_email
from identity.selectors import user_by_email
from orgs.choices import MembershipSource
from orgs.models import Organization
from orgs.selectors import orgs_of_user
from orgs.services.members import membership_insert
from sso.assertion import SsoAssertion
from sso.exceptions import SsoFailure
from sso.models import SsoIdentity
from sso.selectors import sso_resolve


@transaction.atomic
def sso_sign_in(*, org: Organization, assertion: SsoAssertion) -> User:
    """The person the IdP vouched for, linked or created as needed, with the audit of it."""
    user, identity, plan = sso_resolve(org=org, assertion=assertion)
    door = SystemActor(f"SSO ({assertion.protocol})")
    if plan == "jit":
        added = membership_insert(
            org=org,
            user=None,
            email=assertion.email,
            full_name=assertion.full_name,
            source=MembershipSource.SSO,
            actor=door,
            set_password=False,
        )
        user = added.membership.user
    if identity is None:
        try:
            with transaction.atomic():
                identity = SsoIdentity.objects.create(
                    org=org, issuer=assertion.issuer, subject=assertion.subject, user=user
                )
        except IntegrityError as exc:  # the same first sign-in, twice at once
            raise SsoFailure("This sign-in was just linked by a parallel request; retry.") from exc
        audit_record(
            action=AuditAction.SSO_IDENTITY_LINKED,
            org=org,
            actor=door,
            target=user,
            data={**assertion.summary(), "how": plan},
        )
    identity.last_login_at = timezone.now()
    identity.save(update_fields=["last_login_at"])
    audit_record(
        action=AuditAction.SSO_LOGIN_SUCCEEDED,
        org=org,
        actor=user,
        target=user,
        data={**assertion.summary(), "groups": assertion.groups[:50]},
    )
    return user


@transaction.atomic
def sso_failure_record(
    *,
    org: Organization | None,
    protocol: str,
    reason: str,
    test: bool = False,
    detail: dict | None = None,
) -> models.Model:
    """One audited failure with its reason, in plain words (sign-in or test)."""
    action = AuditAction.SSO_TEST_FAILED if test else AuditAction.SSO_LOGIN_FAILED
    return audit_record(
        action=action,
        org=org,
        actor=AnonymousActor("identity provider"),
        target=org if org is not None else None,
        data={"protocol": protocol, "reason": reason[:1000], **(detail or {})},
    )


@transaction.atomic
def break_glass_record(*, user: User, orgs: list[Organization]) -> None:
    for org in orgs:
        audit_record(
            action=AuditAction.SSO_BREAK_GLASS_LOGIN,
            org=org,
            actor=user,
            target=user,
            data={"method": "password", "reason": "admin password sign-in while SSO is required"},
        )


@transaction.atomic
def login_record_success(*, user: User, session_key: str | None, method: str = "password") -> None:
    ctx = current_context()
    if session_key:
        identity_services.session_track(
            user=user, session_key=session_key, ip=ctx.ip, user_agent=ctx.user_agent
        )
    if method in ("saml", "oidc"):
        return  # sso_sign_in recorded SSO_LOGIN_SUCCEEDED in the org the IdP belongs to
    for org in orgs_of_user(user):
        audit_record(
            action=AuditAction.LOGIN_SUCCEEDED,
            org=org,
            actor=user,
            target=user,
            data={"method": method},
        )


@transaction.atomic
def login_record_failure(*, email: str, reason: str, method: str = "password") -> None:
    """A failed sign-in, in the audit log of every org the e-mail belongs to (or in no org's log
    when the e-mail is unknown). The caller's answer to the browser does not depend on which."""
    email = normalize_email(email)[:254]
    user = user_by_email(email) if email else None
    stranger = AnonymousActor(email or "(no e-mail)")
    orgs: Iterable[Organization | None] = orgs_of_user(user) if user else [None]
    for org in orgs or [None]:
        audit_record(
            action=AuditAction.LOGIN_FAILED,
            org=org,
            actor=stranger,
            target=user,
            target_type="user" if user is None else "",
            target_label=email if user is None else "",
            data={"method": method, "reason": reason},
        )


@transaction.atomic
def logout_record(*, user: User, session_key: str | None) -> None:
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()
    for org in orgs_of_user(user):
        audit_record(action=AuditAction.LOGOUT, org=org, actor=user, target=user)


@transaction.atomic
def password_change(*, user: User, password: str, actor: User) -> User:
    """A person sets their own password (the one-time one is replaced at first sign-in)."""
    return identity_services.user_set_password(
        user=user, password=password, actor=actor, orgs=orgs_of_user(user)
    )
