"""The dashboard's door: which org a request is about, who is asking, and may they."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views import View

from governance import rbac
from governance.choices import RbacRole
from governance.exceptions import ServiceError
from governance.models import Membership

ADMIN_CAPABILITIES = tuple(c.code for c in rbac.CATALOG if c.code.startswith("admin."))


def has_admin_access(membership: Membership) -> bool:
    perms = rbac.permissions_of(membership)
    return any(code in perms for code in ADMIN_CAPABILITIES)


def found(obj: Any, what: str) -> Any:
    """The object a scoped selector returned, or a 404 (unknown, or another org's)."""
    if obj is None:
        raise Http404(f"No such {what}.")
    return obj


def sso_required_here(request: HttpRequest, membership: Membership) -> HttpResponse | None:
    """Require SSO: a member (not an admin: they keep break-glass) whose session was not
    vouched for by this org's IdP is sent to sign in through it."""
    conn = getattr(membership.org, "sso", None)
    if conn is None or not conn.require_sso or membership.role == RbacRole.ADMIN:
        return None
    if membership.org_id in (request.session.get("sso_org_ids") or []):
        return None
    protocol = conn.protocol or "saml"
    target = reverse(f"identity:{protocol}_login", args=[membership.org.slug])
    return redirect(f"{target}?next={quote(request.get_full_path())}")


class OrgView(LoginRequiredMixin, View):
    """Resolves /o/<slug>/ to the viewer's *active* membership there. Another org's slug, or
    an org the viewer is not active in, is a 404: nothing about it leaks."""

    capability: str | None = None
    org: Any
    membership: Membership

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        # A one-time password must be replaced before use; an SSO session never used it.
        if request.user.password_change_required and not request.session.get("sso_org_ids"):
            return redirect(reverse("identity:password_set") + "?next=" + request.path)
        membership = (
            Membership.objects.select_related("org", "org__sso")
            .filter(org__slug=kwargs.pop("slug"), user=request.user, is_active=True)
            .first()
        )
        if membership is None:
            raise Http404("No such organization.")
        refused = sso_required_here(request, membership)
        if refused is not None:
            return refused
        self.membership = membership
        self.org = membership.org
        request.org = membership.org  # type: ignore[attr-defined]
        request.membership = membership  # type: ignore[attr-defined]
        if self.capability and not rbac.may(membership, self.capability):
            raise PermissionDenied(f"This page needs the {self.capability!r} permission.")
        return super().dispatch(request, *args, **kwargs)

    def may(self, capability: str) -> bool:
        return rbac.may(self.membership, capability)

    def fail(self, exc: ServiceError) -> None:
        messages.error(self.request, exc.message)
