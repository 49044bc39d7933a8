"""Django's own sign-in signals: there is no service of ours to hook for these."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from sso.services.signin import login_record_failure, login_record_success, logout_record


@receiver(user_logged_in)
def _on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    session_key = request.session.session_key if request is not None else None
    login_record_success(
        user=user, session_key=session_key, method=getattr(request, "login_method", "password")
    )


@receiver(user_login_failed)
def _on_login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    login_record_failure(
        email=str(credentials.get("username") or ""),
        reason=getattr(request, "login_failure_reason", "wrong e-mail or password"),
    )


@receiver(user_logged_out)
def _on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        logout_record(user=user, session_key=request.session.session_key if request else None)
