"""REST API: a member's own gateway tokens (`/api/v1/mcp-tokens/`): list, mint (the secret in
the response once), revoke (any API key, its own member's tokens only); the gateway's usage
analytics (`/api/v1/usage/`, admin.tracing): the figures of the Usage page's charts."""

from __future__ import annotations

import json
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from core.exceptions import NotFound
from gateway import usage
from gateway.models import McpToken
from gateway.tokens import mcp_token_create, mcp_token_revoke
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


class CsvRenderer(BaseRenderer):
    """`?format=csv`: the view's text as it is."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None
    ) -> Any:
        if isinstance(data, str):
            return data.encode()
        return json.dumps(data).encode()  # an error's body, said as JSON


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
        responses=inline_serializer(
            "Usage",
            {
                "dimension": serializers.CharField(),
                "since": serializers.DateField(),
                "until": serializers.DateField(),
                "rows": UsageRowSerializer(many=True),
            },
        ),
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
