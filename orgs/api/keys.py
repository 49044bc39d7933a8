"""REST API for keys: a member's own API keys, and the organization's service keys for the
agent runtime (admins only). The secret is in the creating response only (no-store)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.exceptions import NotFound
from orgs import selectors
from orgs.api.serializers import ApiKeySerializer, ServiceKeySerializer
from orgs.api.views import SECRET_SHOWN_ONCE, OrgAPIView, page_of
from orgs.services.api_keys import api_key_create, api_key_revoke
from orgs.services.service_keys import service_key_create, service_key_revoke


class ApiKeyListView(OrgAPIView):
    """The calling member's own API keys (as on the dashboard's API keys page)."""

    @extend_schema(responses=page_of(ApiKeySerializer, "ApiKeyPage"))
    def get(self, request: Request) -> Response:
        return self.paginate(
            selectors.api_keys_for(membership=request.auth.membership).order_by("id"),
            ApiKeySerializer,
        )

    @extend_schema(
        request=ApiKeySerializer,
        responses={
            201: inline_serializer(
                "ApiKeyCreated", {"key": ApiKeySerializer(), "api_key": serializers.CharField()}
            )
        },
    )
    def post(self, request: Request) -> Response:
        data = self.valid(ApiKeySerializer)
        key, secret = api_key_create(
            membership=request.auth.membership, label=data.get("label", ""), actor=self.actor
        )
        return Response(
            {"key": ApiKeySerializer(key).data, "api_key": secret},
            status=status.HTTP_201_CREATED,
            headers=SECRET_SHOWN_ONCE,
        )


class ApiKeyDetailView(OrgAPIView):
    @extend_schema(request=None, responses=ApiKeySerializer)
    def delete(self, request: Request, pk: int) -> Response:
        key = selectors.api_key_get(membership=request.auth.membership, pk=pk)
        if key is None:
            raise NotFound("No API key of yours with that id.")
        return Response(ApiKeySerializer(api_key_revoke(api_key=key, actor=self.actor)).data)


class ServiceKeyListView(OrgAPIView):
    """The organization's service keys for the agent runtime (admins only)."""

    admin_only = True

    @extend_schema(responses=page_of(ServiceKeySerializer, "ServiceKeyPage"))
    def get(self, request: Request) -> Response:
        return self.paginate(selectors.service_keys_of(org=self.org), ServiceKeySerializer)

    @extend_schema(
        request=ServiceKeySerializer,
        responses={
            201: inline_serializer(
                "ServiceKeyCreated",
                {"key": ServiceKeySerializer(), "service_key": serializers.CharField()},
            )
        },
    )
    def post(self, request: Request) -> Response:
        data = self.valid(ServiceKeySerializer)
        key, secret = service_key_create(
            org=self.org, label=data.get("label", ""), actor=self.actor
        )
        return Response(
            {"key": ServiceKeySerializer(key).data, "service_key": secret},
            status=status.HTTP_201_CREATED,
            headers=SECRET_SHOWN_ONCE,
        )


class ServiceKeyDetailView(OrgAPIView):
    admin_only = True

    def key_or_404(self, pk: Any) -> Any:
        key = selectors.service_key_get(org=self.org, pk=pk)
        if key is None:
            raise NotFound("No service key with that id in this organization.")
        return key

    @extend_schema(responses=ServiceKeySerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(ServiceKeySerializer(self.key_or_404(pk)).data)

    @extend_schema(request=None, responses=ServiceKeySerializer)
    def delete(self, request: Request, pk: int) -> Response:
        """Revoke the key (kept, listed as revoked, for the audit trail)."""
        key = service_key_revoke(key=self.key_or_404(pk), actor=self.actor)
        return Response(ServiceKeySerializer(key).data)
