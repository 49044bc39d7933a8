"""Writes about people and their sign-ins. Each audits itself in the same transaction."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from audit.choices import ActorKind, AuditAction
from audit.services import AuditActor, audit_record
from governance.exceptions import Conflict, ValidationFailed
from identity.models import User, UserSession, normalize_email


def clean_email(email: str) -> str:
    value = normalize_email(email)
    try:
        validate_email(value)
    except ValidationError as exc:
        raise ValidationFailed(
            f"{email!r} is not a valid e-mail address (expected name@example.com).",
            field="email",
        ) from exc
    return value


def generate_password() -> str:
    return secrets.token_urlsafe(15)


@transaction.atomic
def user_create(
    *,
    email: str,
    full_name: str = "",
    password: str | None = None,
    password_change_required: bool = False,
    actor: AuditActor | None,
    org: object | None = None,
) -> User:
    email = clean_email(email)
    if User.objects.filter(email__lower=email.lower()).exists():
        raise Conflict(f"A user with the e-mail {email} already exists.", field="email")
    return user_insert(
        email=email,
        full_name=full_name,
        password=password,
        password_change_required=password_change_required,
        actor=actor,
        org=org,
    )


def user_insert(
    *,
    email: str,
    full_name: str = "",
    password: str | None = None,
    password_change_required: bool = False,
    actor: AuditActor | None,
    org: object | None = None,
) -> User:
    """The write of `user_create`, for a service that already holds the transaction and has
    looked the e-mail up itself (no second lookup, no savepoint). A concurrent insert of the
    same e-mail still ends in `Conflict` from the unique index, and the caller rolls back."""
    email = clean_email(email)
    full_name = " ".join(full_name.split())[:200]
    user = User(email=email, full_name=full_name, password_change_required=password_change_required)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    try:
        user.save()
    except IntegrityError as exc:  # a concurrent create of the same e-mail
        raise Conflict(f"A user with the e-mail {email} already exists.", field="email") from exc
    audit_record(
        action=AuditAction.USER_CREATED,
        org=org,
        actor=actor,
        target=user,
        data={"new": {"email": email, "full_name": full_name}},
    )
    return user


@transaction.atomic
def user_set_password(*, user: User, password: str, actor: AuditActor | None) -> User:
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationFailed(" ".join(exc.messages), field="password") from exc
    user = User.objects.select_for_update().get(pk=user.pk)
    user.set_password(password)
    user.password_change_required = False
    user.save(update_fields=["password", "password_change_required"])
    for org in _orgs_for_event(user):
        audit_record(action=AuditAction.USER_PASSWORD_SET, org=org, actor=actor, target=user)
    return user


@transaction.atomic
def session_revoke_all(
    *, user: User, actor: AuditActor | None, org: object | None, reason: str
) -> int:
    """End every session of the user at once (deactivation, credential compromise)."""
    keys = list(
        UserSession.objects.select_for_update()
        .filter(user=user)
        .values_list("session_key", flat=True)
    )
    Session.objects.filter(session_key__in=keys).delete()
    UserSession.objects.filter(user=user).delete()
    if keys:
        audit_record(
            action=AuditAction.SESSIONS_REVOKED,
            org=org,
            actor=actor,
            target=user,
            data={"count": len(keys), "reason": reason},
        )
    return len(keys)


@transaction.atomic
def session_track(*, user: User, session_key: str, ip: str | None, user_agent: str) -> None:
    UserSession.objects.update_or_create(
        session_key=session_key,
        defaults={"user": user, "ip": ip, "user_agent": user_agent[:512]},
    )


@transaction.atomic
def login_record_success(*, user: User, session_key: str | None, method: str = "password") -> None:
    from audit.context import current_context

    ctx = current_context()
    if session_key:
        session_track(user=user, session_key=session_key, ip=ctx.ip, user_agent=ctx.user_agent)
    for org in _orgs_for_event(user):
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
    user = User.objects.filter(email__lower=email.lower()).first() if email else None
    override = (ActorKind.ANONYMOUS, "", email or "(no e-mail)")
    orgs: Iterable[object] = _orgs_for_event(user) if user else [None]
    for org in orgs or [None]:
        audit_record(
            action=AuditAction.LOGIN_FAILED,
            org=org,
            actor=None,
            actor_override=override,
            target=user,
            target_type="user" if user is None else "",
            target_label=email if user is None else "",
            data={"method": method, "reason": reason},
        )


@transaction.atomic
def logout_record(*, user: User, session_key: str | None) -> None:
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()
    for org in _orgs_for_event(user):
        audit_record(action=AuditAction.LOGOUT, org=org, actor=user, target=user)


def _orgs_for_event(user: User) -> list[object]:
    from governance.models import Organization

    return list(Organization.objects.filter(memberships__user=user))


@transaction.atomic
def sessions_clear_expired(*, batch: int = 10_000) -> int:
    """Housekeeping: drop expired sessions and their tracking rows, one bounded batch a run.
    Not audited: nobody changed anything; expiry had already ended these sessions."""
    from django.utils import timezone

    keys = list(
        Session.objects.filter(expire_date__lt=timezone.now()).values_list(
            "session_key", flat=True
        )[:batch]
    )
    UserSession.objects.filter(session_key__in=keys).delete()
    Session.objects.filter(session_key__in=keys).delete()
    return len(keys)
