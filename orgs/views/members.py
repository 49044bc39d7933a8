"""Members: the list (search, filters, add), a member's page, and one URL per change."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

from core.exceptions import NotFound, PermissionDenied, ServiceError, ValidationFailed
from orgs import rbac, selectors
from orgs.access import VIEW_AS_SESSION, OrgActionView, OrgView, found
from orgs.choices import AssignmentSource
from orgs.forms import MemberAddForm, MemberRoleForm
from orgs.models import CustomRole, Membership, Team
from orgs.services import assignments, invitations, members, view_as
from orgs.services.invitations import InvitationMade

PAGE_SIZE = 25


class MeView(OrgView):
    def get(self, request: HttpRequest) -> HttpResponse:
        member = selectors.member_get(org=self.org, pk=self.membership.pk)
        return render(
            request,
            "orgs/me.html",
            {
                "member": member,
                "permissions": [c for c in rbac.CATALOG if self.may(c.code)],
            },
        )


# The page shows a secret once (a new key, token or one-time password): never stored by a cache.
@method_decorator(never_cache, name="dispatch")
class MemberListView(OrgView):
    capability = "admin.members"

    def get(
        self,
        request: HttpRequest,
        form: MemberAddForm | None = None,
        invited: InvitationMade | None = None,
    ) -> HttpResponse:
        q = request.GET.get("q", "")[:200]
        status = request.GET.get("status", "")
        role = request.GET.get("role", "")
        qs = selectors.member_list(org=self.org, search=q, status=status, role=role)
        page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
        return render(
            request,
            "orgs/members.html",
            {
                "page": page,
                "q": q,
                "status": status,
                "role": role,
                "form": form or MemberAddForm(),
                "invited": invited,
                "invite_link": request.build_absolute_uri(invited.path) if invited else "",
                "invitations": selectors.invitation_list(org=self.org),
            },
            status=400 if form is not None and form.errors else 200,
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        form = MemberAddForm(request.POST)
        if not form.is_valid():
            return self.get(request, form=form)
        try:
            invited = invitations.invitation_create(
                org=self.org,
                email=form.cleaned_data["email"],
                full_name=form.cleaned_data["full_name"],
                role=form.cleaned_data["role"],
                actor=request.user,
            )
        except ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            return self.get(request, form=form)
        messages.success(request, f"{invited.invitation.email} is invited.")
        # The invitation link is rendered once, in this response, and never stored in clear.
        return self.get(request, form=MemberAddForm(), invited=invited)


class InvitationRevokeView(OrgActionView):
    capability = "admin.members"
    back = "members"

    def act(self, request: HttpRequest, pk: int) -> str:
        invitation = found(selectors.invitation_get(org=self.org, pk=pk), "invitation")
        invitations.invitation_revoke(invitation=invitation, actor=request.user)
        return f"The invitation of {invitation.email} is revoked."


class MemberDetailView(OrgView):
    capability = "admin.members"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        member = found(selectors.member_get(org=self.org, pk=pk), "member")
        manual_roles = {
            a.role_id for a in member.role_assignments.all() if a.source == AssignmentSource.MANUAL
        }
        manual_teams = {
            t.team_id for t in member.team_memberships.all() if t.source == AssignmentSource.MANUAL
        }
        return render(
            request,
            "orgs/member_detail.html",
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


class MemberActionView(OrgActionView):
    """A change to one member, made from their page."""

    capability = "admin.members"
    back = "member_detail"
    back_with_pk = True

    def member(self, pk: int) -> Membership:
        return found(selectors.member_get(org=self.org, pk=pk), "member")


class MemberRoleView(MemberActionView):
    def act(self, request: HttpRequest, pk: int) -> str:
        form = MemberRoleForm(request.POST)
        if not form.is_valid():
            raise ValidationFailed("Choose admin or member.")
        members.membership_change_role(
            membership=self.member(pk), role=form.cleaned_data["role"], actor=request.user
        )
        return "RBAC role saved."


class MemberDeactivateView(MemberActionView):
    def act(self, request: HttpRequest, pk: int) -> str:
        member = members.membership_deactivate(membership=self.member(pk), actor=request.user)
        return f"{member.user.email} is deactivated; their sessions and API keys are revoked."


class MemberReactivateView(MemberActionView):
    def act(self, request: HttpRequest, pk: int) -> str:
        member = members.membership_reactivate(membership=self.member(pk), actor=request.user)
        return f"{member.user.email} is active again."


class MemberCustomRoleView(MemberActionView):
    """Grant (held=True) or take away a hand-made custom role."""

    held = True

    def role(self, request: HttpRequest) -> CustomRole:
        if not self.may("admin.roles"):
            raise PermissionDenied(
                "Assigning custom roles needs the 'Manage custom roles' permission."
            )
        role = selectors.custom_role_get(org=self.org, pk=request.POST.get("role_id"))
        if role is None:
            raise NotFound("That custom role does not exist.")
        return role

    def act(self, request: HttpRequest, pk: int) -> str:
        member, role = self.member(pk), self.role(request)
        verb = assignments.role_assign if self.held else assignments.role_unassign
        verb(membership=member, role=role, actor=request.user)
        return "Custom roles saved."


class MemberTeamView(MemberActionView):
    """Add the member to a team (held=True) by hand, or take them out."""

    held = True

    def team(self, request: HttpRequest) -> Team:
        if not self.may("admin.teams"):
            raise PermissionDenied("Changing teams needs the 'Manage teams' permission.")
        team = selectors.team_get(org=self.org, pk=request.POST.get("team_id"))
        if team is None:
            raise NotFound("That team does not exist.")
        return team

    def act(self, request: HttpRequest, pk: int) -> str:
        member, team = self.member(pk), self.team(request)
        verb = assignments.team_member_add if self.held else assignments.team_member_remove
        verb(team=team, membership=member, actor=request.user)
        return "Teams saved."


class ViewAsStartView(MemberActionView):
    """Start viewing the dashboard as this member (admins; read-only; audited)."""

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        member = self.member(pk)
        try:
            view_as.view_as_start(admin=self.membership, member=member, actor=request.user)
        except ServiceError as exc:
            self.fail(exc)
            return redirect(reverse("governance:member_detail", args=[self.org.slug, pk]))
        request.session[VIEW_AS_SESSION] = {"org": self.org.pk, "membership": member.pk}
        return redirect(reverse("governance:me", args=[self.org.slug]))


class ViewAsStopView(OrgActionView):
    """Stop viewing as; allowed while viewing (it is the way back)."""

    allowed_while_viewing = True
    back = "members"

    def act(self, request: HttpRequest) -> str:
        viewed = getattr(request, "viewing_as", None)
        request.session.pop(VIEW_AS_SESSION, None)
        admin = getattr(request, "real_membership", self.membership)
        view_as.view_as_stop(admin=admin, member=viewed, actor=request.user)
        return "You see the dashboard as yourself again."


class MemberSearchView(OrgView):
    """Pickers that search as you type: up to 20 active members of this organization whose
    e-mail starts with, or whose name contains, the query (at least two characters)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        found_members = selectors.member_search(org=self.org, q=request.GET.get("q", ""))
        return JsonResponse(
            {"results": [{"id": i, "email": e, "name": n} for i, e, n in found_members]}
        )
