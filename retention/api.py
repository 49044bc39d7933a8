"""REST API for data retention (/api/v1/retention/): the same services and selection as the
page. `preview/` answers what the next run would delete under proposed windows or without a
hold, before anything is saved."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.exceptions import NotFound, ValidationFailed
from orgs.api.views import OrgAPIView
from orgs.selectors import team_get
from retention import services
from retention.choices import HoldScope
from retention.models import LegalHold, RetentionRun
from retention.selection import Policy, active_holds, dry_run, policy_of
from retention.selectors import hold_get, holds_of, overview, runs_of
from workspace.models import Agent, Workflow

CAPABILITY = "admin.retention"


class HoldSerializer(serializers.ModelSerializer):
    class Meta:
        model = LegalHold
        fields = [
            "id",
            "scope",
            "target_id",
            "target_label",
            "starts",
            "ends",
            "reason",
            "case_reference",
            "created_by",
            "created_at",
            "released_at",
            "released_by",
        ]
        read_only_fields = fields


class HoldInput(serializers.Serializer):
    scope = serializers.ChoiceField(choices=HoldScope.choices)
    target_id = serializers.IntegerField(required=False, allow_null=True)
    reason = serializers.CharField(max_length=1000)
    case_reference = serializers.CharField(max_length=200, required=False, allow_blank=True)
    starts = serializers.DateTimeField(required=False, allow_null=True)
    ends = serializers.DateTimeField(required=False, allow_null=True)


class RetentionRunSerializer(serializers.ModelSerializer):
    months_dropped = serializers.ListField(source="months", read_only=True)

    class Meta:
        model = RetentionRun
        fields = [
            "id",
            "now",
            "started_at",
            "finished_at",
            "state",
            "counts",
            "resumed",
            "months_dropped",
        ]
        read_only_fields = fields


class WindowsInput(serializers.Serializer):
    windows = serializers.DictField(child=serializers.IntegerField(allow_null=True, min_value=0))
    confirm_forever = serializers.BooleanField(default=False)


class TeamWindowInput(serializers.Serializer):
    category = serializers.CharField(max_length=32)
    days = serializers.IntegerField(allow_null=True, min_value=0, required=False)
    confirm_forever = serializers.BooleanField(default=False)
    clear = serializers.BooleanField(default=False)


class ZdrInput(serializers.Serializer):
    enabled = serializers.BooleanField()
    agent = serializers.IntegerField(required=False)
    workflow = serializers.IntegerField(required=False)


class PreviewInput(serializers.Serializer):
    windows = serializers.DictField(
        child=serializers.IntegerField(allow_null=True, min_value=0), required=False
    )
    release_hold = serializers.IntegerField(required=False)


def _overview(org: Any) -> dict[str, Any]:
    data = overview(org=org)
    last = data["last_completed"]
    return {
        "categories": [
            {**c, "team_windows": {str(t): d for t, d in c["team_windows"].items()}}
            for c in data["categories"]
        ],
        "zero_data_retention": data["zero_data_retention"],
        "zero_data_retention_agents": [a.pk for a in data["zdr_agents"]],
        "zero_data_retention_workflows": [w.pk for w in data["zdr_workflows"]],
        "holds": HoldSerializer(holds_of(org=org), many=True).data,
        "next_run": data["next_run"],
        "last_completed": RetentionRunSerializer(last).data if last else None,
        "overdue": data["overdue"],
    }


class RetentionView(OrgAPIView):
    capability = CAPABILITY

    @extend_schema(
        responses=inline_serializer("Retention", {"categories": serializers.ListField()})
    )
    def get(self, request: Request) -> Response:
        return Response(_overview(self.org))


class RetentionWindowsView(OrgAPIView):
    capability = CAPABILITY

    @extend_schema(request=WindowsInput, responses=inline_serializer("RetentionSaved", {}))
    def put(self, request: Request) -> Response:
        data = self.valid(WindowsInput)
        services.policy_set(
            org=self.org,
            actor=self.actor,
            windows=data["windows"],
            confirm_forever=data["confirm_forever"],
        )
        return Response(_overview(self.org))


class RetentionTeamView(OrgAPIView):
    capability = CAPABILITY

    @extend_schema(request=TeamWindowInput, responses=inline_serializer("RetentionTeam", {}))
    def put(self, request: Request, pk: int) -> Response:
        team = team_get(org=self.org, pk=pk)
        if team is None:
            raise NotFound("No team with that id in this organization.")
        data = self.valid(TeamWindowInput)
        if "days" not in data and not data["clear"]:
            raise ValidationFailed(
                "Send days (a number, or null for forever) or clear.", field="days"
            )
        services.team_window_set(
            team=team,
            actor=self.actor,
            category=data["category"],
            days=data.get("days"),
            confirm_forever=data["confirm_forever"],
            clear=data["clear"],
        )
        return Response(_overview(self.org))


class RetentionZdrView(OrgAPIView):
    capability = CAPABILITY

    @extend_schema(request=ZdrInput, responses=inline_serializer("RetentionZdr", {}))
    def put(self, request: Request) -> Response:
        data = self.valid(ZdrInput)
        resource = None
        for name, model in (("agent", Agent), ("workflow", Workflow)):
            if name in data:
                resource = model.objects.filter(org=self.org, pk=data[name]).first()
                if resource is None:
                    raise NotFound(f"No {name} with that id in this organization.")
        services.zdr_set(org=self.org, actor=self.actor, enabled=data["enabled"], resource=resource)
        return Response(_overview(self.org))


class HoldListView(OrgAPIView):
    capability = CAPABILITY

    @extend_schema(responses=HoldSerializer(many=True))
    def get(self, request: Request) -> Response:
        released = request.query_params.get("released") == "1"
        return Response(HoldSerializer(holds_of(org=self.org, released=released), many=True).data)

    @extend_schema(request=HoldInput, responses={201: HoldSerializer})
    def post(self, request: Request) -> Response:
        data = self.valid(HoldInput)
        hold = services.hold_place(
            org=self.org,
            actor=self.actor,
            scope=data["scope"],
            target_id=data.get("target_id"),
            reason=data["reason"],
            case_reference=data.get("case_reference", ""),
            starts=data.get("starts"),
            ends=data.get("ends"),
        )
        return Response(HoldSerializer(hold).data, status=status.HTTP_201_CREATED)


class HoldReleaseView(OrgAPIView):
    capability = CAPABILITY

    @extend_schema(request=None, responses=HoldSerializer)
    def post(self, request: Request, pk: int) -> Response:
        hold = hold_get(org=self.org, pk=pk)
        if hold is None:
            raise NotFound("No legal hold with that id in this organization.")
        return Response(HoldSerializer(services.hold_release(hold=hold, actor=self.actor)).data)


class DryRunView(OrgAPIView):
    capability = CAPABILITY

    @extend_schema(responses=inline_serializer("RetentionDryRun", {}))
    def get(self, request: Request) -> Response:
        return Response(dry_run(self.org))


class PreviewView(OrgAPIView):
    """What the next run would delete under proposed windows, or without one hold; saves
    nothing."""

    capability = CAPABILITY

    @extend_schema(request=PreviewInput, responses=inline_serializer("RetentionPreview", {}))
    def post(self, request: Request) -> Response:
        data = self.valid(PreviewInput)
        current = policy_of(self.org)
        windows = data.get("windows") or {}
        unknown = sorted(set(windows) - set(current.windows))
        if unknown:
            raise ValidationFailed(f"Unknown category {unknown[0]!r}.", field="windows")
        policy = Policy(windows={**current.windows, **windows}, teams=current.teams)
        holds = active_holds(self.org)
        if "release_hold" in data:
            if hold_get(org=self.org, pk=data["release_hold"]) is None:
                raise NotFound("No legal hold with that id in this organization.")
            holds = [h for h in holds if h.pk != data["release_hold"]]
        return Response(dry_run(self.org, policy=policy, holds=holds))


class RunListView(OrgAPIView):
    capability = CAPABILITY

    @extend_schema(responses=RetentionRunSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(RetentionRunSerializer(runs_of(org=self.org), many=True).data)
