"""Dashboard pages for organizations, members, custom roles, teams and API keys."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from audit.selectors import AuditFilter, audit_page
from governance import rbac, selectors, services
from governance.access import OrgView, found, has_admin_access
from governance.choices import AssignmentSource
from governance.exceptions import ServiceError
from governance.forms import ApiKeyForm, CustomRoleForm, MemberAddForm, MemberRoleForm, TeamForm
from governance.models import Membership

PAGE_SIZE = 25


@login_required
def home(request: HttpRequest) -> HttpResponse:
    first = selectors.memberships_for_user(request.user).first()
    if first is None:
        return render(request, "governance/no_org.html", status=200)
    name = "governance:overview" if has_admin_access(first) else "governance:me"
    return redirect(name, slug=first.org.slug)


def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> HttpResponse:
    """Ready when the database answers, and the broker too when one is configured."""
    from governance.health import broker_check

    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    checks["broker"] = broker_check()
    ok = all(v in {"ok", "not configured"} for v in checks.values())
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
            org=self.org, filters=AuditFilter(action="sso.break_glass_login"), limit=10
        )
        return render(
            request,
            "governance/overview.html",
            {
                "counts": selectors.org_counts(org=self.org),
                "recent_events": recent,
                "break_glass": glass,
                "sso": getattr(self.org, "sso", None),
            },
        )


class MeView(OrgView):
    def get(self, request: HttpRequest) -> HttpResponse:
        member = selectors.member_get(org=self.org, pk=self.membership.pk)
        return render(
            request,
            "governance/me.html",
            {
                "member": member,
                "permissions": [c for c in rbac.CATALOG if self.may(c.code)],
            },
        )


class MemberListView(OrgView):
    capability = "admin.members"

    def get(
        self,
        request: HttpRequest,
        form: MemberAddForm | None = None,
        added: services.MembershipAdded | None = None,
    ) -> HttpResponse:
        q = request.GET.get("q", "")[:200]
        status = request.GET.get("status", "")
        role = request.GET.get("role", "")
        qs = selectors.member_list(org=self.org, search=q, status=status, role=role)
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        return render(
            request,
            "governance/members.html",
            {
                "page": page,
                "q": q,
                "status": status,
                "role": role,
                "form": form or MemberAddForm(),
                "added": added,
            },
            status=400 if form is not None and form.errors else 200,
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        form = MemberAddForm(request.POST)
        if not form.is_valid():
            return self.get(request, form=form)
        try:
            added = services.membership_add(
                org=self.org,
                email=form.cleaned_data["email"],
                full_name=form.cleaned_data["full_name"],
                role=form.cleaned_data["role"],
                actor=request.user,
            )
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            return self.get(request, form=form)
        messages.success(request, f"{added.membership.user.email} was added.")
        # The one-time password is rendered once, in this response, and never stored in clear.
        return self.get(request, form=MemberAddForm(), added=added)


class MemberDetailView(OrgView):
    capability = "admin.members"

    def _member(self, pk: int) -> Membership:
        return found(selectors.member_get(org=self.org, pk=pk), "member")

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        member = self._member(pk)
        manual_roles = {
            a.role_id for a in member.role_assignments.all() if a.source == AssignmentSource.MANUAL
        }
        manual_teams = {
            t.team_id for t in member.team_memberships.all() if t.source == AssignmentSource.MANUAL
        }
        return render(
            request,
            "governance/member_detail.html",
            {
                "member": member,
                "role_form": MemberRoleForm(initial={"role": member.role}),
                "roles": selectors.custom_role_list(org=self.org),
                "teams": selectors.team_list(org=self.org),
                "manual_roles": manual_roles,
                "manual_teams": manual_teams,
                "can_assign_roles": self.may("admin.roles"),
                "can_assign_teams": self.may("admin.teams"),
            },
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        member = self._member(pk)
        action = request.POST.get("action", "")
        try:
            self._apply(request, member, action)
        except ServiceError as exc:
            self.fail(exc)
        return redirect("governance:member_detail", slug=self.org.slug, pk=member.pk)

    def _apply(self, request: HttpRequest, member: Membership, action: str) -> None:
        actor = request.user
        if action == "role":
            form = MemberRoleForm(request.POST)
            if not form.is_valid():
                messages.error(request, "Choose admin or member.")
                return
            services.membership_change_role(
                membership=member, role=form.cleaned_data["role"], actor=actor
            )
            messages.success(request, "RBAC role saved.")
        elif action == "deactivate":
            services.membership_deactivate(membership=member, actor=actor)
            messages.success(
                request,
                f"{member.user.email} is deactivated; their sessions and API keys are revoked.",
            )
        elif action == "reactivate":
            services.membership_reactivate(membership=member, actor=actor)
            messages.success(request, f"{member.user.email} is active again.")
        elif action in {"assign_role", "unassign_role"}:
            if not self.may("admin.roles"):
                messages.error(
                    request, "Assigning custom roles needs the 'Manage custom roles' permission."
                )
                return
            role = selectors.custom_role_get(org=self.org, pk=request.POST.get("role_id"))
            if role is None:
                messages.error(request, "That custom role does not exist.")
                return
            verb = services.role_assign if action == "assign_role" else services.role_unassign
            verb(membership=member, role=role, actor=actor)
            messages.success(request, "Custom roles saved.")
        elif action in {"add_team", "remove_team"}:
            if not self.may("admin.teams"):
                messages.error(request, "Changing teams needs the 'Manage teams' permission.")
                return
            team = selectors.team_get(org=self.org, pk=request.POST.get("team_id"))
            if team is None:
                messages.error(request, "That team does not exist.")
                return
            verb = services.team_member_add if action == "add_team" else services.team_member_remove
            verb(team=team, membership=member, actor=actor)
            messages.success(request, "Teams saved.")
        else:
            messages.error(request, "Unknown action.")


class RoleListView(OrgView):
    capability = "admin.roles"

    def get(self, request: HttpRequest) -> HttpResponse:
        return render(
            request, "governance/roles.html", {"roles": selectors.custom_role_list(org=self.org)}
        )


class RoleEditView(OrgView):
    """Create (pk is None) or edit a custom role; POST action=delete deletes it."""

    capability = "admin.roles"

    def _role(self, pk: int | None) -> Any:
        if pk is None:
            return None
        return found(selectors.custom_role_get(org=self.org, pk=pk), "custom role")

    def _render(self, request: HttpRequest, form: CustomRoleForm, role: Any) -> HttpResponse:
        return render(
            request,
            "governance/role_form.html",
            {
                "form": form,
                "role": role,
                "catalog": rbac.catalog_groups(),
                "checked": set(form["permissions"].value() or []),
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
        if role is not None and request.POST.get("action") == "delete":
            try:
                services.custom_role_delete(role=role, actor=request.user)
            except ServiceError as exc:
                self.fail(exc)
                return redirect("governance:role_edit", slug=self.org.slug, pk=role.pk)
            messages.success(request, f"Custom role {role.name} was deleted.")
            return redirect("governance:roles", slug=self.org.slug)
        form = CustomRoleForm(request.POST)
        if not form.is_valid():
            return self._render(request, form, role)
        data = form.cleaned_data
        try:
            if role is None:
                role = services.custom_role_create(
                    org=self.org,
                    name=data["name"],
                    description=data["description"],
                    permissions=data["permissions"],
                    actor=request.user,
                )
            else:
                role = services.custom_role_update(
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


class TeamListView(OrgView):
    capability = "admin.teams"

    def get(self, request: HttpRequest, form: TeamForm | None = None) -> HttpResponse:
        return render(
            request,
            "governance/teams.html",
            {
                "teams": selectors.team_list(org=self.org),
                "form": form or TeamForm(),
            },
            status=400 if form is not None and form.errors else 200,
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        form = TeamForm(request.POST)
        if form.is_valid():
            try:
                team = services.team_create(
                    org=self.org, name=form.cleaned_data["name"], actor=request.user
                )
            except ServiceError as exc:
                form.add_error("name", exc.message)
            else:
                messages.success(request, f"Team {team.name} was created.")
                return redirect("governance:team_detail", slug=self.org.slug, pk=team.pk)
        return self.get(request, form=form)


class TeamDetailView(OrgView):
    capability = "admin.teams"

    def _team(self, pk: int) -> Any:
        return found(selectors.team_get(org=self.org, pk=pk), "team")

    def get(self, request: HttpRequest, pk: int, form: TeamForm | None = None) -> HttpResponse:
        team = self._team(pk)
        rows = list(selectors.team_members(team=team))
        in_team = {r.membership_id for r in rows if r.source == AssignmentSource.MANUAL}
        candidates = [
            m
            for m in selectors.member_list(org=self.org, status="active").prefetch_related(None)
            if m.pk not in in_team
        ]
        return render(
            request,
            "governance/team_detail.html",
            {
                "team": team,
                "rows": rows,
                "candidates": candidates,
                "form": form or TeamForm(initial={"name": team.name}),
            },
            status=400 if form is not None and form.errors else 200,
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        team = self._team(pk)
        action = request.POST.get("action", "")
        try:
            if action == "rename":
                form = TeamForm(request.POST)
                if not form.is_valid():
                    return self.get(request, pk, form=form)
                services.team_rename(team=team, name=form.cleaned_data["name"], actor=request.user)
                messages.success(request, "Team renamed.")
            elif action == "delete":
                services.team_delete(team=team, actor=request.user)
                messages.success(request, f"Team {team.name} was deleted.")
                return redirect("governance:teams", slug=self.org.slug)
            elif action in {"add_member", "remove_member"}:
                member = selectors.member_get(org=self.org, pk=request.POST.get("membership_id"))
                if member is None:
                    messages.error(request, "That member does not exist in this organization.")
                elif action == "add_member":
                    services.team_member_add(team=team, membership=member, actor=request.user)
                    messages.success(request, f"{member.user.email} joined {team.name}.")
                else:
                    services.team_member_remove(team=team, membership=member, actor=request.user)
                    messages.success(request, f"{member.user.email} left {team.name}.")
            else:
                messages.error(request, "Unknown action.")
        except ServiceError as exc:
            if action == "rename":
                form = TeamForm(request.POST)
                form.is_valid()
                form.add_error("name", exc.message)
                return self.get(request, pk, form=form)
            self.fail(exc)
        return redirect("governance:team_detail", slug=self.org.slug, pk=team.pk)


class ApiKeyView(OrgView):
    """A member's own API keys: create (the secret is shown once), revoke."""

    def get(self, request: HttpRequest, secret: str | None = None) -> HttpResponse:
        return render(
            request,
            "governance/api_keys.html",
            {
                "keys": selectors.api_keys_for(membership=self.membership),
                "form": ApiKeyForm(),
                "secret": secret,
                "api_base": request.build_absolute_uri(reverse("api:member-list")),
            },
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        if request.POST.get("action") == "revoke":
            key = selectors.api_key_get(membership=self.membership, pk=request.POST.get("key_id"))
            if key is None:
                messages.error(request, "That API key does not exist.")
            else:
                services.api_key_revoke(api_key=key, actor=request.user)
                messages.success(request, "API key revoked.")
            return redirect("governance:api_keys", slug=self.org.slug)
        form = ApiKeyForm(request.POST)
        if not form.is_valid():
            messages.error(request, "The label must be at most 100 characters.")
            return redirect("governance:api_keys", slug=self.org.slug)
        try:
            _, secret = services.api_key_create(
                membership=self.membership, label=form.cleaned_data["label"], actor=request.user
            )
        except ServiceError as exc:
            self.fail(exc)
            return redirect("governance:api_keys", slug=self.org.slug)
        return self.get(request, secret=secret)


def _api_error(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse | None:
    """Machine clients get their JSON error shape, even from Django's own handlers."""
    if request.path.startswith("/scim/"):
        from scim.responses import scim_error

        return scim_error(status, message)
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": code, "message": message}}, status=status)
    return None


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
