"""The audit streams pages: the list with each stream's state, backlog, lag and last error, a
form to add one, and each stream's page (edit, send a test record, pause or resume, rotate the
webhook's secret, delete). One URL per action; the webhook secret is shown once, on the answer
to the POST that made it."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

from audit.choices import OUTCOMES, AuditAction
from core.exceptions import ServiceError
from orgs.access import OrgActionView, OrgView, found
from siem import services
from siem.choices import Kind, Payload, Start
from siem.models import AuditStream
from siem.selectors import lag, stream_get, streams_of
from siem.transports import FORMAT

CAPABILITY = "admin.audit_log"


def spec_from(post: Any, *, creating: bool) -> services.Spec:
    """The form's fields; on an edit, a blank token keeps the stored one."""
    return services.Spec(
        name=post.get("name", ""),
        endpoint=post.get("endpoint", ""),
        payload=post.get("payload", Payload.JSON),
        token=post.get("token", "") if creating or post.get("token") else None,
        ca_pem=post.get("ca_pem", ""),
        hec_index=post.get("hec_index", ""),
        hec_sourcetype=post.get("hec_sourcetype", ""),
        actions=[a for a in post.getlist("actions") if a],
        outcome=post.get("outcome", ""),
    )


def posted(request: HttpRequest) -> dict[str, Any]:
    """The refused form's values, to show again (never the token)."""
    values: dict[str, Any] = request.POST.dict()
    values.pop("token", None)
    values["actions"] = request.POST.getlist("actions")
    return values


def _choices() -> dict[str, Any]:
    return {
        "kinds": Kind.choices,
        "payloads": Payload.choices,
        "starts": Start.choices,
        "outcomes": OUTCOMES,
        "actions": AuditAction.choices,
        "prefixes": sorted({a.split(".")[0] + "." for a in AuditAction.values}),
        "format": FORMAT,
    }


@method_decorator(never_cache, name="dispatch")
class AuditStreamsView(OrgView):
    capability = CAPABILITY

    def get(
        self,
        request: HttpRequest,
        secret: str = "",
        made: AuditStream | None = None,
        status: int = 200,
    ) -> HttpResponse:
        streams = [(s, lag(s)) for s in streams_of(org=self.org)]
        return render(
            request,
            "siem/streams.html",
            {
                "streams": streams,
                "secret": secret,
                "made": made,
                "form": posted(request) if status != 200 else {},
                **_choices(),
            },
            status=status,
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            stream, secret = services.destination_create(
                org=self.org,
                actor=request.user,
                kind=request.POST.get("kind", ""),
                start=request.POST.get("start", Start.NOW),
                spec=spec_from(request.POST, creating=True),
            )
        except ServiceError as exc:
            self.fail(exc)
            return self.get(request, status=400)
        if secret:
            return self.get(request, secret=secret, made=stream)
        messages.success(request, f"{stream.name} is streaming: send a test record to check it.")
        return redirect("governance:audit_stream", slug=self.org.slug, pk=stream.pk)


@method_decorator(never_cache, name="dispatch")
class AuditStreamView(OrgView):
    capability = CAPABILITY

    def get(
        self, request: HttpRequest, pk: int, secret: str = "", status: int = 200
    ) -> HttpResponse:
        stream = found(stream_get(org=self.org, pk=pk), "audit stream")
        return render(
            request,
            "siem/stream.html",
            {
                "stream": stream,
                "status": lag(stream),
                "secret": secret,
                "form": posted(request) if status != 200 else None,
                **_choices(),
            },
            status=status,
        )

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        stream = found(stream_get(org=self.org, pk=pk), "audit stream")
        try:
            services.destination_update(
                destination=stream, actor=request.user, spec=spec_from(request.POST, creating=False)
            )
        except ServiceError as exc:
            self.fail(exc)
            return self.get(request, pk, status=400)
        messages.success(request, "Saved.")
        return redirect("governance:audit_stream", slug=self.org.slug, pk=pk)


class StreamActionView(OrgActionView):
    capability = CAPABILITY
    back = "audit_stream"
    back_with_pk = True

    def stream(self, pk: int) -> AuditStream:
        return found(stream_get(org=self.org, pk=pk), "audit stream")


class AuditStreamTestView(StreamActionView):
    def act(self, request: HttpRequest, pk: int) -> str:
        ok, message = services.destination_test(destination=self.stream(pk), actor=request.user)
        if not ok:
            raise ServiceError(f"The test record was not delivered: {message}")
        return message


class AuditStreamPauseView(StreamActionView):
    def act(self, request: HttpRequest, pk: int) -> str:
        services.destination_pause(destination=self.stream(pk), actor=request.user)
        return "Paused: events wait here, from where delivery stopped, until you resume."


class AuditStreamResumeView(StreamActionView):
    def act(self, request: HttpRequest, pk: int) -> str:
        services.destination_resume(destination=self.stream(pk), actor=request.user)
        return "Resumed: delivery continues from where it stopped."


class AuditStreamDeleteView(StreamActionView):
    back = "audit_streams"
    back_with_pk = False

    def act(self, request: HttpRequest, pk: int) -> str:
        stream = self.stream(pk)
        services.destination_delete(destination=stream, actor=request.user)
        return f"{stream.name} is deleted; nothing more is sent to it."


@method_decorator(never_cache, name="dispatch")
class AuditStreamRotateView(OrgView):
    """A new signing secret, shown once on this answer."""

    capability = CAPABILITY
    http_method_names = ["post"]

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        stream = found(stream_get(org=self.org, pk=pk), "audit stream")
        try:
            _, secret = services.destination_rotate_secret(destination=stream, actor=request.user)
        except ServiceError as exc:
            self.fail(exc)
            return redirect("governance:audit_stream", slug=self.org.slug, pk=pk)
        return AuditStreamView.get(self, request, pk, secret=secret)  # type: ignore[arg-type]
