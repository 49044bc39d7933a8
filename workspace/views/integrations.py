"""Integrations: the catalog, what the viewer's roles allow, connections."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.input import as_id
from orgs import rbac
from orgs.access import OrgActionView, OrgView, found
from workspace.models import (
    IntegrationConnection,
)
from workspace.services import connections


class IntegrationsView(OrgView):
    """The integration catalog: which the viewer's roles allow, the organization's connections,
    and (with `integrations.connect`) a form to connect one."""

    def get(self, request: HttpRequest) -> HttpResponse:
        perms = rbac.permissions_of(self.membership)
        admin = rbac.is_admin(self.membership)
        return render(
            request,
            "workspace/integrations.html",
            {
                "catalog": [
                    (slug, name, admin or f"integrations.use.{slug}" in perms)
                    for slug, name in rbac.INTEGRATIONS
                ],
                "connections": IntegrationConnection.objects.filter(org=self.org).order_by(
                    "integration", "label"
                ),
                "may_connect": admin or "integrations.connect" in perms,
            },
        )


class IntegrationConnectView(OrgActionView):
    back = "integrations"

    def act(self, request: HttpRequest) -> str:
        made = connections.connection_create(
            org=self.org,
            integration=request.POST.get("integration", ""),
            label=request.POST.get("label", ""),
            actor=request.user,
        )
        return f"{made.label} is connected."


class IntegrationDisconnectView(OrgActionView):
    back = "integrations"

    def act(self, request: HttpRequest, pk: int) -> str:
        connection = found(
            IntegrationConnection.objects.filter(org=self.org, pk=as_id(pk) or 0).first(),
            "connection",
        )
        connections.connection_delete(connection=connection, actor=request.user)
        return f"{connection.label} is disconnected."
