"""The agent runtime's decision API: `POST /api/v1/authorize`, one question or a batch of up to
100, answered by the decision function (workspace.decisions) in two SQL statements. Only the
organization's service keys may call it."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, permissions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.exceptions import ValidationFailed
from core.input import as_id
from orgs.api.auth import ServiceKeyAuthentication
from workspace.decisions import ACTIONS, KINDS, Question, decide_many

MAX_BATCH = 100


class IsServiceKey(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        if request.auth is None:
            raise exceptions.NotAuthenticated(
                "Send the organization's service key as 'Authorization: Bearer gsk_...' (an "
                "admin creates one); member API keys are not accepted here."
            )
        return True


class RuntimeAPIView(APIView):
    """Endpoints of the agent runtime: service keys only."""

    authentication_classes = [ServiceKeyAuthentication]
    permission_classes = [IsServiceKey]

    @property
    def org(self) -> Any:
        return self.request.auth.org


class QuestionSerializer(serializers.Serializer):
    member = serializers.JSONField(help_text="the membership id, or the member's e-mail")
    action = serializers.ChoiceField(choices=sorted(ACTIONS))
    resource = serializers.CharField(
        required=False, allow_null=True, help_text='"agent:12" or "workflow:7"'
    )
    integration = serializers.CharField(required=False, allow_null=True, max_length=32)


class AuthorizeSerializer(serializers.Serializer):
    member = serializers.JSONField(required=False)
    action = serializers.CharField(required=False)
    resource = serializers.CharField(required=False, allow_null=True)
    integration = serializers.CharField(required=False, allow_null=True)
    questions = QuestionSerializer(many=True, required=False, help_text="a batch, up to 100")


def _question(raw: Any, where: str) -> Question:
    if not isinstance(raw, dict):
        raise ValidationFailed(f"{where} must be an object.")
    member = raw.get("member")
    if isinstance(member, bool) or not isinstance(member, int | str) or not str(member).strip():
        raise ValidationFailed(f"{where}.member must be a membership id or an e-mail.")
    if isinstance(member, str) and "@" not in member:
        member_id = as_id(member)
        if member_id is None:
            raise ValidationFailed(f"{where}.member must be a membership id or an e-mail.")
        member = member_id
    action = raw.get("action")
    if action not in ACTIONS:
        raise ValidationFailed(f"{where}.action must be one of {', '.join(sorted(ACTIONS))}.")
    resource = None
    text = raw.get("resource")
    if text not in (None, ""):
        kind, _, ident = str(text).partition(":")
        pk = as_id(ident)
        if kind not in KINDS or pk is None:
            raise ValidationFailed(f'{where}.resource must look like "agent:12" or "workflow:7".')
        resource = (kind, pk)
    integration = raw.get("integration")
    if integration is not None and not isinstance(integration, str):
        raise ValidationFailed(f"{where}.integration must be a string.")
    return Question(member, action, resource=resource, integration=integration or None)


class AuthorizeView(RuntimeAPIView):
    @extend_schema(
        request=AuthorizeSerializer,
        responses=inline_serializer(
            "Decisions",
            {
                "allowed": serializers.BooleanField(required=False),
                "reasons": serializers.ListField(child=serializers.CharField(), required=False),
                "decisions": serializers.ListField(child=serializers.DictField(), required=False),
            },
        ),
    )
    def post(self, request: Request) -> Response:
        """May the member do the action (on the agent or workflow)? `{allowed, reasons}`; with
        `questions` (up to 100), `{decisions: [{allowed, reasons}, ...]}` in order."""
        body = request.data
        if not isinstance(body, dict):
            raise ValidationFailed('The body is a question object, or {"questions": [...]}.')
        if "questions" in body:
            raw = body["questions"]
            if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_BATCH:
                raise ValidationFailed(f"questions must be a list of 1 to {MAX_BATCH} questions.")
            questions = [_question(q, f"questions[{i}]") for i, q in enumerate(raw)]
            return Response({"decisions": [d.as_dict() for d in decide_many(self.org, questions)]})
        answer = decide_many(self.org, [_question(body, "the question")])[0]
        return Response(answer.as_dict())


class AuthorizeSlashView(AuthorizeView):
    """The same endpoint with a trailing slash, like the rest of /api/v1/ (not in the schema)."""

    schema = None
