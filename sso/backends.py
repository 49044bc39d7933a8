from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from identity.models import User, normalize_email
from identity.selectors import user_by_email
from orgs.selectors import has_pending_invitation


class EmailBackend(ModelBackend):
    """Password sign-in by e-mail (case-insensitive). Runs the hasher for unknown e-mails too,
    so response time does not reveal which addresses exist."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: object,
    ) -> User | None:
        email = normalize_email(username or str(kwargs.get("email") or ""))
        if not email or password is None:
            return None
        user = user_by_email(email)
        if user is None:
            User().set_password(password)
            return None
        if not user.check_password(password):
            return None
        if not self.user_can_authenticate(user):
            if request is not None:
                request.login_failure_reason = "account or every membership is deactivated"
            return None
        return user

    def user_can_authenticate(self, user: User) -> bool:  # type: ignore[override]
        """A user signs in only while active in at least one organization, or invited to one
        (they sign in to accept)."""
        return user.is_active and (
            user.memberships.filter(is_active=True).exists() or has_pending_invitation(user)
        )

    def get_user(self, user_id: int) -> User | None:
        user = User.objects.filter(pk=user_id).first()
        return user if user is not None and self.user_can_authenticate(user) else None
