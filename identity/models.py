from __future__ import annotations

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone


def normalize_email(email: str) -> str:
    """E-mail as we store and compare it: trimmed, lower-cased (the whole address)."""
    return (email or "").strip().lower()


class UserManager(BaseUserManager["User"]):
    def get_by_natural_key(self, username: str) -> User:
        return self.get(email__lower=normalize_email(username))


class User(AbstractBaseUser):
    """A person. Identified by e-mail, unique case-insensitively (a database constraint)."""

    email = models.EmailField(max_length=254)
    full_name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    # Set for one-time passwords (org_create, members added by hand): changed at first sign-in.
    password_change_required = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="identity_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    def audit_actor(self) -> tuple[str, str, str]:
        return "user", str(self.pk), self.email

    @property
    def label(self) -> str:
        return f"{self.full_name} <{self.email}>" if self.full_name else self.email


class UserSession(models.Model):
    """Which sessions belong to whom, so that deactivation can revoke them at once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="tracked_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)

    def __str__(self) -> str:
        return f"session of {self.user_id} from {self.ip or 'unknown'}"
