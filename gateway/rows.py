"""The gateway's reads on every call, written out (the house rule of core.rows: hand-written SQL
where a benchmark shows it is worth it, with the figures here).

Measured on 2026-11-30 (python-svc machine, 2 cores, PostgreSQL 15, `make bench-gateway`'s
database), in-process per call: through the ORM, authenticating a gateway token took 1.38 ms and
the call's route, decision and credential lookup 2.82 ms, most of it compiling querysets; the
gateway's whole overhead over a direct call was 9.8 ms against a target of 2 ms. Written out
(these statements, core.rows.fetch_joined for the caller, workspace.rows for the decision),
the same work takes the figures in the README's benchmark table.

- `with_grants`: the caller (a gateway token or a run, with member, user and organization), the
  member's custom roles and the organization's enabled servers, in one statement and one row
  (the roles and the servers as JSON columns). Measured 2026-11-30 in-process on the bench
  database: authenticating and preparing a call took 0.53-0.56 ms of CPU as two statements
  and 0.36 ms as this one.
- The servers come without their tool lists (a list can be hundreds of kilobytes of JSON
  schemas); the tools come from a per-process cache keyed by (server id, tools_refreshed_at),
  which changes whenever gateway.services records new tools, so the cache is never stale: a
  changed list is a new key.
- Each server also says whether the member has a connected service of its integration, so a
  call for a member without one reads nothing more; `connected` then finds the connection
  (its credential is read and refreshed by credentials.tokens.fresh_token, under its row
  lock).
"""

from __future__ import annotations

import contextvars
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


def _server_flags(member: str) -> tuple[str, str]:
    """Two columns of a server `s`: whether the membership `member` (an SQL expression) has a
    connected service of the server's integration (so that a call for a member without one
    reads nothing more), and whether the server has tool rules."""
    s, c, cs, tr = McpServer, ServiceConnection, CredentialService, ToolRule
    connected = (
        f"EXISTS (SELECT 1 FROM {_table(c)} c JOIN {_table(cs)} cs "  # noqa: S608 (model names)
        f"ON cs.{_col(cs, 'id')} = c.{_col(c, 'service')} "
        f"WHERE c.{_col(c, 'membership')} = {member} AND cs.{_col(cs, 'integration')} = "
        f"s.{_col(s, 'integration')} AND c.{_col(c, 'status')} = 'connected')"
    )
    ruled = (
        f"EXISTS (SELECT 1 FROM {_table(tr)} tr "  # noqa: S608 (names from the models)
        f"WHERE tr.{_col(tr, 'server')} = s.{_col(s, 'id')})"
    )
    return connected, ruled


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
_STATEMENTS: dict[tuple, tuple[tuple, str]] = {}  # (model, paths, member, field) -> key, SQL


def _roles_json(vendor: str, member: str) -> str:
    """A JSON column: the custom roles the membership `member` holds, [[id, name, permissions]]
    (NULL or [] when none)."""
    ra, r = RoleAssignment, CustomRole
    if vendor == "postgresql":
        row, agg = "json_build_array", "json_agg"
        perms = f"r.{_col(r, 'permissions')}"
    else:
        row, agg = "json_array", "json_group_array"
        perms = f"json(r.{_col(r, 'permissions')})"
    return (
        f"(SELECT {agg}({row}(r.{_col(r, 'id')}, r.{_col(r, 'name')}, {perms})) "  # noqa: S608
        f"FROM {_table(ra)} ra JOIN {_table(r)} r ON r.{_col(r, 'id')} = ra.{_col(ra, 'role')} "
        f"WHERE ra.{_col(ra, 'membership')} = {member})"
    )


def _servers_json(vendor: str, member: str, org: str) -> str:
    """A JSON column: the organization's enabled servers by name, each [SERVER_FIELDS...,
    connected, ruled]."""
    s = McpServer
    connected, ruled = _server_flags(member)
    cols = ", ".join(f"s.{_col(s, f)}" for f in SERVER_FIELDS)
    where = f"s.{_col(s, 'org')} = {org} AND s.{_col(s, 'enabled')}"
    if vendor == "postgresql":
        return (
            f"(SELECT json_agg(json_build_array({cols}, {connected}, {ruled}) "  # noqa: S608
            f"ORDER BY s.{_col(s, 'name')}) FROM {_table(s)} s WHERE {where})"
        )
    return (
        f"(SELECT json_group_array(json_array({cols}, {connected}, {ruled})) "  # noqa: S608
        f"FROM (SELECT * FROM {_table(s)} s WHERE {where} ORDER BY s.{_col(s, 'name')}) s)"
    )


def _server_of(values: list[Any]) -> McpServer:
    """A server of `_servers_json`: JSON gives the timestamp as text."""
    from datetime import UTC

    from django.utils.dateparse import parse_datetime

    *fields, connected, ruled = values
    at = SERVER_FIELDS.index("tools_refreshed_at")
    if isinstance(fields[at], str):
        parsed = parse_datetime(fields[at])
        if parsed is not None and parsed.tzinfo is None:  # SQLite keeps UTC without an offset
            parsed = parsed.replace(tzinfo=UTC)
        fields[at] = parsed
    fields[SERVER_FIELDS.index("enabled")] = bool(fields[SERVER_FIELDS.index("enabled")])
    server = rows.instance_of(McpServer, SERVER_FIELDS, fields)
    server.tools = _tools_of(server.pk, server.tools_refreshed_at)
    server.connected = bool(connected)
    server.ruled = bool(ruled)
    return server


# The instances built from a caller's row, by statement key and value, with the row they were
# built from. The row is still read on every call; when it equals the one these were built from
# (the token or run, member, user, organization, roles and servers all unchanged), they are
# reused instead of built again: building them was half of admitting a call (measured
# 2026-11-30 in-process on the bench database: 0.29 ms of CPU an admission, of which turning the
# row into model instances 0.15 ms). Any change to any of them changes the row, so a revoked
# token, a deactivated member or a removed role still takes effect at the next call.
_BUILT: dict[tuple, tuple[Any, tuple[Any, dict[int, tuple[str, list[str]]], list[McpServer]]]] = {}
_built_lock = threading.Lock()
BUILT_KEPT = 1024  # callers kept; the oldest go first


def _build(key: tuple, value: Any, found: Any) -> tuple[Any, dict, list[McpServer]]:
    cached = _BUILT.get((key, value))
    if cached is not None and cached[0] == tuple(found):
        return cached[1]
    obj, rest = _CALLERS[key][0].build(found)
    held, listed = (_json(v) or [] for v in rest)
    roles = {role_id: (name, list(_json(perms) or [])) for role_id, name, perms in held}
    built = (obj, roles, [_server_of(list(v)) for v in listed])
    with _built_lock:
        if (key, value) not in _BUILT and len(_BUILT) >= BUILT_KEPT:
            _BUILT.pop(next(iter(_BUILT)), None)
        _BUILT[(key, value)] = (tuple(found), built)
    return built


# Rows read ahead on the gateway's event loop (gateway.aio), by statement key and value:
# `with_grants` takes its row from here instead of reading it.
READ_AHEAD: contextvars.ContextVar[dict[tuple, Any] | None] = contextvars.ContextVar(
    "gateway_read_ahead", default=None
)


def grants_statement(
    model: Any, paths: tuple[str, ...], member_path: str, field: str
) -> tuple[tuple, str]:
    """The key and the SQL of `with_grants` for these arguments (one parameter: the value),
    worked out once per process (asking the connection for its vendor on every call was 3 % of
    a call's CPU)."""
    found = _STATEMENTS.get((model, paths, member_path, field))
    if found is not None:
        return found
    from django.db import connection

    key = (model, paths, member_path, field, connection.vendor)
    if key not in _CALLERS:
        shape = rows.joined(model, paths)
        member = shape.column(member_path, "id")
        org = shape.column(member_path, "org")
        sql = (
            f"SELECT {shape.select}, {_roles_json(connection.vendor, member)}, "
            f"{_servers_json(connection.vendor, member, org)} {shape.source} "
            f"WHERE {shape.column('', field)} = %s"
        )
        _CALLERS[key] = (shape, sql)
    _STATEMENTS[key[:-1]] = key, _CALLERS[key][1]
    return key, _CALLERS[key][1]


def with_grants(
    model: Any, paths: tuple[str, ...], member_path: str, field: str, value: Any
) -> tuple[Any, dict[int, tuple[str, list[str]]], list[McpServer]]:
    """`model` with its related rows along `paths` (core.rows.Joined), the custom roles of the
    membership at `member_path` (role id -> (name, permissions)) and its organization's enabled
    servers (`_server_of`), in one statement and one row: a call's whole read of the caller and
    the servers is one round trip. (None, {}, []) when nothing matches."""
    key, sql = grants_statement(model, paths, member_path, field)
    ahead = READ_AHEAD.get()
    if ahead is not None and (key, value) in ahead:
        found = ahead[(key, value)]
    else:
        with rows.cursor() as cur:
            cur.execute(sql, [value])
            found = cur.fetchone()
    if found is None:
        return None, {}, []
    return _build(key, value, found)


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
