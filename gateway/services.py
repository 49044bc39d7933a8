"""The MCP servers registry: every change audited in its transaction. A refresh lists the
server's tools outside any transaction (the SDK, over the network), then records them with one
audit event per tool added, changed (its description or input schema) or removed, so that a new
or changed tool is visible in the audit log before anyone uses it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.choices import AuditAction
from audit.services import audit_record
from core.actors import Actor, SystemActor
from core.exceptions import Conflict, ValidationFailed
from core.input import as_id, clean_line
from gateway import upstream
from gateway.choices import Health, Transport
from gateway.models import McpServer, ToolRule
from orgs.models import Organization
from workspace.decisions import INTEGRATION_SLUGS

MAX_SERVERS = 100  # per organization
SHOWN = ("name", "integration", "transport", "url", "command", "enabled")
REFRESH_ACTOR = SystemActor("MCP tools refresh")


@dataclass
class ServerSpec:
    name: Any = None
    integration: Any = None
    transport: Any = None
    url: Any = ""
    command: Any = ""
    enabled: Any = True


def _clean(spec: ServerSpec) -> dict[str, Any]:
    name = clean_line(spec.name, field="name", what="name", max_length=100)
    if not name:
        raise ValidationFailed("name is required (for example Jira).", field="name")
    integration = str(spec.integration or "").strip()
    if integration not in INTEGRATION_SLUGS:
        raise ValidationFailed(
            f"integration must be one of {', '.join(sorted(INTEGRATION_SLUGS))}: it decides "
            "whose roles see and call the server's tools (integrations.use.<integration>).",
            field="integration",
        )
    transport = str(spec.transport or "")
    if transport not in Transport.values:
        raise ValidationFailed("transport must be http or stdio.", field="transport")
    if not isinstance(spec.enabled, bool):
        raise ValidationFailed("enabled must be true or false.", field="enabled")
    url = clean_line(spec.url, field="url", what="URL", max_length=2048)
    command = clean_line(spec.command, field="command", what="command", max_length=100)
    if transport == Transport.HTTP:
        if not url:
            raise ValidationFailed(
                "url is required: the server's Streamable HTTP endpoint (https://…/mcp).",
                field="url",
            )
        upstream.check_url(url)
        command = ""
    else:
        upstream.stdio_params(command)  # refused unless the operator allows it
        url = ""
    return {
        "name": name,
        "integration": integration,
        "transport": transport,
        "url": url,
        "command": command,
        "enabled": spec.enabled,
    }


def server_create(*, org: Organization, actor: Actor | None, spec: ServerSpec) -> McpServer:
    values = _clean(spec)
    try:
        with transaction.atomic():
            Organization.objects.select_for_update().filter(pk=org.pk).first()
            if McpServer.objects.filter(org=org).count() >= MAX_SERVERS:
                raise Conflict(f"An organization has at most {MAX_SERVERS} MCP servers.")
            server = McpServer.objects.create(
                org=org, created_by=getattr(actor, "email", "") or str(actor or ""), **values
            )
            audit_record(
                action=AuditAction.MCP_SERVER_CREATED,
                org=org,
                actor=actor,
                target=server,
                data={"new": values},
            )
    except IntegrityError as exc:
        raise Conflict(f"An MCP server named {values['name']!r} exists already.") from exc
    return server


def server_update(*, server: McpServer, actor: Actor | None, spec: ServerSpec) -> McpServer:
    values = _clean(spec)
    try:
        with transaction.atomic():
            current = McpServer.objects.select_for_update().get(pk=server.pk)
            old = {k: getattr(current, k) for k in SHOWN}
            changed = {k: v for k, v in values.items() if old[k] != v}
            if not changed:
                return current
            for key, value in changed.items():
                setattr(current, key, value)
            if {"url", "command", "transport"} & set(changed):
                current.health = Health.UNKNOWN  # another endpoint: its tools are re-listed
            current.save()
            audit_record(
                action=AuditAction.MCP_SERVER_UPDATED,
                org=current.org,
                actor=actor,
                target=current,
                data={"old": {k: old[k] for k in changed}, "new": changed},
            )
    except IntegrityError as exc:
        raise Conflict(f"An MCP server named {values['name']!r} exists already.") from exc
    return current


def server_delete(*, server: McpServer, actor: Actor | None) -> None:
    with transaction.atomic():
        current = McpServer.objects.select_for_update().get(pk=server.pk)
        audit_record(
            action=AuditAction.MCP_SERVER_DELETED,
            org=current.org,
            actor=actor,
            target=current,
            data={"old": {k: getattr(current, k) for k in SHOWN}, "tools": len(current.tools)},
        )
        current.delete()


def tools_refresh(*, server: McpServer, actor: Actor | None = None) -> dict[str, Any]:
    """Lists the server's tools now and records what changed; returns {added, changed,
    removed, health, error}."""
    actor = actor or REFRESH_ACTOR
    error = ""
    tools: list[dict[str, Any]] | None = None
    try:
        tools = upstream.list_tools(server)
    except upstream.UpstreamError as exc:
        error = str(exc)
    now = timezone.now()
    with transaction.atomic():
        current = McpServer.objects.select_for_update().get(pk=server.pk)
        was = current.health
        current.last_checked_at = now
        current.health = Health.DOWN if tools is None else Health.UP
        current.last_error = error[:1000]
        summary: dict[str, Any] = {"added": [], "changed": [], "removed": []}
        if tools is not None:
            before = {t["name"]: t for t in current.tools}
            after = {t["name"]: t for t in tools}
            for name, tool in after.items():
                if name not in before:
                    summary["added"].append(name)
                    _tool_event(current, actor, AuditAction.MCP_TOOL_ADDED, tool, None)
                elif before[name].get("digest") != tool["digest"]:
                    summary["changed"].append(name)
                    _tool_event(current, actor, AuditAction.MCP_TOOL_CHANGED, tool, before[name])
            for name, tool in before.items():
                if name not in after:
                    summary["removed"].append(name)
                    _tool_event(current, actor, AuditAction.MCP_TOOL_REMOVED, None, tool)
            current.tools = tools
            current.tools_refreshed_at = now
        current.save()
        if was != current.health and not (was == Health.UNKNOWN and current.health == Health.UP):
            audit_record(
                action=AuditAction.MCP_SERVER_HEALTH_CHANGED,
                org=current.org,
                actor=actor,
                target=current,
                data={"old": {"health": was}, "new": {"health": current.health}, "error": error},
            )
    return {**summary, "health": current.health, "error": error}


def _tool_event(
    server: McpServer,
    actor: Actor,
    action: AuditAction,
    tool: dict[str, Any] | None,
    previous: dict[str, Any] | None,
) -> None:
    shown = tool or previous or {}
    data: dict[str, Any] = {"server": server.name, "tool": shown.get("name")}
    if tool is not None:
        data["new"] = {"description": tool["description"], "input_schema": tool["input_schema"]}
    if previous is not None:
        data["old"] = {
            "description": previous.get("description"),
            "input_schema": previous.get("input_schema"),
        }
    audit_record(
        action=action,
        org=server.org,
        actor=actor,
        target=server,
        target_label=f"{server.name} / {shown.get('name')}",
        data=data,
    )


# --- Tool rules ------------------------------------------------------------------------------

MAX_RULES = 1000  # per organization


def rule_create(
    *, server: McpServer, tool: Any, role: Any, note: Any = "", actor: Actor | None
) -> ToolRule:
    """A rule on one tool of the server (or "*": all of them): no role blocks it for everyone,
    a custom role reserves it to that role's members (gateway.policy)."""
    from gateway.policy import ANY_TOOL
    from orgs.models import CustomRole

    name = clean_line(tool, field="tool", what="tool", max_length=200)
    if not name:
        raise ValidationFailed(
            'tool is required: a tool of the server, or "*" for all.', field="tool"
        )
    known = {t["name"] for t in server.tools}
    if name != ANY_TOOL and name not in known:
        raise ValidationFailed(
            f"{server.name} lists no tool {name!r} (it lists: {', '.join(sorted(known)) or 'none'}"
            '; or "*" for every tool).',
            field="tool",
        )
    chosen = None
    if role not in (None, ""):
        chosen = CustomRole.objects.filter(org_id=server.org_id, pk=as_id(role)).first()
        if chosen is None:
            raise ValidationFailed("role must be a custom role of this organization.", field="role")
    note = clean_line(note, field="note", what="note", max_length=300)
    with transaction.atomic():
        McpServer.objects.select_for_update().get(pk=server.pk)  # one rule at a time per server
        if ToolRule.objects.filter(org_id=server.org_id).count() >= MAX_RULES:
            raise ValidationFailed(f"An organization has at most {MAX_RULES} tool rules.")
        if ToolRule.objects.filter(server=server, tool=name, role=chosen).exists():
            raise Conflict("The same rule exists already.")
        rule = ToolRule.objects.create(
            org_id=server.org_id,
            server=server,
            tool=name,
            role=chosen,
            note=note,
            created_by=getattr(actor, "email", "") or "",
        )
        audit_record(
            action=AuditAction.MCP_TOOL_RULE_CREATED,
            org=server.org,
            actor=actor,
            target=server,
            data=_rule_data(rule),
        )
    return rule


def rule_delete(*, rule: ToolRule, actor: Actor | None) -> None:
    with transaction.atomic():
        current = (
            ToolRule.objects.select_for_update(of=("self",))
            .select_related("server", "role")
            .get(pk=rule.pk)
        )
        audit_record(
            action=AuditAction.MCP_TOOL_RULE_DELETED,
            org=current.server.org,
            actor=actor,
            target=current.server,
            data=_rule_data(current),
        )
        current.delete()


def _rule_data(rule: ToolRule) -> dict[str, Any]:
    return {
        "rule": rule.pk,
        "server": rule.server.name,
        "tool": rule.tool,
        "effect": "reserved" if rule.role_id else "blocked",
        "role": rule.role.name if rule.role_id else None,
        "note": rule.note,
    }
