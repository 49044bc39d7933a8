"""REST API: a member's own gateway tokens (`/api/v1/mcp-tokens/`): list, mint (the secret in
the response once), revoke. Any API key, its own member's tokens only."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.exceptions import NotFound
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
