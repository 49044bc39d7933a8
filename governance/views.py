"""The dashboard shell: the landing redirect, the organization's Overview (it gathers from every
app), health checks and the error pages."""

from __future__ import annotations

import threading
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from drf_spectacular.views import SpectacularAPIView

from audit.choices import AuditAction
from audit.selectors import AuditFilter, audit_page
from core.doors import machine_error
from governance.health import broker_check
from orgs import selectors as org_selectors
from orgs.access import OrgView, has_admin_access
from sso import selectors as sso_selectors
from workspace import selectors as workspace_selectors


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if not request.GET.get("later") and org_selectors.has_pending_invitation(request.user):
        return redirect("governance:invitations")  # offered at the next sign-in
    first = org_selectors.memberships_for_user(request.user).first()
    if first is None:
        return render(request, "orgs/no_org.html", status=200)
    name = "governance:overview" if has_admin_access(first) else "governance:me"
    return redirect(name, slug=first.org.slug)


def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> HttpResponse:
    """Ready when the database answers, and the broker too when one is configured."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    checks["broker"] = broker_check()
    ok = all(v in {"ok", "embedded"} for v in checks.values())
    return JsonResponse(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503
    )


class OverviewView(OrgView):
    def get(self, request: HttpRequest) -> HttpResponse:
        if not has_admin_access(self.membership):
            raise PermissionDenied("The overview is for members with an administrative role.")
        recent: list[Any] = []
        if self.may("admin.audit_log"):
            recent, _ = audit_page(org=self.org, limit=10)
        # Break-glass sign-ins are shown to every admin, whatever else they may see.
        glass, _ = audit_page(
            org=self.org, filters=AuditFilter(action=AuditAction.SSO_BREAK_GLASS_LOGIN), limit=10
        )
        return render(
            request,
            "governance/overview.html",
            {
                "counts": org_selectors.org_counts(org=self.org),
                "recent_events": recent,
                "break_glass": glass,
                "sso": sso_selectors.sso_connection(org=self.org),
                "figures": workspace_selectors.daily_figures(org=self.org),
            },
        )


def _api_error(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse | None:
    """Machine clients get their door's error shape, even from Django's own handlers."""
    return machine_error(request, status, code, message)


def error_403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _api_error(request, 403, "permission_denied", "Not allowed.") or render(
        request, "403.html", {"reason": str(exception or "")}, status=403
    )


def error_404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _api_error(request, 404, "not_found", f"No API endpoint at {request.path}.") or (
        render(request, "404.html", status=404)
    )


def error_500(request: HttpRequest) -> HttpResponse:
    return _api_error(request, 500, "server_error", "Internal error; it was logged.") or render(
        request, "500.html", status=500
    )


_SCHEMA = threading.Lock()


class ApiSchemaView(SpectacularAPIView):
    """The OpenAPI document at /api/schema/, generated one request at a time per process:
    drf-spectacular loads its extensions' target classes lazily, without a lock, and two
    first requests at once in a fresh process raced there (AttributeError in
    plumbing._load_class: 7 of 8 concurrent first requests answered 500)."""

    def _get_schema_response(self, request: Any) -> Any:
        with _SCHEMA:
            return super()._get_schema_response(request)
