"""The gateway's reads on every call, written out (the house rule of core.rows: hand-written SQL
where a benchmark shows it is worth it, with the figures here).

Measured on 2026-11-30 (python-svc machine, 2 cores, PostgreSQL 15, `make bench-gateway`'s
database), in-process per call: through the ORM, authenticating a gateway token took 1.38 ms and
the call's route, decision and credential lookup 2.82 ms, most of it compiling querysets; the
gateway's whole overhead over a direct call was 9.8 ms against a target of 2 ms. Written out
(these statements, core.rows.fetch_joined for the caller, workspace.rows for the decision),
the same work takes the figures in the README's benchmark table.

- `servers`: the organization's enabled servers without their tool lists (a list can be
  hundreds of kilobytes of JSON schemas); the tools come from a per-process cache keyed by
  (server id, tools_refreshed_at), which changes whenever gateway.services records new tools, so
  the cache is never stale: a changed list is a new key.
- `servers` also says, per server, whether the member has a connected service of its
  integration, so a call for a member without one reads nothing more; `connected` then finds
  the connection (its credential is read and refreshed by credentials.tokens.fresh_token,
  under its row lock).
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import Any

from core import rows
from credentials.models import CredentialService, ServiceConnection
from gateway.models import McpServer, ToolRule
from gateway.policy import Rule
from orgs.models import CustomRole, RoleAssignment
from workspace.rows import _col, _json, _table

SERVER_FIELDS = (
    "id",
    "org",
    "name",
    "integration",
    "transport",
    "url",
    "command",
    "enabled",
    "tools_refreshed_at",
)
_tools: dict[tuple[int, Any], list[dict[str, Any]]] = {}
_tools_lock = threading.Lock()
TOOLS_CACHED = 1024  # server versions kept; the oldest go first


@lru_cache(maxsize=4)
def _servers_sql(vendor: str) -> str:
    s, c, cs, tr = McpServer, ServiceConnection, CredentialService, ToolRule
    cols = ", ".join(f"s.{_col(s, f)}" for f in SERVER_FIELDS)
    # Whether the member has a connected service of the server's integration (so that a call
    # for a member without one reads nothing more), and whether the server has tool rules.
    connected = (
        f"EXISTS (SELECT 1 FROM {_table(c)} c JOIN {_table(cs)} cs "  # noqa: S608 (model names)
        f"ON cs.{_col(cs, 'id')} = c.{_col(c, 'service')} "
        f"WHERE c.{_col(c, 'membership')} = %s AND cs.{_col(cs, 'integration')} = "
        f"s.{_col(s, 'integration')} AND c.{_col(c, 'status')} = 'connected')"
    )
    ruled = (
        f"EXISTS (SELECT 1 FROM {_table(tr)} tr "  # noqa: S608 (names from the models)
        f"WHERE tr.{_col(tr, 'server')} = s.{_col(s, 'id')})"
    )
    return (
        f"SELECT {cols}, {connected}, {ruled} FROM {_table(s)} s "  # noqa: S608 (model names)
        f"WHERE s.{_col(s, 'org')} = %s AND s.{_col(s, 'enabled')} ORDER BY s.{_col(s, 'name')}"
    )


def _tools_of(server_id: int, version: Any) -> list[dict[str, Any]]:
    key = (server_id, version)
    found = _tools.get(key)
    if found is None:
        found = list(McpServer.objects.filter(pk=server_id).values_list("tools", flat=True))
        found = found[0] if found else []
        with _tools_lock:
            if len(_tools) >= TOOLS_CACHED:
                _tools.pop(next(iter(_tools)))
            _tools[key] = found
    return found


def servers(org_id: int, membership_id: int | None = None) -> list[McpServer]:
    """The organization's enabled servers, by name, with their tools; `server.connected` says
    whether the member has a connected service of its integration, `server.ruled` whether it
    has tool rules."""
    from django.db import connection

    with rows.cursor() as cur:
        cur.execute(_servers_sql(connection.vendor), [membership_id or 0, org_id])
        found = cur.fetchall()
    out = []
    for values in found:
        server = rows.instance_of(McpServer, SERVER_FIELDS, values[:-2])
        server.tools = _tools_of(server.pk, server.tools_refreshed_at)
        server.connected = bool(values[-2])
        server.ruled = bool(values[-1])
        out.append(server)
    return out


def rules(org_id: int) -> tuple[list[Rule], dict[int, str]]:
    """The organization's tool rules, and the names of the roles they name."""
    found = ToolRule.objects.filter(org_id=org_id).values_list(
        "id", "server_id", "tool", "role_id", "role__name"
    )
    out, names = [], {}
    for rule_id, server_id, tool, role_id, role_name in found:
        out.append(Rule(rule_id, server_id, tool, role_id))
        if role_id is not None:
            names[role_id] = role_name
    return out, names


_CALLERS: dict[tuple, tuple[Any, str]] = {}


def with_grants(
    model: Any, paths: tuple[str, ...], member_path: str, field: str, value: Any
) -> tuple[Any, dict[int, tuple[str, list[str]]]]:
    """`model` with its related rows along `paths` (core.rows.Joined), and the custom roles of
    the membership at `member_path` (role id -> (name, permissions)), in one statement: one row
    per role held. (None, {}) when nothing matches."""
    key = (model, paths, member_path, field)
    if key not in _CALLERS:
        shape = rows.joined(model, paths)
        ra, r = RoleAssignment, CustomRole
        member = shape.column(member_path, "id")
        sql = (
            f"SELECT {shape.select}, ra.{_col(ra, 'role')}, r.{_col(r, 'name')}, "
            f"r.{_col(r, 'permissions')} {shape.source} "
            f"LEFT JOIN {_table(ra)} ra ON ra.{_col(ra, 'membership')} = {member} "
            f"LEFT JOIN {_table(r)} r ON r.{_col(r, 'id')} = ra.{_col(ra, 'role')} "
            f"WHERE {shape.column('', field)} = %s"
        )
        _CALLERS[key] = (shape, sql)
    shape, sql = _CALLERS[key]
    with rows.cursor() as cur:
        cur.execute(sql, [value])
        found = cur.fetchall()
    if not found:
        return None, {}
    obj, _ = shape.build(found[0])
    roles = {}
    for row in found:
        role_id, name, permissions = row[-3:]
        if role_id is not None:
            roles[role_id] = (name, list(_json(permissions) or []))
    return obj, roles


@lru_cache(maxsize=4)
def _connected_sql(vendor: str) -> str:
    c, s = ServiceConnection, CredentialService
    return (
        f"SELECT c.{_col(c, 'id')} FROM {_table(c)} c "  # noqa: S608 (names from the models)
        f"JOIN {_table(s)} s ON s.{_col(s, 'id')} = c.{_col(c, 'service')} "
        f"WHERE c.{_col(c, 'membership')} = %s AND s.{_col(s, 'integration')} = %s "
        f"AND c.{_col(c, 'status')} = 'connected' ORDER BY c.{_col(c, 'id')} LIMIT 1"
    )


def connected(membership_id: int, integration: str) -> int | None:
    """The id of the member's first connected service of the integration, or None."""
    from django.db import connection

    with rows.cursor() as cur:
        cur.execute(_connected_sql(connection.vendor), [membership_id, integration])
        row = cur.fetchone()
    return row[0] if row else None
