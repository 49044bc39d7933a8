"""REST API: a member's own gateway tokens (`/api/v1/mcp-tokens/`): list, mint (the secret in
the response once), revoke (any API key, its own member's tokens only); with admin.tracing, the
gateway's usage analytics (`/api/v1/usage/`: the figures of the Usage page's charts), its tool
rules (`/api/v1/mcp/tool-rules/`) and the policy preview (`/api/v1/mcp/policy-preview/`)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from core.exceptions import NotFound
from gateway import preview, usage
from gateway.models import McpServer, McpToken, ToolRule
from gateway.services import rule_create, rule_delete
from gateway.tokens import mcp_token_create, mcp_token_revoke
from orgs.api.renderers import CsvRenderer
from orgs.api.views import SECRET_SHOWN_ONCE, OrgAPIView, page_of


class McpTokenSerializer(serializers.ModelSerializer):
    class Meta:
        model = McpToken
        fields = ["id", "label", "prefix", "audience", "expires_at", "created_at", "revoked_at"]
        read_only_fields = ["id", "prefix", "audience", "expires_at", "created_at", "revoked_at"]


class McpTokenInput(serializers.Serializer):
    label = serializers.CharField(max_length=100, required=False, allow_blank=True)
    days = serializers.IntegerField(min_value=1, max_value=365, required=False)


class McpTokenListView(OrgAPIView):
    @extend_schema(
        operation_id="v1_mcp_tokens_list", responses=page_of(McpTokenSerializer, "McpTokenPage")
    )
    def get(self, request: Request) -> Response:
        mine = McpToken.objects.filter(membership=request.auth.membership).order_by("id")
        return self.paginate(mine, McpTokenSerializer)

    @extend_schema(
        request=McpTokenInput,
        responses={
            201: inline_serializer(
                "McpTokenMinted",
                {"token": McpTokenSerializer(), "mcp_token": serializers.CharField()},
            )
        },
    )
    def post(self, request: Request) -> Response:
        data = self.valid(McpTokenInput)
        token, secret = mcp_token_create(
            membership=request.auth.membership,
            label=data.get("label", ""),
            days=data.get("days", 30),
            actor=self.actor,
        )
        return Response(
            {"token": McpTokenSerializer(token).data, "mcp_token": secret},
            status=status.HTTP_201_CREATED,
            headers=SECRET_SHOWN_ONCE,
        )


class McpTokenDetailView(OrgAPIView):
    @extend_schema(request=None, responses=McpTokenSerializer)
    def delete(self, request: Request, pk: int) -> Response:
        token = McpToken.objects.filter(membership=request.auth.membership, pk=pk).first()
        if token is None:
            raise NotFound("No gateway token of yours with that id.")
        return Response(McpTokenSerializer(mcp_token_revoke(token=token, actor=self.actor)).data)


class UsageRowSerializer(serializers.Serializer):
    day = serializers.DateField()
    key = serializers.CharField()
    label = serializers.CharField()
    runs = serializers.IntegerField()
    calls = serializers.IntegerField()
    errors = serializers.IntegerField()
    denied = serializers.IntegerField()
    active_members = serializers.IntegerField(source="members")


class UsageView(OrgAPIView):
    """Runs, tool calls, errors, refusals and active members by day (UTC), per team, member,
    agent or integration (or the whole organization), from the daily rows the Usage page
    charts. Format csv gives the page's CSV."""

    capability = "admin.tracing"
    renderer_classes = [JSONRenderer, CsvRenderer]

    @extend_schema(
        operation_id="v1_usage",
        parameters=[
            OpenApiParameter(
                "dimension", str, enum=list(usage.DIMENSIONS), description="team (default)"
            ),
            OpenApiParameter("since", str, description="YYYY-MM-DD; default 29 days before until"),
            OpenApiParameter("until", str, description="YYYY-MM-DD; default today (UTC)"),
            OpenApiParameter("format", str, enum=["json", "csv"]),
        ],
        responses={
            (200, "application/json"): inline_serializer(
                "Usage",
                {
                    "dimension": serializers.CharField(),
                    "since": serializers.DateField(),
                    "until": serializers.DateField(),
                    "rows": UsageRowSerializer(many=True),
                },
            ),
            (200, "text/csv"): str,
        },
    )
    def get(self, request: Request) -> Any:
        dimension, since, until = usage.period(request.query_params)
        found = usage.rows(self.org, dimension, since, until)
        if request.accepted_renderer.format == "csv":
            name = f"usage-{self.org.slug}-{dimension}-{since}-{until}.csv"
            return Response(
                usage.as_csv(found, dimension),
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        return Response(
            {
                "dimension": dimension,
                "since": since.isoformat(),
                "until": until.isoformat(),
                "rows": UsageRowSerializer(found, many=True).data,
            }
        )


class ToolRuleSerializer(serializers.ModelSerializer):
    server = serializers.IntegerField(source="server_id", read_only=True)
    server_name = serializers.CharField(source="server.name", read_only=True)
    role = serializers.IntegerField(source="role_id", read_only=True, allow_null=True)
    effect = serializers.SerializerMethodField()

    class Meta:
        model = ToolRule
        fields = ["id", "server", "server_name", "tool", "role", "effect", "note", "created_at"]

    def get_effect(self, rule: ToolRule) -> str:
        return "reserved" if rule.role_id else "blocked"


class ToolRuleInput(serializers.Serializer):
    server = serializers.IntegerField()
    tool = serializers.CharField(max_length=200)
    role = serializers.IntegerField(required=False, allow_null=True)
    note = serializers.CharField(max_length=300, required=False, allow_blank=True)


class ToolRuleListView(OrgAPIView):
    """The gateway's tool rules: a rule without a role blocks the tool ("*": every tool of the
    server) for everyone; with a custom role it reserves it to that role's members."""

    capability = "admin.tracing"

    @extend_schema(
        operation_id="v1_mcp_tool_rules_list",
        responses=page_of(ToolRuleSerializer, "ToolRulePage"),
    )
    def get(self, request: Request) -> Response:
        rules = ToolRule.objects.filter(org=self.org).select_related("server").order_by("id")
        return self.paginate(rules, ToolRuleSerializer)

    @extend_schema(request=ToolRuleInput, responses={201: ToolRuleSerializer})
    def post(self, request: Request) -> Response:
        data = self.valid(ToolRuleInput)
        server = McpServer.objects.filter(org=self.org, pk=data["server"]).first()
        if server is None:
            raise NotFound("No MCP server of this organization with that id.")
        rule = rule_create(
            server=server,
            tool=data["tool"],
            role=data.get("role"),
            note=data.get("note", ""),
            actor=self.actor,
        )
        return Response(ToolRuleSerializer(rule).data, status=status.HTTP_201_CREATED)


class ToolRuleDetailView(OrgAPIView):
    capability = "admin.tracing"

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        rule = ToolRule.objects.filter(org=self.org, pk=pk).first()
        if rule is None:
            raise NotFound("No tool rule of this organization with that id.")
        rule_delete(rule=rule, actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PolicyPreviewView(OrgAPIView):
    """Replays the recorded tool calls of the last `days` days (1-90, default 30) against a
    proposed change and lists, per member and tool, what would be newly denied or allowed.
    `change.kind`: role_permissions (role, permissions: the role's whole list), role_assign or
    role_unassign (role, member), rule_add (server, tool, role or none), rule_remove (rule).
    Nothing changes."""

    capability = "admin.tracing"

    @extend_schema(
        operation_id="v1_mcp_policy_preview",
        request=inline_serializer(
            "PolicyPreviewInput",
            {"change": serializers.DictField(), "days": serializers.IntegerField(required=False)},
        ),
        responses=inline_serializer(
            "PolicyPreview",
            {
                "change": serializers.CharField(),
                "days": serializers.IntegerField(),
                "calls_replayed": serializers.IntegerField(),
                "distinct_calls": serializers.IntegerField(),
                "newly_denied": serializers.ListField(child=serializers.DictField()),
                "newly_allowed": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    def post(self, request: Request) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        change = preview.change_from(self.org, body.get("change") or {})
        return Response(preview.replay(self.org, change, body.get("days", 30)))
