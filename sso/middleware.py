"""Sign-in policy on every organization page (the dashboard's /o/<slug>/...):

- a one-time password must be replaced before anything else (an SSO session never used one);
- Require SSO: a member (not an admin: they keep break-glass) whose session this organization's
  IdP has not vouched for is sent to sign in through it.

A middleware of the sign-in app rather than a check inside the organizations' base view, so the
organizations layer does not depend on sign-in (README, Architecture)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from sso import selectors

SESSION_SSO_ORGS = "sso_org_ids"  # orgs whose IdP vouched for this session


class SignInPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Any, args: Any, kwargs: dict[str, Any]
    ) -> HttpResponse | None:
        match = request.resolver_match
        user = getattr(request, "user", None)
        if match is None or match.namespace != "governance" or "slug" not in kwargs:
            return None
        if user is None or not user.is_authenticated:
            return None
        vouched = request.session.get(SESSION_SSO_ORGS) or []
        if user.password_change_required and not vouched:
            return redirect(reverse("sso:password_set") + "?next=" + quote(request.path))
        protocol = selectors.sso_required_for(slug=kwargs["slug"], user=user, vouched=vouched)
        if protocol is None:
            return None
        target = reverse(f"sso:{protocol}_login", args=[kwargs["slug"]])
        return redirect(f"{target}?next={quote(request.get_full_path())}")
