from django.db import models


class RbacRole(models.TextChoices):
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class MembershipSource(models.TextChoices):
    MANUAL = "manual", "Added by hand"
    INVITE = "invite", "Invitation"
    SSO = "sso", "SSO just-in-time"
    SCIM = "scim", "SCIM"


class AssignmentSource(models.TextChoices):
    """Who granted a custom role or team membership; a member may hold one target from several
    sources at once (one row each), and holds it while any row exists.

    - `manual`: by hand (dashboard, API). Mapping-table mode never touches these; name-based
      mode removes those outside the IdP's set.
    - `idp`: by the mapping engine, from the member's IdP groups.
    - `scim`: by the SCIM User resource's `roles` attribute (roles only), kept apart from group
      mappings so that neither overwrites the other.
    """

    MANUAL = "manual", "Hand-made"
    IDP = "idp", "IdP group mapping"
    SCIM = "scim", "SCIM roles attribute"


class DomainStatus(models.TextChoices):
    PENDING = "pending", "Pending verification"
    VERIFIED = "verified", "Verified"
    SUSPENDED = "suspended", "Suspended (DNS record gone)"
