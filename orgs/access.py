"""The dashboard's door: which org a request is about, who is asking, and may they. (Sign-in
policy, Require SSO and one-time passwords, is the sign-in app's middleware: sso.middleware.)"""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import quote

from django import forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from core.exceptions import ServiceError
from identity.sessions import signed_in_before
from orgs import rbac, selectors
from orgs.forms import ApiKeyForm
from orgs.models import Membership, Organization

T = TypeVar("T")
ADMIN_CAPABILITIES = tuple(c.code for c in rbac.CATALOG if c.code.startswith("admin."))


def has_admin_access(membership: Membership) -> bool:
    perms = rbac.permissions_of(membership)
    return any(code in perms for code in ADMIN_CAPABILITIES)


def session_reaches(membership: Membership | None, session: Any) -> bool:
    """Whether this browser session may act in the membership's org: the membership is
    active and the session was signed in after the org last ended its sessions."""
    return membership is not None and not signed_in_before(session, membership.sessions_not_before)


def reauthenticate(request: HttpRequest) -> HttpResponse:
    """A session this org has ended: sign in again (other orgs keep the session)."""
    messages.info(request, "Your session for this organization was ended; sign in again.")
    return redirect(f"{reverse('sso:login')}?reauth=1&next={quote(request.get_full_path())}")


VIEW_AS_SESSION = "view_as"


def viewing_as(request: HttpRequest, membership: Membership) -> Membership | None:
    """The member an admin is viewing the organization as, or None. Only an active RBAC admin's
    session can carry it, and only for this organization and an active member of it."""
    state = request.session.get(VIEW_AS_SESSION)
    if not isinstance(state, dict) or state.get("org") != membership.org_id:
        return None
    if not rbac.is_admin(membership):
        return None
    return (
        Membership.objects.select_related("user", "org")
        .filter(org_id=membership.org_id, pk=state.get("membership"), is_active=True)
        .first()
    )


def found(obj: T | None, what: str) -> T:
    """The object a scoped selector returned, or a 404 (unknown, or another org's)."""
    if obj is None:
        raise Http404(f"No such {what}.")
    return obj


class OrgView(LoginRequiredMixin, View):
    """Resolves /o/<slug>/ to the viewer's *active* membership there. Another org's slug, or
    an org the viewer is not active in, is a 404: nothing about it leaks."""

    capability: str | None = None
    admin_role_only = False  # the RBAC admin role itself, which no custom role delegates
    allowed_while_viewing = False  # the "stop viewing as" action
    org: Organization
    membership: Membership

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        membership = selectors.membership_for_page(slug=kwargs.pop("slug"), user=request.user)
        if membership is None:
            raise Http404("No such organization.")
        if not session_reaches(membership, request.session):
            return reauthenticate(request)
        viewed = viewing_as(request, membership)
        if viewed is not None:
            # "View as": the pages as that member sees them, read-only; the admin's own
            # membership stays on the request for the banner and the way back.
            request.real_membership = membership  # type: ignore[attr-defined]
            request.viewing_as = viewed  # type: ignore[attr-defined]
            if request.method not in ("GET", "HEAD", "OPTIONS") and not self.allowed_while_viewing:
                messages.error(
                    request,
                    f"You are viewing as {viewed.user.email}: the dashboard is read-only. "
                    "Stop viewing as them to make changes.",
                )
                return redirect(reverse("governance:me", args=[membership.org.slug]))
            membership = viewed
        self.membership = membership
        self.org = membership.org
        request.org = membership.org  # type: ignore[attr-defined]
        request.membership = membership  # type: ignore[attr-defined]
        if self.capability and not rbac.may(membership, self.capability):
            raise PermissionDenied(f"This page needs the {self.capability!r} permission.")
        if self.admin_role_only and not rbac.is_admin(membership):
            raise PermissionDenied("This page is for the organization's admins only.")
        return super().dispatch(request, *args, **kwargs)

    def may(self, capability: str) -> bool:
        return rbac.may(self.membership, capability)

    def fail(self, exc: ServiceError) -> None:
        messages.error(self.request, exc.message)


class OrgActionView(OrgView):
    """A form that does one thing (one URL per action): POST only; `act` calls one service and
    returns what to tell the viewer, a refusal comes back as an error message, and the browser
    goes back to the page named by `back` (with the URL's `pk` when `back_with_pk`)."""

    http_method_names = ["post"]
    back: str = ""
    back_with_pk = False

    def act(self, request: HttpRequest, **kwargs: Any) -> str:
        raise NotImplementedError

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        try:
            messages.success(request, self.act(request, **kwargs))
        except ServiceError as exc:
            self.fail(exc)
        args = [self.org.slug] + ([kwargs["pk"]] if self.back_with_pk else [])
        return redirect(reverse(f"governance:{self.back}", args=args))


@method_decorator(never_cache, name="dispatch")
class SecretOnceView(OrgView):
    """A page that makes a bearer secret from a label (an API key, a service key, a SCIM token)
    and shows it once, on the response to the POST; the page is never stored by a cache."""

    form_class: type[forms.Form] = ApiKeyForm
    page: str = ""  # the URL name to go back to on a refusal

    def make(self, label: str) -> str:
        raise NotImplementedError

    def get(self, request: HttpRequest, secret: str | None = None) -> HttpResponse:
        raise NotImplementedError

    def post(self, request: HttpRequest) -> HttpResponse:
        form = self.form_class(request.POST)
        if not form.is_valid():
            messages.error(request, "The label must be at most 100 characters.")
            return redirect(f"governance:{self.page}", slug=self.org.slug)
        try:
            secret = self.make(form.cleaned_data["label"])
        except ServiceError as exc:
            self.fail(exc)
            return redirect(f"governance:{self.page}", slug=self.org.slug)
        return self.get(request, secret=secret)
