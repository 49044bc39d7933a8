"""REST API for audit streams (/api/v1/audit-streams/): the same services as the pages. The
webhook's signing secret is in the creating (or rotating) response only, with no-store; the HEC
token and the CA are write-only."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from audit.choices import OUTCOMES
from core.exceptions import NotFound, ValidationFailed
from orgs.api.views import SECRET_SHOWN_ONCE, OrgAPIView, page_of
from siem import services
from siem.choices import Kind, Payload, Start
from siem.models import AuditStream
from siem.selectors import lag, stream_get, streams_of

CAPABILITY = "admin.audit_log"


class AuditStreamSerializer(serializers.ModelSerializer):
    """A stream as read: its settings, its state, backlog and lag, and its last error."""

    has_ca = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField()
    pending_events = serializers.SerializerMethodField()
    lag_seconds = serializers.SerializerMethodField()
    cursor = serializers.SerializerMethodField()

    class Meta:
        model = AuditStream
        fields = [
            "id",
            "name",
            "kind",
            "endpoint",
            "payload",
            "hec_index",
            "hec_sourcetype",
            "actions",
            "outcome",
            "has_ca",
            "paused",
            "state",
            "pending_events",
            "lag_seconds",
            "delivered",
            "last_delivered_at",
            "cursor",
            "failures",
            "last_error",
            "last_error_at",
            "next_attempt_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_has_ca(self, obj: AuditStream) -> bool:
        return bool(obj.ca_pem)

    def get_state(self, obj: AuditStream) -> str:
        return lag(obj)["state"]

    def get_pending_events(self, obj: AuditStream) -> int:
        return lag(obj)["pending_events"]

    def get_lag_seconds(self, obj: AuditStream) -> float:
        return lag(obj)["lag_seconds"]

    def get_cursor(self, obj: AuditStream) -> dict[str, int]:
        return {"seal": obj.cursor_seq, "offset": obj.cursor_offset}


class AuditStreamInput(serializers.Serializer):
    """What an admin sends; on PATCH every field is optional and a missing one is kept."""

    kind = serializers.ChoiceField(choices=Kind.choices)
    start = serializers.ChoiceField(choices=Start.choices, default=Start.NOW)
    name = serializers.CharField(max_length=100)
    endpoint = serializers.CharField(max_length=500)
    payload = serializers.ChoiceField(choices=Payload.choices, required=False)
    token = serializers.CharField(max_length=500, required=False, write_only=True)
    ca_pem = serializers.CharField(max_length=65_536, required=False, allow_blank=True)
    hec_index = serializers.CharField(max_length=100, required=False, allow_blank=True)
    hec_sourcetype = serializers.CharField(max_length=100, required=False, allow_blank=True)
    actions = serializers.ListField(
        child=serializers.CharField(max_length=64), max_length=100, required=False
    )
    outcome = serializers.ChoiceField(
        choices=[("", "any"), *((o, o) for o in OUTCOMES)], required=False
    )


def spec_of(data: dict[str, Any]) -> services.Spec:
    return services.Spec(**{k: data.get(k) for k in services.Spec.__dataclass_fields__})


STREAM_MADE = inline_serializer(
    "AuditStreamMade",
    {"stream": AuditStreamSerializer(), "signing_secret": serializers.CharField()},
)


class StreamAPIView(OrgAPIView):
    capability = CAPABILITY

    def stream(self, pk: int) -> AuditStream:
        stream = stream_get(org=self.org, pk=pk)
        if stream is None:
            raise NotFound("No audit stream with that id in this organization.")
        return stream

    def shown(self, pk: int) -> Response:
        return Response(AuditStreamSerializer(self.stream(pk)).data)


class AuditStreamListView(StreamAPIView):
    @extend_schema(
        operation_id="v1_audit_streams_list",
        responses=page_of(AuditStreamSerializer, "AuditStreamPage"),
    )
    def get(self, request: Request) -> Response:
        return self.paginate(streams_of(org=self.org), AuditStreamSerializer)

    @extend_schema(request=AuditStreamInput, responses={201: STREAM_MADE})
    def post(self, request: Request) -> Response:
        data = self.valid(AuditStreamInput)
        stream, secret = services.destination_create(
            org=self.org,
            actor=self.actor,
            kind=data["kind"],
            start=data["start"],
            spec=spec_of(data),
        )
        body: dict[str, Any] = {"stream": AuditStreamSerializer(self.stream(stream.pk)).data}
        if secret:
            body["signing_secret"] = secret
        return Response(body, status=status.HTTP_201_CREATED, headers=SECRET_SHOWN_ONCE)


class AuditStreamDetailView(StreamAPIView):
    @extend_schema(responses=AuditStreamSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return self.shown(pk)

    @extend_schema(request=AuditStreamInput, responses=AuditStreamSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        stream = self.stream(pk)
        data = self.valid(AuditStreamInput, partial=True)
        if "kind" in data and data["kind"] != stream.kind:
            raise ValidationFailed(
                "A stream's kind cannot change; make a new stream instead.", field="kind"
            )
        services.destination_update(destination=stream, actor=self.actor, spec=spec_of(data))
        return self.shown(pk)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.destination_delete(destination=self.stream(pk), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AuditStreamPauseView(StreamAPIView):
    paused = True

    @extend_schema(request=None, responses=AuditStreamSerializer)
    def post(self, request: Request, pk: int) -> Response:
        stream = self.stream(pk)
        change = services.destination_pause if self.paused else services.destination_resume
        change(destination=stream, actor=self.actor)
        return self.shown(pk)


class AuditStreamTestView(StreamAPIView):
    @extend_schema(
        request=None,
        responses=inline_serializer(
            "AuditStreamTested",
            {"delivered": serializers.BooleanField(), "detail": serializers.CharField()},
        ),
    )
    def post(self, request: Request, pk: int) -> Response:
        ok, message = services.destination_test(destination=self.stream(pk), actor=self.actor)
        # The request was fine either way; whether the destination took the record is the answer.
        return Response({"delivered": ok, "detail": message})


class AuditStreamRotateView(StreamAPIView):
    @extend_schema(request=None, responses=STREAM_MADE)
    def post(self, request: Request, pk: int) -> Response:
        _, secret = services.destination_rotate_secret(
            destination=self.stream(pk), actor=self.actor
        )
        return Response(
            {"stream": AuditStreamSerializer(self.stream(pk)).data, "signing_secret": secret},
            headers=SECRET_SHOWN_ONCE,
        )
