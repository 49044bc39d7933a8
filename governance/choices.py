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
    """Who granted a custom role or team membership. The mapping engine only ever touches
    `idp` rows in mapping-table mode."""

    MANUAL = "manual", "Hand-made"
    IDP = "idp", "Identity provider"


class MemberStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DEACTIVATED = "deactivated", "Deactivated"
