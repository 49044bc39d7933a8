"""Teams: the list (create), a team's page (rename), deletion, and its hand-made members."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from core.exceptions import NotFound, ServiceError
from orgs import selectors
from orgs.access import OrgActionView, OrgView, found
from orgs.forms import TeamForm
from orgs.models import Team
from orgs.services import assignments, teams


class TeamListView(OrgView):
    capability = "admin.teams"

    def get(self, request: HttpRequest, form: TeamForm | None = None) -> HttpResponse:
        return render(
            request,
            "orgs/teams.html",
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
                team = teams.team_create(
                    org=self.org, name=form.cleaned_data["name"], actor=request.user
                )
            except ServiceError as exc:
                form.add_error("name", exc.message)
            else:
                messages.success(request, f"Team {team.name} was created.")
                return redirect("governance:team_detail", slug=self.org.slug, pk=team.pk)
        return self.get(request, form=form)


class TeamDetailView(OrgView):
    """A team's page; POST renames it."""

    capability = "admin.teams"

    def get(self, request: HttpRequest, pk: int, form: TeamForm | None = None) -> HttpResponse:
        team = found(selectors.team_get(org=self.org, pk=pk), "team")
        rows = list(selectors.team_members(team=team))
        # No list of every member here: the picker searches as you type (members/search/).
        return render(
            request,
            "orgs/team_detail.html",
            {
                "team": team,
                "rows": rows,
                "form": form or TeamForm(initial={"name": team.name}),
            },
            status=400 if form is not None and form.errors else 200,
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        team = found(selectors.team_get(org=self.org, pk=pk), "team")
        form = TeamForm(request.POST)
        if form.is_valid():
            try:
                teams.team_rename(team=team, name=form.cleaned_data["name"], actor=request.user)
            except ServiceError as exc:
                form.add_error("name", exc.message)
            else:
                messages.success(request, "Team renamed.")
                return redirect("governance:team_detail", slug=self.org.slug, pk=team.pk)
        return self.get(request, pk, form=form)


class TeamActionView(OrgActionView):
    capability = "admin.teams"
    back = "team_detail"
    back_with_pk = True

    def team(self, pk: int) -> Team:
        return found(selectors.team_get(org=self.org, pk=pk), "team")


class TeamDeleteView(TeamActionView):
    back = "teams"
    back_with_pk = False

    def act(self, request: HttpRequest, pk: int) -> str:
        team = self.team(pk)
        teams.team_delete(team=team, actor=request.user)
        return f"Team {team.name} was deleted."


class TeamMemberView(TeamActionView):
    """Add a member to the team by hand (held=True), or take them out."""

    held = True

    def act(self, request: HttpRequest, pk: int) -> str:
        team = self.team(pk)
        email = (request.POST.get("member_email") or "").strip()
        member = (
            selectors.member_by_email(org=self.org, email=email)
            if email
            else selectors.member_get(org=self.org, pk=request.POST.get("membership_id"))
        )
        if member is None:
            raise NotFound("That member does not exist in this organization.")
        if self.held:
            assignments.team_member_add(team=team, membership=member, actor=request.user)
            return f"{member.user.email} joined {team.name}."
        assignments.team_member_remove(team=team, membership=member, actor=request.user)
        return f"{member.user.email} left {team.name}."
