"""Custom roles: the list, the create/edit form, and deletion."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.exceptions import ServiceError
from orgs import rbac, selectors
from orgs.access import OrgActionView, OrgView, found
from orgs.choices import AssignmentSource
from orgs.forms import CustomRoleForm
from orgs.models import CustomRole
from orgs.services import roles


class RoleListView(OrgView):
    capability = "admin.roles"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(
            request, "orgs/roles.html", {"roles": selectors.custom_role_list(org=self.org)}
        )


class RoleEditView(OrgView):
    """Create (pk is None) or edit a custom role."""

    capability = "admin.roles"

    def _role(self, pk: int | None) -> CustomRole | None:
        if pk is None:
            return None
        return found(selectors.custom_role_get(org=self.org, pk=pk), "custom role")

    def _render(
        self, request: HttpRequest, form: CustomRoleForm, role: CustomRole | None
    ) -> HttpResponse:
        return render(
            request,
            "orgs/role_form.html",
            {
                "form": form,
                "role": role,
                "catalog": rbac.catalog_groups(),
                "checked": set(form["permissions"].value() or []),
                "holders": [
                    (email, active, AssignmentSource(source).label)
                    for email, active, source in selectors.role_holders(role=role)
                ]
                if role
                else [],
            },
            status=400 if form.errors else 200,
        )

    def get(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        role = self._role(pk)
        initial = (
            {"name": role.name, "description": role.description, "permissions": role.permissions}
            if role
            else {}
        )
        return self._render(request, CustomRoleForm(initial=initial), role)

    def post(self, request: HttpRequest, pk: int | None = None) -> HttpResponse:
        role = self._role(pk)
        form = CustomRoleForm(request.POST)
        if not form.is_valid():
            return self._render(request, form, role)
        data = form.cleaned_data
        try:
            if role is None:
                role = roles.custom_role_create(
                    org=self.org,
                    name=data["name"],
                    description=data["description"],
                    permissions=data["permissions"],
                    actor=request.user,
                )
            else:
                role = roles.custom_role_update(
                    role=role,
                    name=data["name"],
                    description=data["description"],
                    permissions=data["permissions"],
                    actor=request.user,
                )
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            return self._render(request, form, role)
        messages.success(request, f"Custom role {role.name} was saved.")
        return redirect("governance:roles", slug=self.org.slug)


class RoleDeleteView(OrgActionView):
    capability = "admin.roles"
    back = "roles"

    def act(self, request: HttpRequest, pk: int) -> str:
        role = found(selectors.custom_role_get(org=self.org, pk=pk), "custom role")
        roles.custom_role_delete(role=role, actor=request.user)
        return f"Custom role {role.name} was deleted."


class RoleTemplatesView(OrgActionView):
    """Add the built-in Builder, Consumer and Org Admin roles this organization lacks."""

    capability = "admin.roles"
    back = "roles"

    def act(self, request: HttpRequest) -> str:
        made = roles.role_templates_create(org=self.org, actor=request.user)
        if not made:
            return "Every built-in role is already here."
        return "Added " + ", ".join(role.name for role in made) + "."
