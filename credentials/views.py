"""Pages: the organization's Okta OAuth credentials (admin.credentials: add, edit, Test, delete,
services), and every member's personal credentials page (each service their roles allow:
Authenticate through the organization's Okta, status, Disconnect). One redirect URI serves every
organization: /credentials/oauth/callback/ (the `state` in the member's session says which
organization, service and PKCE verifier it answers)."""

from __future__ import annotations

import time
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from core.exceptions import ServiceError
from credentials import okta, services
from credentials.choices import BASE_SCOPES
from credentials.models import CredentialService, OktaCredential
from credentials.selectors import (
    connection_get,
    connections_of,
    credential_get,
    credentials_of,
    pending_revocations,
    service_get,
    services_of,
)
from credentials.tokens import (
    authorize_finish,
    authorize_start,
    disconnect,
    integrations_allowed,
)
from orgs.access import OrgActionView, OrgView, found
from orgs.models import Membership
from orgs.rbac import INTEGRATIONS
from sso.views.finish import base_url

CAPABILITY = "admin.credentials"
PENDING = "credentials_oauth"  # session: state -> what the callback needs
PENDING_TTL = 600  # seconds a member has to finish at Okta
MAX_PENDING = 5


def redirect_uri(request: HttpRequest) -> str:
    return base_url(request) + reverse("credentials_callback")


def _spec(post: Any) -> services.CredentialSpec:
    return services.CredentialSpec(
        name=post.get("name", ""),
        okta_domain=post.get("okta_domain", ""),
        server_id=post.get("server_id", ""),
        client_id=post.get("client_id", ""),
        client_secret=post.get("client_secret") or None,
    )


def _service_spec(post: Any) -> services.ServiceSpec:
    return services.ServiceSpec(
        name=post.get("name", ""),
        integration=post.get("integration", ""),
        audience=post.get("audience", ""),
        scopes=post.get("scopes", ""),
    )


@method_decorator(never_cache, name="dispatch")
class CredentialsView(OrgView):
    capability = CAPABILITY

    def get(self, request: HttpRequest, status: int = 200) -> HttpResponse:
        form = request.POST.dict() if status != 200 else {}
        form.pop("client_secret", None)
        return render(
            request,
            "credentials/credentials.html",
            {
                "credentials": list(credentials_of(org=self.org)),
                "revocations": pending_revocations(org=self.org),
                "form": form,
                "redirect_uri": redirect_uri(request),
            },
            status=status,
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            made = services.credential_create(
                org=self.org, actor=request.user, spec=_spec(request.POST)
            )
        except ServiceError as exc:
            self.fail(exc)
            return self.get(request, status=400)
        messages.success(
            request,
            f"{made.name} is saved: the authorization server's discovery document was read. "
            "Add its services, then Test it.",
        )
        return redirect("governance:credential", slug=self.org.slug, pk=made.pk)


@method_decorator(never_cache, name="dispatch")
class CredentialView(OrgView):
    capability = CAPABILITY

    def credential(self, pk: int) -> OktaCredential:
        return found(credential_get(org=self.org, pk=pk), "credential")

    def get(self, request: HttpRequest, pk: int, status: int = 200) -> HttpResponse:
        credential = self.credential(pk)
        return render(
            request,
            "credentials/credential.html",
            {
                "credential": credential,
                "services": list(services_of(org=self.org, credential=credential)),
                "integrations": INTEGRATIONS,
                "base_scopes": " ".join(BASE_SCOPES),
                "redirect_uri": redirect_uri(request),
            },
            status=status,
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        credential = self.credential(pk)
        try:
            services.credential_update(
                credential=credential, actor=request.user, spec=_spec(request.POST)
            )
        except ServiceError as exc:
            self.fail(exc)
            return self.get(request, pk, status=400)
        messages.success(request, "Saved.")
        return redirect("governance:credential", slug=self.org.slug, pk=pk)


class CredentialActionView(OrgActionView):
    capability = CAPABILITY
    back = "credential"
    back_with_pk = True

    def credential(self, pk: int) -> OktaCredential:
        return found(credential_get(org=self.org, pk=pk), "credential")


class CredentialTestView(CredentialActionView):
    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        ok, message = services.credential_test(
            credential=self.credential(kwargs["pk"]), actor=request.user
        )
        (messages.success if ok else messages.error)(request, message)
        return redirect("governance:credential", slug=self.org.slug, pk=kwargs["pk"])


class CredentialDeleteView(CredentialActionView):
    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        credential = self.credential(kwargs["pk"])
        services.credential_delete(credential=credential, actor=request.user)
        messages.success(request, f"{credential.name} is deleted; its members' tokens are revoked.")
        return redirect("governance:credentials", slug=self.org.slug)


class ServiceCreateView(CredentialActionView):
    def act(self, request: HttpRequest, pk: int) -> str:
        service = services.service_create(
            credential=self.credential(pk), actor=request.user, spec=_service_spec(request.POST)
        )
        return f"{service.name} added: members whose roles allow {service.integration} see it."


class ServiceActionView(OrgActionView):
    capability = CAPABILITY

    def service(self, pk: int) -> CredentialService:
        return found(service_get(org=self.org, pk=pk), "service")

    def post(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        service = self.service(kwargs["pk"])
        try:
            messages.success(request, self.act_on(request, service))
        except ServiceError as exc:
            self.fail(exc)
        return redirect("governance:credential", slug=self.org.slug, pk=service.credential_id)

    def act_on(self, request: HttpRequest, service: CredentialService) -> str:
        raise NotImplementedError


class ServiceUpdateView(ServiceActionView):
    def act_on(self, request: HttpRequest, service: CredentialService) -> str:
        services.service_update(
            service=service, actor=request.user, spec=_service_spec(request.POST)
        )
        return f"{service.name} saved."


class ServiceDeleteView(ServiceActionView):
    def act_on(self, request: HttpRequest, service: CredentialService) -> str:
        services.service_delete(service=service, actor=request.user)
        return f"{service.name} deleted; its members' tokens are revoked."


# --- The member's own page ------------------------------------------------------------------


@method_decorator(never_cache, name="dispatch")
class MyCredentialsView(OrgView):
    """Every service of the organization the member's roles allow, with their connection."""

    def get(self, request: HttpRequest) -> HttpResponse:
        mine = connections_of(membership=self.membership)
        offered = list(services_of(org=self.org))
        may = integrations_allowed(self.membership, {s.integration for s in offered})
        rows = []
        for service in offered:
            allowed = may[service.integration]
            connection = mine.get(service.pk)
            if not allowed and connection is None:
                continue
            missing = (
                [s for s in (*BASE_SCOPES, *service.scopes) if s not in connection.scopes]
                if connection is not None
                else []
            )
            rows.append(
                {
                    "service": service,
                    "connection": connection,
                    "allowed": allowed,
                    "missing": missing,
                }
            )
        return render(request, "credentials/mine.html", {"rows": rows})


class AuthenticateView(OrgView):
    """POST: off to the organization's Okta (authorization code, PKCE S256, state)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        service = found(service_get(org=self.org, pk=pk), "service")
        uri = redirect_uri(request)
        try:
            started = authorize_start(membership=self.membership, service=service, redirect_uri=uri)
        except ServiceError as exc:
            self.fail(exc)
            return redirect("governance:my_credentials", slug=self.org.slug)
        pending = {
            k: v
            for k, v in request.session.get(PENDING, {}).items()
            if isinstance(v, dict) and v.get("at", 0) > time.time() - PENDING_TTL
        }
        while len(pending) >= MAX_PENDING:
            pending.pop(min(pending, key=lambda k: pending[k]["at"]))
        pending[started.state] = {
            "org": self.org.pk,
            "membership": self.membership.pk,
            "service": service.pk,
            "verifier": started.verifier,
            "redirect_uri": uri,
            "at": time.time(),
        }
        request.session[PENDING] = pending
        return redirect(started.url)


class DisconnectView(OrgActionView):
    back = "my_credentials"

    def act(self, request: HttpRequest, pk: int) -> str:
        connection = found(connection_get(membership=self.membership, pk=pk), "connection")
        disconnect(connection=connection, actor=request.user)
        return f"{connection.service.name} is disconnected; its tokens are revoked at Okta."


@method_decorator(never_cache, name="dispatch")
class CallbackView(LoginRequiredMixin, View):
    """Okta sends the member back here with `code` and `state` (or `error`)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        state = request.GET.get("state", "")
        pending = request.session.get(PENDING, {})
        entry = pending.pop(state, None) if isinstance(pending, dict) and state else None
        request.session[PENDING] = pending
        if not isinstance(entry, dict) or entry.get("at", 0) < time.time() - PENDING_TTL:
            return self._fail(
                request,
                None,
                "This sign-in answer is unknown or too old (over 10 minutes): start again "
                "from your credentials page.",
            )
        membership = (
            Membership.objects.select_related("org", "user")
            .filter(pk=entry["membership"], org_id=entry["org"], user=request.user, is_active=True)
            .first()
        )
        if membership is None:
            return self._fail(request, None, "You are no longer an active member there.")
        service = service_get(org=membership.org, pk=entry["service"])
        if service is None:
            return self._fail(request, membership, "That service was deleted meanwhile.")
        if request.GET.get("error"):
            said = request.GET.get("error_description", "")[:300]
            reason = okta.OktaError(request.GET["error"][:100], said).message
            return self._fail(request, membership, f"{service.name} was not connected. {reason}")
        code = request.GET.get("code", "")
        if not code or len(code) > 4096:
            return self._fail(request, membership, "Okta's answer carried no authorization code.")
        try:
            connection = authorize_finish(
                membership=membership,
                service=service,
                code=code,
                verifier=entry["verifier"],
                redirect_uri=entry["redirect_uri"],
            )
        except okta.OktaError as exc:
            return self._fail(
                request, membership, f"{service.name} was not connected. {exc.message}"
            )
        except ServiceError as exc:
            return self._fail(request, membership, exc.message)
        messages.success(
            request,
            f"{service.name} is connected ({' '.join(connection.scopes)}).",
        )
        return redirect("governance:my_credentials", slug=membership.org.slug)

    def _fail(
        self, request: HttpRequest, membership: Membership | None, message: str
    ) -> HttpResponse:
        messages.error(request, message)
        if membership is None:
            return redirect("/")
        return redirect("governance:my_credentials", slug=membership.org.slug)
