"""Invitations: how a person is added by hand. An organization acts only on itself, so it never
adds an existing account directly (it could then deactivate that membership and so reach the
person's sessions): it invites, and the person accepts at their next sign-in, or through the
invitation link, which also lets a newcomer choose their password. The answer to whoever
invites is the same whether or not the e-mail already has an account somewhere.

SCIM and SSO just-in-time add people directly (members.membership_insert): the IdP of a
verified domain vouches for them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.choices import AuditAction
from audit.services import audit_record
from core import tokens
from core.actors import Actor, describe_actor
from core.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.input import clean_line
from identity import services as identity
from identity.models import User, normalize_email
from identity.selectors import user_by_email
from orgs.choices import MembershipSource, RbacRole
from orgs.models import Invitation, Membership, Organization
from orgs.services.guards import lock_org, require_admin_for_admin_changes
from orgs.services.members import membership_insert

INVITATION_PREFIX = "inv_"


@dataclass(frozen=True)
class InvitationMade:
    invitation: Invitation
    link_secret: str  # goes into the link, shown once to whoever invited; never stored

    @property
    def path(self) -> str:
        return f"/invitations/{self.link_secret}/"


def invitation_lifetime() -> timedelta:
    return timedelta(days=settings.GOVERNANCE_INVITATION_DAYS)


@transaction.atomic
def invitation_create(
    *,
    org: Organization,
    email: str,
    full_name: str = "",
    role: str = RbacRole.MEMBER,
    actor: Actor | None,
) -> InvitationMade:
    email = identity.clean_email(email)
    full_name = clean_line(full_name, field="full_name", what="full name", max_length=200)
    if role not in RbacRole.values:
        raise ValidationFailed(f"Unknown RBAC role {role!r}: use admin or member.", field="role")
    if role == RbacRole.ADMIN:
        require_admin_for_admin_changes(actor, org)
    lock_org(org.pk)
    # Only this organization's own facts decide the answer: whether the e-mail is a member
    # here, or invited here. Whether it has an account elsewhere is never said.
    if Membership.objects.filter(org=org, user__email__lower=email).exists():
        raise Conflict(f"{email} is already a member of {org.name}.", field="email")
    prefix, secret, key_hash = tokens.mint(INVITATION_PREFIX)
    now = timezone.now()
    Invitation.objects.filter(
        org=org,
        email__lower=email,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        expires_at__lte=now,
    ).update(revoked_at=now)  # an expired one makes room for the new one
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                org=org,
                email=email,
                full_name=full_name,
                role=role,
                invited_by=describe_actor(actor)[2][:300],
                prefix=prefix,
                key_hash=key_hash,
                expires_at=now + invitation_lifetime(),
            )
    except IntegrityError as exc:
        raise Conflict(
            f"{email} already has a pending invitation to {org.name}; revoke it to send a new one.",
            field="email",
        ) from exc
    audit_record(
        action=AuditAction.MEMBER_INVITED,
        org=org,
        actor=actor,
        target=invitation,
        target_label=email,
        data={
            "new": {"email": email, "role": role, "expires_at": invitation.expires_at.isoformat()}
        },
    )
    return InvitationMade(invitation=invitation, link_secret=secret)


@transaction.atomic
def invitation_revoke(*, invitation: Invitation, actor: Actor | None) -> Invitation:
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != "pending":
        raise Conflict(f"This invitation is {invitation.status}; only a pending one is revoked.")
    if invitation.role == RbacRole.ADMIN:
        require_admin_for_admin_changes(actor, invitation.org)
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])
    audit_record(
        action=AuditAction.MEMBER_INVITATION_REVOKED,
        org=invitation.org,
        actor=actor,
        target=invitation,
        target_label=invitation.email,
        data={"old": {"status": "pending"}, "new": {"status": "revoked"}},
    )
    return invitation


def invitation_by_secret(secret: str) -> Invitation | None:
    """The invitation a link names, whatever its status (the page says which)."""
    return tokens.lookup(
        lambda prefix: Invitation.objects.select_related("org").filter(prefix=prefix).first(),
        INVITATION_PREFIX,
        secret,
    )


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """The invited person (signed in as the invited e-mail) joins with the invited role."""
    lock_org(invitation.org_id)
    invitation = Invitation.objects.select_for_update().select_related("org").get(pk=invitation.pk)
    if invitation.status != "pending":
        raise NotFound(f"This invitation is {invitation.status}; ask for a new one.")
    if normalize_email(user.email) != normalize_email(invitation.email):
        raise PermissionDenied(
            f"This invitation is for {invitation.email}; sign in with that address to accept it."
        )
    org = invitation.org
    existing = Membership.objects.filter(org=org, user=user).first()
    if existing is not None:
        raise Conflict(f"You are already a member of {org.name}.")
    added = membership_insert(
        org=org,
        user=user,
        email=user.email,
        role=invitation.role,
        source=MembershipSource.INVITE,
        actor=None,  # the invitation carried the inviter's authority, checked when it was made
    )
    invitation.accepted_at = timezone.now()
    invitation.membership = added.membership
    invitation.save(update_fields=["accepted_at", "membership"])
    audit_record(
        action=AuditAction.MEMBER_INVITATION_ACCEPTED,
        org=org,
        actor=user,
        target=added.membership,
        data={
            "invitation": invitation.pk,
            "role": invitation.role,
            "invited_by": invitation.invited_by,
        },
    )
    return added.membership


@transaction.atomic
def invitation_accept_new(*, invitation: Invitation, full_name: str, password: str) -> Membership:
    """A newcomer accepts through the link: their account is created with the password they
    chose (checked by the password validators), then they join."""
    email = normalize_email(invitation.email)
    if user_by_email(email) is not None:
        raise Conflict("An account with this e-mail exists: sign in to accept the invitation.")
    if invitation.status != "pending":
        raise NotFound(f"This invitation is {invitation.status}; ask for a new one.")
    user = identity.user_create(
        email=email,
        full_name=full_name or invitation.full_name,
        actor=None,
        org=invitation.org,
    )
    user = identity.user_set_password(user=user, password=password, actor=user, orgs=[])
    return invitation_accept(invitation=invitation, user=user)
