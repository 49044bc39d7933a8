"""The agent runtime's decision API: `POST /api/v1/authorize`, one question or a batch of up to
100, answered by the decision function (workspace.decisions) in two SQL statements. Only the
organization's service keys may call it."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.exceptions import NotFound, PermissionDenied, ValidationFailed
from core.input import as_id
from orgs import rbac
from orgs.api.auth import ServiceKeyAuthentication
from orgs.api.views import OrgAPIView
from orgs.models import Membership
from workspace.choices import EventKind, RunStatus, RunTrigger
from workspace.decisions import ACTIONS, KINDS, Question, decide_many
from workspace.explainer import explain
from workspace.models import Run, RunEvent
from workspace.selectors import RunFilter
from workspace.services.runs import resource_of, run_close, run_events_append, run_open

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


def _member(org: Any, raw: Any) -> Membership:
    query = Membership.objects.select_related("user").filter(org=org)
    if isinstance(raw, str) and "@" in raw:
        found = query.filter(user__email__lower=raw.strip().lower()).first()
    else:
        pk = as_id(raw) if not isinstance(raw, bool) else None
        found = query.filter(pk=pk).first() if pk else None
    if found is None:
        raise NotFound("No such member in this organization (send a membership id or e-mail).")
    return found


def _run(org: Any, pk: int) -> Run:
    run = Run.objects.filter(org=org, pk=as_id(pk) or 0).first()
    if run is None:
        raise NotFound("No run with that id in this organization.")
    return run


def run_body(run: Run) -> dict[str, Any]:
    return {
        "id": run.pk,
        "agent": run.agent_id,
        "workflow": run.workflow_id,
        "name": run.resource_name,
        "member": run.member_id,
        "trigger": run.trigger,
        "status": run.status,
        "started_at": run.started_at,
        "ended_at": run.ended_at,
        "error": run.error or None,
        "events": run.events_count,
    }


RUN = inline_serializer(
    "Run",
    {
        "id": serializers.IntegerField(),
        "agent": serializers.IntegerField(allow_null=True),
        "workflow": serializers.IntegerField(allow_null=True),
        "name": serializers.CharField(),
        "member": serializers.IntegerField(allow_null=True),
        "trigger": serializers.CharField(),
        "status": serializers.CharField(),
        "started_at": serializers.DateTimeField(),
        "ended_at": serializers.DateTimeField(allow_null=True),
        "error": serializers.CharField(allow_null=True),
        "events": serializers.IntegerField(),
    },
)


class RunOpenSerializer(serializers.Serializer):
    member = serializers.JSONField(help_text="membership id or e-mail")
    agent = serializers.IntegerField(required=False)
    workflow = serializers.IntegerField(required=False)
    trigger = serializers.ChoiceField(choices=RunTrigger.values)
    input = serializers.JSONField(required=False)


RUN_LIST_LIMIT = 200


def _limit(raw: Any, default: int, most: int) -> int:
    if raw in (None, ""):
        return default
    n = as_id(raw)
    if n is None or n < 1:
        raise ValidationFailed(f"limit is a number from 1 to {most}.")
    return min(n, most)


def _after(raw: Any, name: str) -> int | None:
    if raw in (None, ""):
        return None
    n = as_id(raw)
    if n is None:
        raise ValidationFailed(f"{name} is an id (digits), as given by the previous page.")
    return n


class RunListView(RuntimeAPIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=RunStatus.values),
            OpenApiParameter("trigger", str, enum=RunTrigger.values),
            OpenApiParameter("agent", int),
            OpenApiParameter("workflow", int),
            OpenApiParameter("team", int),
            OpenApiParameter("member", str, description="an e-mail, or its beginning"),
            OpenApiParameter("since", str, description="ISO date or date-time (UTC if naive)"),
            OpenApiParameter("until", str, description="ISO date (the whole day) or date-time"),
            OpenApiParameter("before", int, description="the `next` of the previous page"),
            OpenApiParameter("limit", int, description=f"1 to {RUN_LIST_LIMIT} (50)"),
        ],
        responses=inline_serializer(
            "RunPage",
            {
                "results": RUN.__class__(many=True),
                "next": serializers.IntegerField(allow_null=True),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        """The organization's runs, newest first, with the Runs page's filters; keyset paging
        (pass `next` back as `before`)."""
        filters = RunFilter.from_params(request.query_params)
        if filters.problems:
            raise ValidationFailed(" ".join(filters.problems))
        limit = _limit(request.query_params.get("limit"), 50, RUN_LIST_LIMIT)
        qs = filters.apply(Run.objects.filter(org=self.org))
        before = _after(request.query_params.get("before"), "before")
        if before is not None:
            qs = qs.filter(pk__lt=before)
        runs = list(qs.order_by("-id")[: limit + 1])
        more = len(runs) > limit
        runs = runs[:limit]
        return Response(
            {"results": [run_body(r) for r in runs], "next": runs[-1].pk if more else None}
        )

    @extend_schema(request=RunOpenSerializer, responses={201: RUN})
    def post(self, request: Request) -> Response:
        """Open a run: refused (403, with the reasons, audited) unless the member may run the
        agent or execute the workflow now."""
        body = request.data if isinstance(request.data, dict) else {}
        if not isinstance(request.data, dict):
            raise ValidationFailed("The body is an object: {member, agent|workflow, trigger}.")
        member = _member(self.org, body.get("member"))
        kinds = [k for k in ("agent", "workflow") if body.get(k) is not None]
        if len(kinds) != 1:
            raise ValidationFailed("Name exactly one of agent or workflow (its id).")
        pk = as_id(body[kinds[0]]) if not isinstance(body[kinds[0]], bool) else None
        resource = resource_of(self.org, kinds[0], pk) if pk else None
        if resource is None:
            raise NotFound(f"No such {kinds[0]} in this organization.")
        trigger = body.get("trigger")
        if not isinstance(trigger, str):
            raise ValidationFailed(f"trigger must be one of {', '.join(RunTrigger.values)}.")
        run = run_open(
            org=self.org,
            member=member,
            resource=resource,
            trigger=trigger,
            input=body.get("input"),
            actor=self.request.auth,
        )
        return Response(run_body(run), status=status.HTTP_201_CREATED)


class RunDetailView(RuntimeAPIView):
    @extend_schema(responses=RUN)
    def get(self, request: Request, pk: int) -> Response:
        return Response(run_body(_run(self.org, pk)))


EVENTS_PAGE = 1000


def event_body(e: RunEvent) -> dict[str, Any]:
    body: dict[str, Any] = {"seq": e.seq, "at": e.at, "type": e.kind}
    if e.kind == EventKind.LOG:
        body.update(level=e.level, message=e.message)
    else:
        body.update(
            integration=e.integration,
            action=e.action,
            latency_ms=e.latency_ms,
            outcome=e.outcome,
        )
    body["payloads"] = [
        {"direction": p.direction, "size": p.size, "sha256": p.sha256} for p in e.payloads.all()
    ]
    return body


class RunEventsView(RuntimeAPIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("after", int, description="the `next` of the previous page"),
            OpenApiParameter("limit", int, description=f"1 to {EVENTS_PAGE} ({EVENTS_PAGE})"),
        ],
        responses=inline_serializer(
            "RunTimeline",
            {
                "results": serializers.ListField(child=serializers.DictField()),
                "next": serializers.IntegerField(allow_null=True),
            },
        ),
    )
    def get(self, request: Request, pk: int) -> Response:
        """The run's timeline in order: log lines and tool calls, with the size and SHA-256
        of their payloads (bodies are not returned)."""
        run = _run(self.org, pk)
        limit = _limit(request.query_params.get("limit"), EVENTS_PAGE, EVENTS_PAGE)
        after = _after(request.query_params.get("after"), "after")
        qs = run.events.order_by("seq").prefetch_related("payloads")
        if after is not None:
            qs = qs.filter(seq__gt=after)
        events = list(qs[: limit + 1])
        more = len(events) > limit
        events = events[:limit]
        return Response(
            {"results": [event_body(e) for e in events], "next": events[-1].seq if more else None}
        )

    @extend_schema(
        request=inline_serializer(
            "RunEvents", {"events": serializers.ListField(child=serializers.DictField())}
        ),
        responses={202: inline_serializer("Appended", {"appended": serializers.IntegerField()})},
    )
    def post(self, request: Request, pk: int) -> Response:
        """Append up to 1,000 events: {"type": "log", "level", "message", "at"?} or
        {"type": "tool_call", "integration", "action", "latency_ms", "outcome", "input"?,
        "output"?}; payload bodies are stored apart from the metadata."""
        run = _run(self.org, pk)
        events = request.data.get("events") if isinstance(request.data, dict) else None
        appended = run_events_append(run=run, events=events)
        return Response({"appended": appended}, status=status.HTTP_202_ACCEPTED)


class RunCloseSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["succeeded", "failed", "cancelled"])
    error = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    output = serializers.JSONField(required=False)


class RunCloseView(RuntimeAPIView):
    @extend_schema(request=RunCloseSerializer, responses=RUN)
    def post(self, request: Request, pk: int) -> Response:
        run = _run(self.org, pk)
        body = request.data if isinstance(request.data, dict) else {}
        if not isinstance(body.get("status"), str):
            raise ValidationFailed("status must be succeeded, failed or cancelled.")
        error = body.get("error") or ""
        if not isinstance(error, str):
            raise ValidationFailed("error must be a string.")
        run = run_close(
            run=run,
            status=body["status"],
            error=error,
            output=body.get("output"),
            actor=self.request.auth,
        )
        return Response(run_body(run))


class ExplainView(OrgAPIView):
    """The explainer (member API keys): why can (or can't) a member do an action on an agent
    or workflow. Anyone may ask about themselves; asking about others needs `admin.roles`."""

    @extend_schema(
        parameters=[
            OpenApiParameter("member", str, description="membership id or e-mail (default: you)"),
            OpenApiParameter("action", str, required=True, description="e.g. agent.run"),
            OpenApiParameter("resource", str, description='"agent:12" or "workflow:7"'),
            OpenApiParameter("integration", str, description="for integration.use"),
        ],
        responses=inline_serializer("Explanation", {"allowed": serializers.BooleanField()}),
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        me = request.auth.membership
        raw = params.get("member")
        member = me if raw in (None, "") else _member(self.org, raw)
        if member.pk != me.pk and not rbac.may(me, "admin.roles"):
            raise PermissionDenied("Explaining another member needs the admin.roles permission.")
        question = _question(
            {
                "member": member.pk,
                "action": params.get("action"),
                "resource": params.get("resource"),
                "integration": params.get("integration"),
            },
            "the question",
        )
        member = Membership.objects.select_related("user").get(pk=member.pk)
        return Response(
            explain(
                self.org, member, question.action, question.resource, question.integration
            ).as_dict()
        )
