"""REST API: the organization's Okta OAuth credentials and their services (admin.credentials;
the client secret is write-only), the revocations still owed to Okta, and the runtime's token
endpoint (`POST /api/v1/credentials/token`, service keys only)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from audit.choices import AuditAction
from audit.services import audit_record
from core.exceptions import Conflict, NotFound, PermissionDenied, ValidationFailed
from core.input import as_id
from credentials import rows, services
from credentials.models import CredentialService, OktaCredential, TokenRevocation
from credentials.selectors import (
    connection_lookup,
    credential_get,
    credentials_of,
    pending_revocations,
    service_by_ref,
    service_get,
    services_of,
)
from credentials.tokens import NeedsConsent, fresh_token, may_use
from orgs.api.views import OrgAPIView, page_of
from orgs.models import Membership
from workspace.api import RuntimeAPIView
from workspace.choices import RunStatus
from workspace.models import Run

CAPABILITY = "admin.credentials"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class CredentialSerializer(serializers.ModelSerializer):
    class Meta:
        model = OktaCredential
        fields = [
            "id",
            "name",
            "okta_domain",
            "server_id",
            "client_id",
            "issuer",
            "authorization_endpoint",
            "token_endpoint",
            "revocation_endpoint",
            "scopes_supported",
            "last_tested_at",
            "last_test_ok",
            "last_test_message",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class CredentialInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    okta_domain = serializers.CharField(max_length=255)
    server_id = serializers.CharField(max_length=100)
    client_id = serializers.CharField(max_length=255)
    client_secret = serializers.CharField(
        max_length=1000, write_only=True, help_text="write-only; omit on PATCH to keep it"
    )


class ServiceSerializer(serializers.ModelSerializer):
    credential = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = CredentialService
        fields = ["id", "credential", "name", "integration", "audience", "scopes", "created_at"]
        read_only_fields = fields


class ServiceInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    integration = serializers.CharField(max_length=32)
    audience = serializers.CharField(max_length=2048, required=False, allow_blank=True)
    scopes = serializers.JSONField(required=False, help_text="a list of scope names")


class RevocationSerializer(serializers.ModelSerializer):
    class Meta:
        model = TokenRevocation
        fields = [
            "id",
            "member_label",
            "service_name",
            "token_type_hint",
            "reason",
            "attempts",
            "next_attempt_at",
            "last_error",
            "created_at",
        ]
        read_only_fields = fields


class CredentialAPIView(OrgAPIView):
    capability = CAPABILITY

    def credential(self, pk: int) -> OktaCredential:
        found = credential_get(org=self.org, pk=pk)
        if found is None:
            raise NotFound("No credential with that id in this organization.")
        return found

    def service(self, pk: int) -> CredentialService:
        found = service_get(org=self.org, pk=pk)
        if found is None:
            raise NotFound("No credential service with that id in this organization.")
        return found


def _spec(data: dict[str, Any], fallback: OktaCredential | None = None) -> services.CredentialSpec:
    def value(key: str) -> Any:
        if key in data:
            return data[key]
        return getattr(fallback, key) if fallback is not None else None

    return services.CredentialSpec(
        name=value("name"),
        okta_domain=value("okta_domain"),
        server_id=value("server_id"),
        client_id=value("client_id"),
        client_secret=data.get("client_secret"),
    )


def _service_spec(data: dict[str, Any], fallback: CredentialService | None = None) -> Any:
    def value(key: str, default: Any = None) -> Any:
        if key in data:
            return data[key]
        return getattr(fallback, key) if fallback is not None else default

    return services.ServiceSpec(
        name=value("name"),
        integration=value("integration"),
        audience=value("audience", ""),
        scopes=value("scopes", []),
    )


class CredentialListView(CredentialAPIView):
    @extend_schema(
        operation_id="v1_credentials_list",
        responses=page_of(CredentialSerializer, "CredentialPage"),
    )
    def get(self, request: Request) -> Response:
        return self.paginate(credentials_of(org=self.org), CredentialSerializer)

    @extend_schema(request=CredentialInput, responses={201: CredentialSerializer})
    def post(self, request: Request) -> Response:
        data = self.valid(CredentialInput)
        made = services.credential_create(org=self.org, actor=self.actor, spec=_spec(data))
        return Response(CredentialSerializer(made).data, status=status.HTTP_201_CREATED)


class CredentialDetailView(CredentialAPIView):
    @extend_schema(responses=CredentialSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(CredentialSerializer(self.credential(pk)).data)

    @extend_schema(request=CredentialInput, responses=CredentialSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        current = self.credential(pk)
        data = self.valid(CredentialInput, partial=True)
        changed = services.credential_update(
            credential=current, actor=self.actor, spec=_spec(data, current)
        )
        return Response(CredentialSerializer(changed).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.credential_delete(credential=self.credential(pk), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CredentialTestView(CredentialAPIView):
    @extend_schema(
        request=None,
        responses=inline_serializer(
            "CredentialTested",
            {"ok": serializers.BooleanField(), "detail": serializers.CharField()},
        ),
    )
    def post(self, request: Request, pk: int) -> Response:
        ok, message = services.credential_test(credential=self.credential(pk), actor=self.actor)
        return Response({"ok": ok, "detail": message})


class ServiceListView(CredentialAPIView):
    @extend_schema(
        operation_id="v1_credential_services_list",
        responses=page_of(ServiceSerializer, "CredentialServicePage"),
    )
    def get(self, request: Request, pk: int) -> Response:
        credential = self.credential(pk)
        return self.paginate(services_of(org=self.org, credential=credential), ServiceSerializer)

    @extend_schema(request=ServiceInput, responses={201: ServiceSerializer})
    def post(self, request: Request, pk: int) -> Response:
        credential = self.credential(pk)
        data = self.valid(ServiceInput)
        made = services.service_create(
            credential=credential, actor=self.actor, spec=_service_spec(data)
        )
        return Response(ServiceSerializer(made).data, status=status.HTTP_201_CREATED)


class ServiceDetailView(CredentialAPIView):
    @extend_schema(responses=ServiceSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(ServiceSerializer(self.service(pk)).data)

    @extend_schema(request=ServiceInput, responses=ServiceSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        current = self.service(pk)
        data = self.valid(ServiceInput, partial=True)
        changed = services.service_update(
            service=current, actor=self.actor, spec=_service_spec(data, current)
        )
        return Response(ServiceSerializer(changed).data)

    @extend_schema(request=None, responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.service_delete(service=self.service(pk), actor=self.actor)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RevocationListView(CredentialAPIView):
    @extend_schema(responses=RevocationSerializer(many=True))
    def get(self, request: Request) -> Response:
        return Response(RevocationSerializer(pending_revocations(org=self.org), many=True).data)


# --- The runtime's token endpoint ------------------------------------------------------------


class TokenInput(serializers.Serializer):
    member = serializers.JSONField(help_text="the membership id, or the member's e-mail")
    service = serializers.JSONField(help_text="the service's id or name")
    run = serializers.IntegerField(help_text="the run the token serves (running, the member's)")
    scopes = serializers.JSONField(
        required=False, help_text="narrow the token to these granted scopes"
    )


TOKEN_ISSUED = inline_serializer(
    "CredentialToken",
    {
        "access_token": serializers.CharField(),
        "token_type": serializers.CharField(),
        "expires_at": serializers.DateTimeField(allow_null=True),
        "scopes": serializers.ListField(child=serializers.CharField()),
        "service": serializers.CharField(),
    },
)


class TokenView(RuntimeAPIView):
    """A fresh access token for (member, service), for a run of theirs in progress."""

    @extend_schema(request=TokenInput, responses={200: TOKEN_ISSUED})
    def post(self, request: Request) -> Response:
        body = request.data
        if not isinstance(body, dict):
            raise ValidationFailed("The body must be a JSON object {member, service, run}.")
        connection, run = self._read(body)
        if connection is not None:
            membership, service = connection.membership, connection.service
        else:  # the separate lookups say which of the member and the service is missing
            membership = self._member(body.get("member"))
            service = service_by_ref(org=self.org, ref=body.get("service"))
            if service is None:
                raise NotFound("No credential service with that id or name in this organization.")
        if run is None:
            raise NotFound("run must be the id of a run of this organization.")
        scopes = services.clean_scopes(body.get("scopes")) if body.get("scopes") else None
        refusal = self._refusal(membership, service, run)
        if refusal:
            self._audit(AuditAction.CREDENTIAL_TOKEN_REFUSED, membership, service, run, refusal)
            raise PermissionDenied(refusal)
        if connection is None:
            reason = (
                f"{membership.user.email} has not authenticated {service.name}: they connect it "
                "on their credentials page."
            )
            self._audit(AuditAction.CREDENTIAL_TOKEN_REFUSED, membership, service, run, reason)
            raise Conflict(reason)
        try:
            fresh = fresh_token(connection, scopes=scopes)
        except NeedsConsent as exc:
            self._audit(AuditAction.CREDENTIAL_TOKEN_REFUSED, membership, service, run, str(exc))
            raise
        self._audit(
            AuditAction.CREDENTIAL_TOKEN_ISSUED,
            membership,
            service,
            run,
            "",
            scopes=scopes if scopes else fresh.scopes,
            refreshed=fresh.refreshed,
        )
        return Response(
            {
                "access_token": fresh.access_token,
                "token_type": "Bearer",
                "expires_at": fresh.expires_at.isoformat() if fresh.expires_at else None,
                "scopes": scopes or fresh.scopes,
                "service": service.name,
            },
            headers=NO_STORE,
        )

    def _read(self, body: dict[str, Any]) -> tuple[Any, Run | None]:
        """The connection (with its member and service) and the run: one written-out statement
        on the way every runtime call takes (ids, or the service's name), the ORM otherwise."""
        member, service, run_id = body.get("member"), body.get("service"), as_id(body.get("run"))
        member_id = None if isinstance(member, str) and "@" in member else as_id(member)
        ref: int | str | None = None
        if isinstance(service, str) and service.strip():
            text = service.strip()
            ref = int(text) if text.isdigit() else text
        elif isinstance(service, int) and not isinstance(service, bool):
            ref = as_id(service)
        if member_id and run_id and ref is not None:
            found = rows.connection_and_run(self.org, member_id, ref, run_id)
            if found is not None:
                return found
        connection = connection_lookup(org=self.org, member=member, service=service)
        runs = Run.objects.filter(org=self.org, pk=run_id).only(
            "id", "org_id", "member_id", "status", "resource_name"
        )
        return connection, (next(iter(runs[:1]), None) if run_id else None)

    def _member(self, raw: Any) -> Membership:
        qs = Membership.objects.filter(org=self.org).select_related("user", "org")
        if isinstance(raw, str) and "@" in raw:
            found = qs.filter(user__email__iexact=raw.strip()).first()
        else:
            member_id = as_id(raw)
            found = qs.filter(pk=member_id).first() if member_id else None
        if found is None:
            raise NotFound("member must be a membership id or e-mail of this organization.")
        return found

    @staticmethod
    def _refusal(membership: Membership, service: CredentialService, run: Run) -> str:
        if not membership.is_active:
            return f"{membership.user.email} is deactivated."
        if run.member_id != membership.pk:
            return f"Run {run.pk} is not {membership.user.email}'s."
        if run.status != RunStatus.RUNNING:
            return f"Run {run.pk} is {run.status}; tokens go to runs in progress."
        allowed, why = may_use(membership, service)
        if not allowed:
            return f"{membership.user.email} may not use {service.integration}: {why}."
        return ""

    def _audit(
        self,
        action: AuditAction,
        membership: Membership,
        service: CredentialService,
        run: Run,
        reason: str,
        **extra: Any,
    ) -> None:
        from django.db import transaction

        with transaction.atomic():
            audit_record(
                action=action,
                org=self.org,
                actor=self.request.auth,
                target=run,
                data={
                    "member": membership.user.email,
                    "service": service.name,
                    "integration": service.integration,
                    "run": run.pk,
                    **({"reason": reason} if reason else {}),
                    **extra,
                },
            )
