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

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import SynchronousOnlyOperation
from django.db import DatabaseError, transaction

from audit.choices import AuditAction
from audit.services import audit_record
from core.exceptions import ServiceError
from core.input import as_id
from gateway import policy
from gateway import rows as gateway_rows
from gateway.models import McpServer
from orgs.models import Membership
from workspace.choices import RunStatus
from workspace.models import Run

SEPARATOR = "__"  # a tool's name at the gateway: <server key>__<tool>


@dataclass(frozen=True)
class Caller:
    membership: Membership
    run: Run | None
    via: str  # "gateway_token" or "service_key"
    key: Any  # the McpToken or ServiceKey
    # The member's custom roles, read with the token or the run: role id -> (name, permissions).
    roles: dict[int, tuple[str, list[str]]] = field(default_factory=dict)
    # The organization's enabled servers, read in the same statement (gateway.rows.with_grants).
    servers: list[McpServer] = field(default_factory=list)

    @property
    def org(self) -> Any:
        return self.membership.org

    def grants(self) -> policy.Grants:
        m = self.membership
        return policy.Grants.of(
            member_id=m.pk,
            user_id=m.user_id,
            role=m.role,
            active=m.is_active,
            roles={i: perms for i, (_, perms) in self.roles.items()},
            label=m.user.email,
        )

    def role_names(self) -> dict[int, str]:
        return {i: name for i, (name, _) in self.roles.items()}


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
            run, roles, servers = (
                gateway_rows.with_grants(
                    Run, ("member", "member__user", "member__org"), "member", "id", run_id
                )
                if run_id
                else (None, {}, [])
            )
            if run is None or run.org_id != key.org_id or run.member is None:
                raise Refused("A service key needs X-Governance-Run: the id of the run it serves.")
            if run.status != RunStatus.RUNNING:
                raise Refused(f"Run {run.pk} is {run.status}; only a run in progress may call.")
            if not run.member.is_active:
                raise Refused(f"{run.member.user.email} is deactivated.")
            return Caller(run.member, run, "service_key", key, roles, servers)
        if token.startswith("gmt_"):
            from gateway.tokens import resolve

            try:
                minted = resolve(token)
            except ValueError as exc:
                raise Refused(str(exc)) from exc
            if not minted.membership.is_active:
                raise Refused("The token's member is deactivated.")
            return Caller(
                minted.membership,
                None,
                "gateway_token",
                minted,
                minted.roles_held,
                minted.servers,
            )
    except (Refused, DatabaseError, SynchronousOnlyOperation):
        raise  # the last: on the event loop, a read gateway.aio has to leave to a thread
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


def _rules(caller: Caller, servers: list[McpServer]) -> tuple[list[Any], dict[int, str]]:
    """The organization's tool rules, read once, and only when one of these servers has any."""
    if not any(s.ruled for s in servers):
        return [], {}
    return gateway_rows.rules(caller.membership.org_id)


def _plan(
    caller: Caller,
    server: McpServer,
    tool: str,
    grants: policy.Grants,
    ruled: tuple[list[Any], dict[int, str]],
) -> Any:
    rules, names = ruled
    return policy.plan(
        grants,
        server_id=server.pk,
        server_name=server.name,
        integration=server.integration,
        tool=tool,
        rules=rules,
        role_names={**names, **caller.role_names()},
    )


def visible_tools(caller: Caller) -> list[dict[str, Any]]:
    """The tools of the organization's enabled servers that the planner lets the caller call
    (the integration allowed by their roles, no tool rule against them), named
    <server key>__<tool>."""
    tools = []
    grants = caller.grants()
    servers = caller.servers
    ruled = _rules(caller, servers)  # one read for every tool of every server
    for server in servers:
        for tool in server.tools:
            if not _plan(caller, server, tool["name"], grants, ruled).allowed:
                continue
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
    for server in caller.servers:
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
        ruled = _rules(caller, [found.server])
        decision = _plan(caller, found.server, found.tool, caller.grants(), ruled)
        if decision.allowed:
            return ""
        why = "; ".join(decision.reasons)
        who = caller.membership.user.email
        if decision.reasons and decision.reasons[-1].startswith("integration "):
            reason = f"{who} may not use {found.server.integration}: {why}."
        else:
            reason = f"{who} may not call {name}: {why}."
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


def prepare_call(caller: Caller, name: str) -> tuple[Route | None, str, dict[str, str]]:
    """What a tools/call needs from the database, in one worker-thread trip: the route, the
    refusal's reason ("" when allowed; audited) and the upstream's credential headers."""
    found = route(caller, name)
    reason = decide_call(caller, found, name)
    if reason or found is None:
        return found, reason, {}
    return found, "", upstream_headers(caller, found.server)


def admit(
    authorization: str, run_header: str, tool: str | None
) -> tuple[Caller, tuple[Route | None, str, dict[str, str]] | None]:
    """The caller, and for a tools/call what prepare_call says: one worker-thread trip."""
    caller = authenticate(authorization, run_header)
    return caller, (prepare_call(caller, tool) if tool is not None else None)


def upstream_headers(caller: Caller, server: McpServer) -> dict[str, str]:
    """The member's own credential for the upstream (their Okta OAuth token for a service of
    the server's integration), never the client's token."""
    from credentials.models import ServiceConnection
    from credentials.tokens import NeedsConsent, fresh_token

    if not getattr(server, "connected", True):
        return {}
    found = gateway_rows.connected(caller.membership.pk, server.integration)
    if found is None:
        return {}
    connection = (
        ServiceConnection.objects.select_related("service__credential", "membership__user", "org")
        .filter(pk=found)
        .first()
    )
    if connection is None:
        return {}
    try:
        return {"Authorization": f"Bearer {fresh_token(connection).access_token}"}
    except (NeedsConsent, ServiceError):
        return {}
