"""REST API (/api/v1/scim/mapping/...) for IdP group → role and team mapping. Authenticated by
API key like the rest of /api/v1; needs the `admin.scim` capability. Every write calls the
same services as the dashboard."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.exceptions import NotFound, ValidationFailed
from mapping import selectors
from mapping.choices import Direction
from mapping.models import MappingSyncJob
from mapping.services.sync import mapping_sync_start
from mapping.services.table import (
    MappingRow,
    mapping_mode_set,
    mapping_rows_resolve,
    mapping_table_replace,
)
from orgs.api.views import OrgAPIView


class RowSerializer(serializers.Serializer):
    group_id = serializers.CharField(help_text="The IdP group's SCIM id (GET /scim/v2/Groups)")
    role_id = serializers.IntegerField(required=False, help_text="roles direction")
    team_id = serializers.IntegerField(required=False, help_text="teams direction")


class TableSerializer(serializers.Serializer):
    rows = RowSerializer(many=True, help_text="The whole table: it replaces the stored one")


class ModeSerializer(serializers.Serializer):
    use_mapping_table = serializers.BooleanField()
    confirm = serializers.BooleanField(
        default=False, help_text="Required (true) to switch to name-based mode"
    )


class PreviewSerializer(serializers.Serializer):
    use_mapping_table = serializers.BooleanField(required=False)
    rows = RowSerializer(many=True, required=False)


def job_data(job: MappingSyncJob | None) -> dict[str, Any] | None:
    if job is None:
        return None
    return {
        "id": job.pk,
        "trigger": job.trigger,
        "status": job.status,
        "requested_by": job.requested_by,
        "total": job.total,
        "processed": job.processed,
        "percent": job.percent,
        "members_changed": job.members_changed,
        "auto_created": job.auto_created,
        "skipped": job.skipped,
        "error": job.error,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


class MappingView(OrgAPIView):
    capability = "admin.scim"

    def direction(self, name: str) -> str:
        if name not in Direction.values:
            raise NotFound(f"No direction {name!r}: use roles or teams.")
        return name

    def rows(self, direction: str, rows: list[dict[str, Any]]) -> list[MappingRow]:
        """The rows as the services take them; a row must name its target for the direction."""
        field = "role_id" if direction == Direction.ROLES else "team_id"
        wrong = "team_id" if direction == Direction.ROLES else "role_id"
        parsed = []
        for i, row in enumerate(rows, start=1):
            if row.get(field) is None or row.get(wrong) is not None:
                raise ValidationFailed(
                    f"Row {i}: a {direction} row names its target as {field!r}.", field="rows"
                )
            parsed.append(MappingRow(group=row["group_id"], target=row[field]))
        return parsed


class MappingSettingsView(MappingView):
    @extend_schema(
        responses=inline_serializer("MappingSettings", {"roles": serializers.DictField()})
    )
    def get(self, request: Request) -> Response:
        settings = selectors.mapping_settings(org=self.org)
        body: dict[str, Any] = {}
        for d in Direction.values:
            target = "role" if d == Direction.ROLES else "team"
            body[d] = {
                "use_mapping_table": settings.use_table(d),
                "rows": [
                    {
                        "group_id": str(r.group.uid),
                        "group": r.group.display_name,
                        f"{target}_id": r.target_id,
                        target: str(getattr(r, target)),
                    }
                    for r in selectors.mapping_table(org=self.org, direction=d)
                ],
            }
        body["last_sync"] = job_data(selectors.mapping_last_job(org=self.org))
        return Response(body)


class MappingTableView(MappingView):
    @extend_schema(request=TableSerializer, responses={200: serializers.DictField()})
    def put(self, request: Request, direction: str) -> Response:
        direction = self.direction(direction)
        rows = self.rows(direction, self.valid(TableSerializer)["rows"])
        job = mapping_table_replace(org=self.org, direction=direction, rows=rows, actor=self.actor)
        return Response({"changed": job is not None, "sync": job_data(job)})


class MappingModeView(MappingView):
    @extend_schema(request=ModeSerializer, responses={200: serializers.DictField()})
    def put(self, request: Request, direction: str) -> Response:
        direction = self.direction(direction)
        data = self.valid(ModeSerializer)
        job = mapping_mode_set(
            org=self.org,
            direction=direction,
            use_table=data["use_mapping_table"],
            confirm=data["confirm"],
            actor=self.actor,
        )
        return Response({"changed": job is not None, "sync": job_data(job)})


class MappingPreviewView(MappingView):
    @extend_schema(request=PreviewSerializer, responses={200: serializers.DictField()})
    def post(self, request: Request, direction: str) -> Response:
        direction = self.direction(direction)
        data = self.valid(PreviewSerializer)
        rows = None
        if "rows" in data:
            rows = mapping_rows_resolve(
                org=self.org, direction=direction, rows=self.rows(direction, data["rows"])
            )
        plan = selectors.mapping_preview(
            org=self.org, direction=direction, use_table=data.get("use_mapping_table"), rows=rows
        )
        return Response(plan.as_dict())


class MappingSyncView(MappingView):
    @extend_schema(request=None, responses={202: serializers.DictField()})
    def post(self, request: Request) -> Response:
        job = mapping_sync_start(org=self.org, actor=self.actor)
        return Response(job_data(job), status=status.HTTP_202_ACCEPTED)


class MappingSyncDetailView(MappingView):
    @extend_schema(responses={200: serializers.DictField()})
    def get(self, request: Request, pk: int) -> Response:
        job = selectors.mapping_job_get(org=self.org, pk=pk)
        if job is None:
            raise NotFound("No sync job with that id in this organization.")
        return Response(job_data(job))


class MappingDriftView(MappingView):
    @extend_schema(responses={200: serializers.DictField()})
    def get(self, request: Request) -> Response:
        return Response(selectors.mapping_drift(org=self.org))
