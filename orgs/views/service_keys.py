"""The organization's service keys for the agent runtime: only an admin sees, makes (the
secret is shown once) or revokes them."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from orgs import selectors
from orgs.access import OrgActionView, SecretOnceView, found
from orgs.forms import ApiKeyForm
from orgs.services import service_keys


class ServiceKeyView(SecretOnceView):
    """A service key acts for the whole organization: only the RBAC admin role reaches it."""

    admin_role_only = True
    page = "service_keys"

    def get(self, request: HttpRequest, secret: str | None = None) -> HttpResponse:
        return render(
            request,
            "orgs/service_keys.html",
            {
                "keys": selectors.service_keys_of(org=self.org),
                "form": ApiKeyForm(),
                "secret": secret,
                "authorize_url": request.build_absolute_uri(reverse("api:authorize")),
                "runs_url": request.build_absolute_uri(reverse("api:run-list")),
            },
        )

    def make(self, label: str) -> str:
        return service_keys.service_key_create(org=self.org, label=label, actor=self.request.user)[
            1
        ]


class ServiceKeyRevokeView(OrgActionView):
    admin_role_only = True
    back = "service_keys"

    def act(self, request: HttpRequest, pk: int) -> str:
        key = found(selectors.service_key_get(org=self.org, pk=pk), "service key")
        service_keys.service_key_revoke(key=key, actor=request.user)
        return f"{key} is revoked; the runtime can no longer use it."
