from __future__ import annotations

from typing import Any

from rest_framework import serializers

from orgs import rbac
from orgs.choices import RbacRole
from orgs.models import ApiKey, CustomRole, Invitation, Membership, ServiceKey, Team


class AssignmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    source = serializers.CharField(
        help_text="manual (hand-made), idp (IdP group mapping) or scim (SCIM roles attribute)"
    )


class MemberSerializer(serializers.ModelSerializer):
    email = serializers.EmailField(source="user.email", read_only=True)
    full_name = serializers.CharField(source="user.full_name", read_only=True)
    status = serializers.CharField(read_only=True)
    custom_roles = serializers.SerializerMethodField()
    teams = serializers.SerializerMethodField()

    class Meta:
        model = Membership
        fields = [
            "id",
            "email",
            "full_name",
            "role",
            "status",
            "source",
            "created_at",
            "deactivated_at",
            "custom_roles",
            "teams",
        ]
        read_only_fields = fields

    def get_custom_roles(self, obj: Membership) -> list[dict[str, Any]]:
        return AssignmentSerializer(
            [
                {"id": a.role_id, "name": a.role.name, "source": a.source}
                for a in obj.role_assignments.all()
            ],
            many=True,
        ).data

    def get_teams(self, obj: Membership) -> list[dict[str, Any]]:
        return AssignmentSerializer(
            [
                {"id": t.team_id, "name": t.team.name, "source": t.source}
                for t in obj.team_memberships.all()
            ],
            many=True,
        ).data


class MemberCreateSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    full_name = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)
    role = serializers.ChoiceField(choices=RbacRole.choices, default=RbacRole.MEMBER)


class MemberUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=RbacRole.choices)


class IdSerializer(serializers.Serializer):
    id = serializers.IntegerField(min_value=1)


class CustomRoleSerializer(serializers.ModelSerializer):
    permissions = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(rbac.CATALOG_CODES)),
        required=False,
        default=list,
    )
    description = serializers.CharField(
        max_length=300, required=False, default="", allow_blank=True
    )

    class Meta:
        model = CustomRole
        fields = ["id", "name", "description", "permissions", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class TeamSerializer(serializers.ModelSerializer):
    class Meta:
        model = Team
        fields = ["id", "name", "created_at"]
        read_only_fields = ["id", "created_at"]


class CapabilitySerializer(serializers.Serializer):
    code = serializers.CharField()
    label = serializers.CharField()
    group = serializers.CharField()


class ApiKeySerializer(serializers.ModelSerializer):
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = ApiKey
        fields = ["id", "prefix", "label", "created_at", "last_used_at", "revoked_at", "active"]
        read_only_fields = ["id", "prefix", "created_at", "last_used_at", "revoked_at", "active"]


class ServiceKeySerializer(serializers.ModelSerializer):
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = ServiceKey
        fields = [
            "id",
            "prefix",
            "label",
            "created_at",
            "created_by",
            "last_used_at",
            "revoked_at",
            "active",
        ]
        read_only_fields = [f for f in fields if f != "label"]


class InvitationSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "email",
            "full_name",
            "role",
            "invited_by",
            "status",
            "created_at",
            "expires_at",
            "accepted_at",
            "revoked_at",
        ]
        read_only_fields = fields
