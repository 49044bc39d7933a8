"""The SSO & SCIM dashboard page (SCIM part): base URL, tokens, recent activity and errors,
and the Okta and Entra setup steps."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from audit.selectors import AuditFilter, audit_page
from orgs.access import OrgActionView, SecretOnceView, found
from scim import selectors
from scim.forms import ScimTokenForm
from scim.services import tokens


class ScimSettingsView(SecretOnceView):
    capability = "admin.scim"
    form_class = ScimTokenForm
    page = "scim"

    def get(self, request: HttpRequest, secret: str | None = None) -> HttpResponse:
        activity, _ = audit_page(org=self.org, filters=AuditFilter(action="scim."), limit=20)
        return render(
            request,
            "scim/settings.html",
            {
                "base_url": request.build_absolute_uri("/scim/v2/"),
                "tokens": selectors.scim_tokens(org=self.org),
                "form": ScimTokenForm(),
                "secret": secret,
                "activity": activity,
                "errors": selectors.scim_recent_errors(org=self.org),
                "counts": selectors.scim_counts(org=self.org),
            },
        )

    def make(self, label: str) -> str:
        return tokens.scim_token_create(org=self.org, label=label, actor=self.request.user)[1]


class ScimTokenRevokeView(OrgActionView):
    capability = "admin.scim"
    back = "scim"

    def act(self, request: HttpRequest, pk: int) -> str:
        token = found(selectors.scim_token_get(org=self.org, pk=pk), "SCIM token")
        tokens.scim_token_revoke(token=token, actor=request.user)
        return f"{token} is revoked; the IdP can no longer use it."
