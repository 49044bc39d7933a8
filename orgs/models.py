from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from orgs.choices import AssignmentSource, DomainStatus, MembershipSource, RbacRole


def name_key(name: str) -> str:
    """How role and team names compare: case-insensitive, whitespace runs folded, trimmed."""
    return " ".join((name or "").split()).casefold()


class Organization(models.Model):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    # Zero data retention (the retention app sets it): no run's input or output content is
    # ever written; a payload keeps its size and SHA-256 only.
    zero_data_retention = models.BooleanField(default=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=RbacRole.choices, default=RbacRole.MEMBER)
    is_active = models.BooleanField(default=True)
    source = models.CharField(
        max_length=16, choices=MembershipSource.choices, default=MembershipSource.MANUAL
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    # Sessions signed in before this moment never reach this org again (set at deactivation;
    # kept at reactivation, so a revoked session cannot come back). Other orgs are untouched.
    sessions_not_before = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["org", "user"], name="membership_org_user_unique"),
        ]
        indexes = [models.Index(fields=["org", "is_active", "role"], name="membership_org_state")]

    def __str__(self) -> str:
        return self.user.email

    @property
    def status(self) -> str:
        return "active" if self.is_active else "deactivated"


class CustomRole(models.Model):
    """An org-defined named set of permissions from the catalog in orgs.rbac."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="custom_roles")
    name = models.CharField(max_length=100)
    # The case-folded name: folding can make it longer than the name (ß → ss, ΐ → three
    # characters; three is Unicode's most), so it holds three times NAME_MAX.
    name_key = models.CharField(max_length=300, editable=False)
    description = models.CharField(max_length=300, blank=True)
    permissions = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name_key"]
        constraints = [
            models.UniqueConstraint(fields=["org", "name_key"], name="customrole_org_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class RoleAssignment(models.Model):
    """A member holds a custom role, granted by hand or by the IdP. Both may exist at once."""

    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="role_assignments"
    )
    role = models.ForeignKey(CustomRole, on_delete=models.CASCADE, related_name="assignments")
    source = models.CharField(max_length=8, choices=AssignmentSource.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["membership", "role", "source"], name="roleassignment_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} ({self.source})"


class Team(models.Model):
    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="teams")
    name = models.CharField(max_length=100)
    # The case-folded name: folding can make it longer than the name (ß → ss, ΐ → three
    # characters; three is Unicode's most), so it holds three times NAME_MAX.
    name_key = models.CharField(max_length=300, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    # The auth group that stands for the team in django-guardian object permissions (shares of
    # agents and workflows to the team); made on the team's first share.
    auth_group = models.OneToOneField(
        "auth.Group", on_delete=models.SET_NULL, null=True, blank=True, related_name="team"
    )

    class Meta:
        ordering = ["name_key"]
        constraints = [
            models.UniqueConstraint(fields=["org", "name_key"], name="team_org_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="team_memberships")
    membership = models.ForeignKey(
        Membership, on_delete=models.CASCADE, related_name="team_memberships"
    )
    source = models.CharField(max_length=8, choices=AssignmentSource.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "membership", "source"], name="teammembership_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.membership} in {self.team} ({self.source})"


class BearerCredential(models.Model):
    """What API keys and SCIM tokens share: a public prefix to find the row, an HMAC of the
    secret (core.tokens), a label, and when it was made, last used and revoked."""

    label = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ApiKey(BearerCredential):
    """A member's API key. Only an HMAC of the secret is stored; the key is shown once."""

    membership = models.ForeignKey(Membership, on_delete=models.CASCADE, related_name="api_keys")

    class Meta:
        indexes = [
            models.Index(
                fields=["membership"],
                name="apikey_active_idx",
                condition=Q(revoked_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"gov_{self.prefix}… {self.label}".strip()

    def audit_actor(self) -> tuple[str, str, str]:
        return "api_key", str(self.pk), f"API key {self.prefix} of {self.membership.user.email}"


class ServiceKey(BearerCredential):
    """A key of the organization itself (not of a member) for the agent runtime: it may only
    call the runtime's endpoints (decisions, runs). Made by an admin; only an HMAC is stored."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="service_keys")
    created_by = models.CharField(max_length=300, blank=True)

    def __str__(self) -> str:
        return f"gsk_{self.prefix}… {self.label}".strip()

    def audit_actor(self) -> tuple[str, str, str]:
        return (
            "service_key",
            str(self.pk),
            f"service key {self.prefix} ({self.label or 'no label'})",
        )


class Invitation(models.Model):
    """An invitation to join an organization, made by hand (dashboard or API): the person
    accepts it at their next sign-in, or through its link (which also lets a newcomer choose a
    password). Until then it is pending: listed on the Members page, revocable. SCIM and SSO
    just-in-time add people directly instead, because the IdP of a verified domain vouches for
    them. Only an HMAC of the link's secret is stored; the link is shown once."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField(max_length=254)
    full_name = models.CharField(max_length=200, blank=True)
    role = models.CharField(max_length=16, choices=RbacRole.choices, default=RbacRole.MEMBER)
    invited_by = models.CharField(max_length=300, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    membership = models.ForeignKey(
        Membership, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            # One pending invitation per person and organization.
            models.UniqueConstraint(
                "org",
                Lower("email"),
                name="invitation_one_pending",
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
            ),
        ]
        indexes = [models.Index(Lower("email"), name="invitation_email_lower")]

    def __str__(self) -> str:
        return f"invitation of {self.email} to {self.org_id}"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"


class DomainClaim(models.Model):
    """An e-mail domain an organization claims. It routes sign-ins to the organization's IdP and
    lets the IdP create or link accounts (SSO just-in-time, SCIM) only once verified: a DNS TXT
    record `governance-verification=<token>` at the domain, re-checked daily; a claim whose
    record disappears is suspended. Several organizations may claim a domain; only one can
    hold it verified (a database constraint), so a squatter's claim locks nobody out."""

    org = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="domain_claims")
    domain = models.CharField(max_length=253)
    token = models.CharField(max_length=64)
    status = models.CharField(
        max_length=16, choices=DomainStatus.choices, default=DomainStatus.PENDING
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    verified_method = models.CharField(max_length=16, blank=True)  # dns | skip-dns
    checked_at = models.DateTimeField(null=True, blank=True)
    check_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["domain"]
        constraints = [
            models.UniqueConstraint(fields=["org", "domain"], name="domainclaim_org_domain"),
            models.UniqueConstraint(
                fields=["domain"],
                condition=Q(status=DomainStatus.VERIFIED),
                name="domainclaim_one_verified",
            ),
        ]

    def __str__(self) -> str:
        return self.domain

    @property
    def txt_value(self) -> str:
        return f"governance-verification={self.token}"

    @property
    def is_verified(self) -> bool:
        return self.status == DomainStatus.VERIFIED
