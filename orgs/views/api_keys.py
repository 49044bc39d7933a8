"""A member's own API keys: create (the secret is shown once), revoke."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

from core.exceptions import ServiceError
from orgs import selectors
from orgs.access import OrgActionView, OrgView, found
from orgs.forms import ApiKeyForm
from orgs.services import api_keys


# The page shows a secret once (a new key, token or one-time password): never stored by a cache.
@method_decorator(never_cache, name="dispatch")
class ApiKeyView(OrgView):
    def get(self, request: HttpRequest, secret: str | None = None) -> HttpResponse:
        return render(
            request,
            "orgs/api_keys.html",
            {
                "keys": selectors.api_keys_for(membership=self.membership),
                "form": ApiKeyForm(),
                "secret": secret,
                "api_base": request.build_absolute_uri(reverse("api:member-list")),
            },
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ApiKeyForm(request.POST)
        if not form.is_valid():
            messages.error(request, "The label must be at most 100 characters.")
            return redirect("governance:api_keys", slug=self.org.slug)
        try:
            _, secret = api_keys.api_key_create(
                membership=self.membership, label=form.cleaned_data["label"], actor=request.user
            )
        except ServiceError as exc:
            self.fail(exc)
            return redirect("governance:api_keys", slug=self.org.slug)
        return self.get(request, secret=secret)


class ApiKeyRevokeView(OrgActionView):
    back = "api_keys"

    def act(self, request: HttpRequest, pk: int) -> str:
        key = found(selectors.api_key_get(membership=self.membership, pk=pk), "API key")
        api_keys.api_key_revoke(api_key=key, actor=request.user)
        return "API key revoked."
