"""A member's own API keys: create (the secret is shown once), revoke."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from orgs import selectors
from orgs.access import OrgActionView, SecretOnceView, found
from orgs.forms import ApiKeyForm
from orgs.services import api_keys


class ApiKeyView(SecretOnceView):
    page = "api_keys"

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

    def make(self, label: str) -> str:
        return api_keys.api_key_create(
            membership=self.membership, label=label, actor=self.request.user
        )[1]


class ApiKeyRevokeView(OrgActionView):
    back = "api_keys"

    def act(self, request: HttpRequest, pk: int) -> str:
        key = found(selectors.api_key_get(membership=self.membership, pk=pk), "API key")
        api_keys.api_key_revoke(api_key=key, actor=request.user)
        return "API key revoked."
