"""The organization's service keys for the agent runtime: only an admin sees, makes (the
secret is shown once) or revokes them."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

from core.exceptions import ServiceError
from orgs import rbac, selectors
from orgs.access import OrgActionView, OrgView, found
from orgs.forms import ApiKeyForm
from orgs.services import service_keys


class AdminOnly:
    """A service key acts for the whole organization: only the RBAC admin role reaches it (no
    custom role can delegate it)."""

    membership: Any

    def check_admin(self) -> None:
        if not rbac.is_admin(self.membership):
            raise PermissionDenied("Service keys are for organization admins only.")


# The page shows a secret once: never stored by a cache.
@method_decorator(never_cache, name="dispatch")
class ServiceKeyView(AdminOnly, OrgView):
    def get(self, request: HttpRequest, secret: str | None = None) -> HttpResponse:
        self.check_admin()
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

    def post(self, request: HttpRequest) -> HttpResponse:
        self.check_admin()
        form = ApiKeyForm(request.POST)
        if not form.is_valid():
            messages.error(request, "The label must be at most 100 characters.")
            return redirect("governance:service_keys", slug=self.org.slug)
        try:
            _, secret = service_keys.service_key_create(
                org=self.org, label=form.cleaned_data["label"], actor=request.user
            )
        except ServiceError as exc:
            self.fail(exc)
            return redirect("governance:service_keys", slug=self.org.slug)
        return self.get(request, secret=secret)


class ServiceKeyRevokeView(AdminOnly, OrgActionView):
    back = "service_keys"

    def act(self, request: HttpRequest, pk: int) -> str:
        self.check_admin()
        key = found(selectors.service_key_get(org=self.org, pk=pk), "service key")
        service_keys.service_key_revoke(key=key, actor=request.user)
        return f"{key} is revoked; the runtime can no longer use it."
