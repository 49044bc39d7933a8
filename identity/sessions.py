"""When a session was signed in. Every way a session is born (password, SAML, OIDC, break-glass)
goes through `django.contrib.auth.login`, whose `user_logged_in` signal stamps the time here; a
key cycled later (a one-time password replaced) keeps the stamp, because it is the same sign-in.

Revocation compares against the stamp instead of deleting rows found by session key: a session
signed in before a revocation stays revoked whatever its key became, and whatever is reactivated
afterwards (`orgs.Membership.sessions_not_before`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

SESSION_SIGNED_IN_AT = "_signed_in_at"


@receiver(user_logged_in, dispatch_uid="identity.sessions.stamp")
def stamp_sign_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_SIGNED_IN_AT] = datetime.now(UTC).timestamp()


def signed_in_at(session: Any) -> datetime | None:
    """When this session signed in; None for a session older than the stamp (treated as the
    oldest possible, so any revocation covers it)."""
    value = session.get(SESSION_SIGNED_IN_AT) if session is not None else None
    if not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value, tz=UTC)


def signed_in_before(session: Any, moment: datetime | None) -> bool:
    """True when the session was signed in before `moment` (so a revocation at `moment`
    covers it); False when there is no such moment."""
    if moment is None:
        return False
    started = signed_in_at(session)
    return started is None or started < moment
