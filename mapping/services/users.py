"""The members the IdP speaks for (IdpUser), as a provisioning door reports them: the profile
the IdP owns and the id the door knows them by. SCIM provisions them today.

Each write here is part of a change the calling door records in the same transaction, with
what changed (scim.user_created, scim.user_updated, scim.user_deleted): no event of its own, so
one change is one event.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.exceptions import Conflict
from mapping.models import IdpGroupMember, IdpUser, IdpUserEmail
from orgs.models import Membership


def _taken(user_name: str) -> Conflict:
    return Conflict(
        f"A user with userName {user_name!r} already exists in this organization (userName "
        "compares case-insensitively).",
        field="userName",
    )


# No savepoint: the door's transaction rolls back on Conflict, and the unique index on
# (org, LOWER(user_name)) decides a concurrent create or rename of the same userName.
@transaction.atomic(savepoint=False)
def idp_user_add(*, membership: Membership, profile: dict[str, Any]) -> IdpUser:
    """From now on the IdP speaks for this member: their IdP groups decide their roles and
    teams. `profile`: user_name, external_id, names, emails, enterprise attributes."""
    idp_user = IdpUser(org_id=membership.org_id, membership=membership, **profile)
    try:
        idp_user.save(force_insert=True)
    except IntegrityError as exc:
        raise _taken(idp_user.user_name) from exc
    _email_rows_write(idp_user, fresh=True)
    return idp_user


def _email_rows_write(idp_user: IdpUser, *, fresh: bool = False) -> None:
    """The searchable rows of `idp_user.emails`: every address with its type and primary."""
    if not fresh:
        IdpUserEmail.objects.filter(idp_user=idp_user).delete()
    rows = [
        IdpUserEmail(
            idp_user=idp_user,
            value=str(e.get("value") or ""),
            type=str(e.get("type") or ""),
            primary=bool(e.get("primary")),
        )
        for e in idp_user.emails or []
        if isinstance(e, dict) and e.get("value")
    ]
    if rows:
        IdpUserEmail.objects.bulk_create(rows)


@transaction.atomic(savepoint=False)
def idp_user_update(*, idp_user: IdpUser, profile: dict[str, Any]) -> set[str]:
    """The profile becomes `profile`; returns the names of the fields that changed."""
    changed = {k for k, v in profile.items() if getattr(idp_user, k) != v}
    if not changed:
        return changed
    for k in changed:
        setattr(idp_user, k, profile[k])
    idp_user.updated_at = timezone.now()
    try:
        idp_user.save()
    except IntegrityError as exc:
        raise _taken(idp_user.user_name) from exc
    if "emails" in changed:
        _email_rows_write(idp_user)
    return changed


@transaction.atomic
def idp_user_touch(*, idp_user: IdpUser) -> None:
    """The member changed (active, roles) though the profile did not: meta.lastModified."""
    IdpUser.objects.filter(pk=idp_user.pk).update(updated_at=timezone.now())


@transaction.atomic
def idp_user_remove(*, idp_user: IdpUser) -> None:
    """The IdP stops speaking for the member: they leave its groups and keep what they hold."""
    IdpGroupMember.objects.filter(membership_id=idp_user.membership_id).delete()
    idp_user.delete()
