"""REST API for members, custom roles and teams. Every write calls the dashboard's services."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.exceptions import NotFound
from orgs import rbac, selectors
from orgs.api.serializers import (
    CapabilitySerializer,
    CustomRoleSerializer,
    IdSerializer,
    InvitationSerializer,
    MemberCreateSerializer,
    MemberSerializer,
    MemberUpdateSerializer,
    TeamSerializer,
)
from orgs.models import ApiKey
from orgs.services.assignments import (
    role_assign,
    role_unassign,
    team_member_add,
    team_member_remove,
)
from orgs.services.invitations import invitation_create, invitation_revoke
from orgs.services.members import (
    membership_change_role,
    membership_deactivate,
    membership_reactivate,
)
from orgs.services.roles import custom_role_create, custom_role_delete, custom_role_update
from orgs.services.teams import team_create, team_delete, team_rename

# A response that carries a secret shown once: no cache, proxy or back button may keep it.
SECRET_SHOWN_ONCE = {"Cache-Control": "no-store"}


INVITATION_MADE = inline_serializer(
    "InvitationMade",
    {"invitation": InvitationSerializer(), "invitation_url": serializers.CharField()},
)


def page_of(serializer: Any, name: str) -> Any:
    """The schema of a cursor-paged list: {next, previous, results: [...]}."""
    return inline_serializer(
        name,
        {
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer(many=True),
        },
    )


class Paging(CursorPagination):
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200
    ordering = "id"


class HasCapability(permissions.BasePermission):
    """The key's member must hold the view's capability (per method where it differs)."""

    message = "Your API key's member lacks the permission this endpoint needs."

    def has_permission(self, request: Request, view: Any) -> bool:
        key = request.auth
        if not isinstance(key, ApiKey):
            return False
        if view.admin_only:
            self.message = "Only an organization admin's API key may use this endpoint."
            return rbac.is_admin(key.membership)
        needed = view.capability_for(request.method)
        if needed is None:
            return True
        self.message = f"This needs the {needed!r} permission, which your API key's member lacks."
        return rbac.may(key.membership, needed)


class OrgAPIView(APIView):
    """The API key decides the organization. Ids from other orgs are 404."""

    permission_classes = [permissions.IsAuthenticated, HasCapability]
    capability: str | None = None
    capabilities: dict[str, str] = {}
    admin_only = False  # the RBAC admin role itself, not a delegable capability

    def capability_for(self, method: str) -> str | None:
        return self.capabilities.get(method, self.capability)

    @property
    def org(self) -> Any:
        return self.request.auth.membership.org

    @property
    def actor(self) -> ApiKey:
        return self.request.auth

    def paginate(self, qs: Any, serializer: Any) -> Response:
        paginator = Paging()
        page = paginator.paginate_queryset(qs, self.request, view=self)
        return paginator.get_paginated_response(serializer(page, many=True).data)

    def member_or_404(self, pk: Any) -> Any:
        member = selectors.member_get(org=self.org, pk=pk)
        if member is None:
            raise NotFound("No member with that id in this organization.")
        return member

    def valid(self, serializer_class: Any, partial: bool = False, **kwargs: Any) -> dict:
        s = serializer_class(data=self.request.data, partial=partial, **kwargs)
        s.is_valid(raise_exception=True)
        return s.validated_data


class MeView(OrgAPIView):
    @extend_schema(
        responses=inline_serializer(
            "Me",
            {
                "member": MemberSerializer(),
                "organization": serializers.CharField(),
                "permissions": CapabilitySerializer(many=True),
            },
        )
    )
    def get(self, request: Request) -> Response:
        member = self.member_or_404(request.auth.membership_id)
        perms = rbac.permissions_of(request.auth.membership)
        return Response(
            {
                "member": MemberSerializer(member).data,
                "organization": self.org.slug,
                "permissions": CapabilitySerializer(
                    [c for c in rbac.CATALOG if c.code in perms], many=True
                ).data,
            }
        )


class MemberListView(OrgAPIView):
    capability = "admin.members"

    @extend_schema(responses=page_of(MemberSerializer, "MemberPage"))
    def get(self, request: Request) -> Response:
        qs = selectors.member_list(
            org=self.org,
            search=request.query_params.get("q", "")[:200],
            status=request.query_params.get("status", ""),
            role=request.query_params.get("role", ""),
        ).order_by("id")
        return self.paginate(qs, MemberSerializer)

    @extend_schema(request=MemberCreateSerializer, responses={201: INVITATION_MADE})
    def post(self, request: Request) -> Response:
        """Adding a person by hand invites them (the same as POST invitations/)."""
        return invite(self, request)


class InvitationListView(OrgAPIView):
    capability = "admin.members"

    @extend_schema(responses=page_of(InvitationSerializer, "InvitationPage"))
    def get(self, request: Request) -> Response:
        """Pending invitations (accepted and revoked ones are in the audit log)."""
        qs = selectors.invitation_queryset(org=self.org).order_by("id")
        return self.paginate(qs, InvitationSerializer)

    @extend_schema(request=MemberCreateSerializer, responses={201: INVITATION_MADE})
    def post(self, request: Request) -> Response:
        return invite(self, request)


class InvitationDetailView(OrgAPIView):
    capability = "admin.members"

    def invitation_or_404(self, pk: int) -> Any:
        invitation = selectors.invitation_get(org=self.org, pk=pk)
        if invitation is None:
            raise NotFound("No invitation with that id in this organization.")
        return invitation

    @extend_schema(responses=InvitationSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(InvitationSerializer(self.invitation_or_404(pk)).data)

    @extend_schema(responses=InvitationSerializer)
    def delete(self, request: Request, pk: int) -> Response:
        """Revoke a pending invitation."""
        revoked = invitation_revoke(invitation=self.invitation_or_404(pk), actor=self.actor)
        return Response(InvitationSerializer(revoked).data)


def invite(view: Any, request: Request) -> Response:
    """The same answer whether or not the e-mail has an account anywhere: an invitation and its
    link (shown once)."""
    data = view.valid(MemberCreateSerializer)
    made = invitation_create(org=view.org, actor=view.actor, **data)
    return Response(
        {
            "invitation": InvitationSerializer(made.invitation).data,
            "invitation_url": request.build_absolute_uri(made.path),
        },
        status=status.HTTP_201_CREATED,
        headers=SECRET_SHOWN_ONCE,
    )


class MemberDetailView(OrgAPIView):
    capability = "admin.members"

    @extend_schema(responses=MemberSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(MemberSerializer(self.member_or_404(pk)).data)

    @extend_schema(request=MemberUpdateSerializer, responses=MemberSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        member = self.member_or_404(pk)
        data = self.valid(MemberUpdateSerializer)
        membership_change_role(membership=member, role=data["role"], actor=self.actor)
        return Response(MemberSerializer(self.member_or_404(pk)).data)


class MemberStatusView(OrgAPIView):
    capability = "admin.members"
    active: bool = False

    @extend_schema(request=None, responses=MemberSerializer)
    def post(self, request: Request, pk: int) -> Response:
        member = self.member_or_404(pk)
        verb = membership_reactivate if self.active else membership_deactivate
        verb(membership=member, actor=self.actor)
        return Response(MemberSerializer(self.member_or_404(pk)).data)


class MemberRolesView(OrgAPIView):
    capability = "admin.roles"

    @extend_schema(request=IdSerializer, responses=MemberSerializer)
    def post(self, request: Request, pk: int) -> Response:
        member = self.member_or_404(pk)
        role = selectors.custom_role_get(org=self.org, pk=self.valid(IdSerializer)["id"])
        if role is None:
            raise NotFound("No custom role with that id in this organization.")
        role_assign(membership=member, role=role, actor=self.actor)
        return Response(MemberSerializer(self.member_or_404(pk)).data)


class MemberRoleDetailView(OrgAPIView):
    capability = "admin.roles"

    @extend_schema(responses=MemberSerializer)
    def delete(self, request: Request, pk: int, role_id: int) -> Response:
        member = self.member_or_404(pk)
        role = selectors.custom_role_get(org=self.org, pk=role_id)
        if role is None:
            raise NotFound("No custom role with that id in this organization.")
        role_unassign(membership=member, role=role, actor=self.actor)
        return Response(MemberSerializer(self.member_or_404(pk)).data)


class RoleListView(OrgAPIView):
    capabilities = {"GET": "admin.roles", "POST": "admin.roles"}

    @extend_schema(responses=page_of(CustomRoleSerializer, "CustomRolePage"))
    def get(self, request: Request) -> Response:
        return self.paginate(
            selectors.custom_role_list(org=self.org).order_by("id"), CustomRoleSerializer
        )

    @extend_schema(request=CustomRoleSerializer, responses={201: CustomRoleSerializer})
    def post(self, request: Request) -> Response:
        data = self.valid(CustomRoleSerializer)
        role = custom_role_create(org=self.org, actor=self.actor, **data)
        return Response(CustomRoleSerializer(role).data, status=status.HTTP_201_CREATED)


class RoleDetailView(OrgAPIView):
    capability = "admin.roles"

    def role_or_404(self, pk: int) -> Any:
        role = selectors.custom_role_get(org=self.org, pk=pk)
        if role is None:
            raise NotFound("No custom role with that id in this organization.")
        return role

    @extend_schema(responses=CustomRoleSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(CustomRoleSerializer(self.role_or_404(pk)).data)

    @extend_schema(request=CustomRoleSerializer, responses=CustomRoleSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        role = self.role_or_404(pk)
        data = self.valid(CustomRoleSerializer, partial=True)
        role = custom_role_update(role=role, actor=self.actor, **data)
        return Response(CustomRoleSerializer(role).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        custom_role_delete(role=self.role_or_404(pk), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamListView(OrgAPIView):
    capability = "admin.teams"

    @extend_schema(responses=page_of(TeamSerializer, "TeamPage"))
    def get(self, request: Request) -> Response:
        return self.paginate(selectors.team_list(org=self.org).order_by("id"), TeamSerializer)

    @extend_schema(request=TeamSerializer, responses={201: TeamSerializer})
    def post(self, request: Request) -> Response:
        data = self.valid(TeamSerializer)
        team = team_create(org=self.org, name=data["name"], actor=self.actor)
        return Response(TeamSerializer(team).data, status=status.HTTP_201_CREATED)


class TeamAPIView(OrgAPIView):
    """What the team endpoints share: the capability and the team of the URL. No handlers:
    each endpoint answers only its own methods (405 for the others)."""

    capability = "admin.teams"

    def team_or_404(self, pk: int) -> Any:
        team = selectors.team_get(org=self.org, pk=pk)
        if team is None:
            raise NotFound("No team with that id in this organization.")
        return team


class TeamDetailView(TeamAPIView):
    @extend_schema(responses=TeamSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(TeamSerializer(self.team_or_404(pk)).data)

    @extend_schema(request=TeamSerializer, responses=TeamSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        team = self.team_or_404(pk)
        data = self.valid(TeamSerializer)
        return Response(
            TeamSerializer(team_rename(team=team, name=data["name"], actor=self.actor)).data
        )

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        team_delete(team=self.team_or_404(pk), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamMembersView(TeamAPIView):
    @extend_schema(request=IdSerializer, responses=MemberSerializer)
    def post(self, request: Request, pk: int) -> Response:
        team = self.team_or_404(pk)
        member = self.member_or_404(self.valid(IdSerializer)["id"])
        team_member_add(team=team, membership=member, actor=self.actor)
        return Response(MemberSerializer(self.member_or_404(member.pk)).data)


class TeamMemberDetailView(TeamAPIView):
    @extend_schema(request=None, responses=MemberSerializer)
    def delete(self, request: Request, pk: int, member_id: int) -> Response:
        team = self.team_or_404(pk)
        member = self.member_or_404(member_id)
        team_member_remove(team=team, membership=member, actor=self.actor)
        return Response(MemberSerializer(self.member_or_404(member.pk)).data)


class CatalogView(OrgAPIView):
    @extend_schema(responses=CapabilitySerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(CapabilitySerializer(rbac.CATALOG, many=True).data)
