from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from audit import ledger
from audit.choices import EVENT_FIELDS, catalog
from audit.models import AuditEvent
from audit.selectors import audit_events
from auditlog.services import export_start
from auditlog.views import export_response, filters_from
from core.exceptions import ValidationFailed
from orgs.api.renderers import CsvRenderer, JsonLinesRenderer
from orgs.api.views import OrgAPIView, page_of


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        # The hashed fields (audit.ledger) less the organization, which the key names.
        fields = ["id", *(f for f in ledger.FIELDS if f != "org_id"), "leaf"]
        read_only_fields = fields


class NewestFirst(CursorPagination):
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500
    ordering = "-id"


class AuditEventListView(OrgAPIView):
    capability = "admin.audit_log"

    @extend_schema(
        parameters=[
            OpenApiParameter(n, str, description=d)
            for n, d in [
                (
                    "actor",
                    "the actor's whole label (an e-mail, a key's label), any case; or kind:id",
                ),
                (
                    "action",
                    "an action, or a prefix ending in '.' (scim.); repeat it for any of several",
                ),
                (
                    "target",
                    "'type:id', 'type:' (every one of a type), or the resource's whole label",
                ),
                ("outcome", "allowed, denied or failed"),
                ("window", "1h, 24h, 7d, 30d or 90d"),
                ("since", "ISO date-time, inclusive"),
                ("until", "ISO date-time, exclusive"),
            ]
        ],
        responses=page_of(AuditEventSerializer, "AuditEventPage"),
    )
    def get(self, request: Request) -> Response:
        filters, errors = filters_from(request.query_params)
        if errors:
            raise ValidationFailed(" ".join(errors))
        paginator = NewestFirst()
        page = paginator.paginate_queryset(
            audit_events(org=self.org, filters=filters), request, view=self
        )
        return paginator.get_paginated_response(AuditEventSerializer(page, many=True).data)


class AuditCatalogView(OrgAPIView):
    """Every action the trail can hold, with its description, version, category and outcome,
    and the fields of an event: what a SIEM parser is written against."""

    capability = "admin.audit_log"

    @extend_schema(
        responses=inline_serializer(
            "AuditCatalog",
            {
                "leaf_format": serializers.CharField(),
                "fields": serializers.DictField(child=serializers.CharField()),
                "actions": serializers.ListField(child=serializers.DictField()),
            },
        )
    )
    def get(self, request: Request) -> Response:
        return Response(
            {
                "leaf_format": "audit-leaf-v1",
                "fields": EVENT_FIELDS,
                "actions": catalog(),
            }
        )


class AuditExportView(OrgAPIView):
    """The filtered set, streamed: JSON Lines with the seals that cover it (verify it offline
    with `manage.py audit_verify --file`), or CSV. Audited as `audit.exported`."""

    capability = "admin.audit_log"
    # `?format=csv` and `?format=jsonl` pick the body; without these DRF answered them 404.
    renderer_classes = [JSONRenderer, JsonLinesRenderer, CsvRenderer]

    @extend_schema(
        request=None,
        parameters=[
            OpenApiParameter("format", str, enum=["jsonl", "csv"], description="jsonl (default)"),
            OpenApiParameter("actor", str),
            OpenApiParameter("action", str),
            OpenApiParameter("target", str),
            OpenApiParameter("outcome", str),
            OpenApiParameter("since", str),
            OpenApiParameter("until", str),
        ],
        responses={(200, "application/x-ndjson"): str, (200, "text/csv"): str},
    )
    def post(self, request: Request) -> Any:
        """A POST: the export is audited, and nothing is written on GET. The filters are query
        parameters, as for the list."""
        filters, errors = filters_from(request.query_params)
        if errors:
            raise ValidationFailed(" ".join(errors))
        fmt = request.query_params.get("format", "jsonl")
        lines = export_start(org=self.org, actor=self.actor, filters=filters, fmt=fmt, door="api")
        return export_response(lines, self.org.slug, fmt)
