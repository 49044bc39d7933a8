"""Writes about people: accounts, passwords, sessions. Each audits itself in the same
transaction. Which organizations' logs an event goes to is the caller's to say (`orgs`): this
layer sits below organizations and does not know them."""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from audit.choices import AuditAction
from audit.services import audit_record
from core.actors import Actor
from core.exceptions import Conflict, ValidationFailed
from core.input import clean_line
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


# No savepoint: inside a caller's transaction (SCIM create, JIT sign-in, adding a member) the
# caller has looked the e-mail up and rolls back on Conflict; the unique index on LOWER(email)
# turns a concurrent insert of the same e-mail into that Conflict.
@transaction.atomic(savepoint=False)
def user_create(
    *,
    email: str,
    full_name: str = "",
    password: str | None = None,
    password_change_required: bool = False,
    actor: Actor | None,
    org: models.Model | None = None,
) -> User:
    email = clean_email(email)
    full_name = clean_line(full_name, field="full_name", what="full name", max_length=200)
    user = User(email=email, full_name=full_name, password_change_required=password_change_required)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    try:
        user.save()
    except IntegrityError as exc:
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
def user_set_password(
    *, user: User, password: str, actor: Actor | None, orgs: Iterable[models.Model]
) -> User:
    """Set a password (it replaces a one-time one); audited in each of `orgs`."""
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        raise ValidationFailed(" ".join(exc.messages), field="password") from exc
    user = User.objects.select_for_update().get(pk=user.pk)
    user.set_password(password)
    user.password_change_required = False
    user.save(update_fields=["password", "password_change_required"])
    for org in orgs:
        audit_record(action=AuditAction.USER_PASSWORD_SET, org=org, actor=actor, target=user)
    return user


@transaction.atomic
def session_track(*, user: User, session_key: str, ip: str | None, user_agent: str) -> None:
    UserSession.objects.update_or_create(
        session_key=session_key,
        defaults={"user": user, "ip": ip, "user_agent": user_agent[:512]},
    )


@transaction.atomic
def sessions_clear_expired(*, batch: int = 10_000) -> int:
    """Housekeeping: drop expired sessions and their tracking rows, one bounded batch a run.
    Not audited: nobody changed anything; expiry had already ended these sessions."""

    keys = list(
        Session.objects.filter(expire_date__lt=timezone.now()).values_list(
            "session_key", flat=True
        )[:batch]
    )
    UserSession.objects.filter(session_key__in=keys).delete()
    Session.objects.filter(session_key__in=keys).delete()
    return len(keys)
