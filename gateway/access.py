"""Who is calling the gateway, which tools they may see and call, and the credential the
upstream gets. Synchronous (the ORM); the ASGI app calls these in worker threads.

A caller is a member, identified by either:
- a member-bound gateway token (`Authorization: Bearer gmt_…`, gateway.tokens) minted for this
  gateway's audience, or
- the organization's service key and the run it serves (`Authorization: Bearer gsk_…` and
  `X-Governance-Run: <run id>`): the run must be in progress, and its member is the caller.
Both are checked on every request, so a deactivated member is refused at their next call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from audit.choices import AuditAction
from audit.services import audit_record
from core.exceptions import ServiceError
from core.input import as_id
from gateway.models import McpServer
from orgs.models import Membership
from workspace.choices import RunStatus
from workspace.decisions import Question, decide
from workspace.models import Run

SEPARATOR = "__"  # a tool's name at the gateway: <server key>__<tool>


@dataclass(frozen=True)
class Caller:
    membership: Membership
    run: Run | None
    via: str  # "gateway_token" or "service_key"
    key: Any  # the McpToken or ServiceKey

    @property
    def org(self) -> Any:
        return self.membership.org


class Refused(Exception):
    """The request is not authenticated (401), with the reason."""


def authenticate(authorization: str, run_header: str) -> Caller:
    from orgs.api.auth import ServiceKeyAuthentication

    if not authorization.lower().startswith("bearer "):
        raise Refused("Send a bearer token: a gateway token, or a service key and the run.")
    token = authorization.split(" ", 1)[1].strip()

    class _Request:  # what the DRF authenticators read
        META = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    try:
        if token.startswith("gsk_"):
            found = ServiceKeyAuthentication().authenticate(_Request())
            if not found:
                raise Refused("Unknown or revoked service key.")
            key = found[1]
            run_id = as_id(run_header)
            run = (
                Run.objects.select_related("member__user", "member__org")
                .filter(org=key.org, pk=run_id)
                .first()
                if run_id
                else None
            )
            if run is None or run.member is None:
                raise Refused("A service key needs X-Governance-Run: the id of the run it serves.")
            if run.status != RunStatus.RUNNING:
                raise Refused(f"Run {run.pk} is {run.status}; only a run in progress may call.")
            if not run.member.is_active:
                raise Refused(f"{run.member.user.email} is deactivated.")
            return Caller(run.member, run, "service_key", key)
        if token.startswith("gmt_"):
            from gateway.tokens import resolve

            try:
                minted = resolve(token)
            except ValueError as exc:
                raise Refused(str(exc)) from exc
            if not minted.membership.is_active:
                raise Refused("The token's member is deactivated.")
            return Caller(minted.membership, None, "gateway_token", minted)
    except Refused:
        raise
    except ServiceError as exc:
        raise Refused(exc.message) from exc
    except Exception as exc:  # DRF's AuthenticationFailed from the service key check
        raise Refused(str(getattr(exc, "detail", exc))) from exc
    raise Refused(
        "Send a gateway token (gmt_…, minted for this gateway's audience), or the organization's "
        "service key with X-Governance-Run. API keys (gov_…) are not accepted here: they are "
        "not bound to this gateway."
    )


def server_key(server: McpServer) -> str:
    """The server's prefix in tool names: its name, lower-case, letters, digits and -."""
    cleaned = "".join(c if c.isalnum() else "-" for c in server.name.lower()).strip("-")
    return cleaned or f"server-{server.pk}"


def _allowed(caller: Caller, integration: str) -> tuple[bool, str]:
    decision = decide(
        caller.org, Question(caller.membership.pk, "integration.use", integration=integration)
    )
    return decision.allowed, "; ".join(decision.reasons)


def visible_tools(caller: Caller) -> list[dict[str, Any]]:
    """The tools of the organization's enabled servers whose integration the caller's roles
    allow, named <server key>__<tool>."""
    from credentials.tokens import integrations_allowed

    tools = []
    servers = list(McpServer.objects.filter(org=caller.org, enabled=True).order_by("name"))
    allowed = integrations_allowed(caller.membership, {s.integration for s in servers})
    for server in servers:
        if not allowed[server.integration]:
            continue
        for tool in server.tools:
            tools.append(
                {
                    "name": f"{server_key(server)}{SEPARATOR}{tool['name']}",
                    "description": tool.get("description") or "",
                    "input_schema": tool.get("input_schema") or {"type": "object"},
                }
            )
    return tools


@dataclass(frozen=True)
class Route:
    server: McpServer
    tool: str


def route(caller: Caller, name: str) -> Route | None:
    prefix, _, tool = name.partition(SEPARATOR)
    if not tool:
        return None
    for server in McpServer.objects.filter(org=caller.org, enabled=True):
        if server_key(server) == prefix:
            return Route(server, tool)
    return None


def decide_call(caller: Caller, found: Route | None, name: str) -> str:
    """ "" when the call may go ahead, else the reason (audited as access.denied)."""
    if found is None:
        reason = f"No tool {name!r} at this gateway."
    elif not any(t["name"] == found.tool for t in found.server.tools):
        reason = f"{found.server.name} lists no tool {found.tool!r}."
    else:
        ok, why = _allowed(caller, found.server.integration)
        if ok:
            return ""
        reason = f"{caller.membership.user.email} may not use {found.server.integration}: {why}."
    with transaction.atomic():
        audit_record(
            action=AuditAction.ACCESS_DENIED,
            org=caller.org,
            actor=caller.key,
            target=found.server if found else None,
            target_type="" if found else "mcp_tool",
            target_label=name,
            data={
                "door": "mcp_gateway",
                "tool": name,
                "member": caller.membership.user.email,
                "run": caller.run.pk if caller.run else None,
                "reason": reason,
            },
        )
    return reason


def upstream_headers(caller: Caller, server: McpServer) -> dict[str, str]:
    """The member's own credential for the upstream (their Okta OAuth token for a service of
    the server's integration), never the client's token."""
    from credentials.models import ServiceConnection
    from credentials.tokens import NeedsConsent, fresh_token

    connection = (
        ServiceConnection.objects.filter(
            membership=caller.membership,
            service__integration=server.integration,
            status="connected",
        )
        .select_related("service__credential", "membership__user", "org")
        .order_by("id")
        .first()
    )
    if connection is None:
        return {}
    try:
        return {"Authorization": f"Bearer {fresh_token(connection).access_token}"}
    except (NeedsConsent, ServiceError):
        return {}
