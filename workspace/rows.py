"""The decision function's two statements, written out (the house rule of core.rows: hand-written
SQL only where a benchmark shows it is worth it, with the figures here).

Measured on 2026-11-29 (python-svc machine, PostgreSQL 15, the `make bench-workspace` data:
10,000 members, 2,000 agents, 20,000 shares), one decision in this process: the ORM forms (a
values_list with joins, and a UNION ALL of six values_list querysets with Value and Cast
expressions) took 1.2 ms and 3.0 ms, of which the database needed 0.05 ms and 0.4 ms; the rest
was building and compiling the querysets. Over HTTP that put a decision at p95 8.5 ms against a
target of 5 ms. These statements are built once per shape from the models' metadata (table and
column names) and run with parameters.

Both run on PostgreSQL and SQLite (tests/workspace runs on both); JSON columns arrive parsed on
PostgreSQL and as text on SQLite, and `_json` reads either.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from django.db import connection

from core import rows
from identity.models import User
from orgs.models import CustomRole, Membership, RoleAssignment, Team, TeamMembership


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _col(model: Any, name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


# Identifiers come from the models' metadata and `kind` from a fixed set; every value is a
# parameter (S608 below is about those f-strings).


def _marks(n: int) -> str:
    return ", ".join(["%s"] * n) if n else "NULL"


@lru_cache(maxsize=256)
def _members_sql(n_ids: int, n_emails: int) -> str:
    m, u, ra, r, tm = Membership, User, RoleAssignment, CustomRole, TeamMembership
    return (
        f"SELECT m.{_col(m, 'id')}, u.{_col(u, 'email')}, m.{_col(m, 'user')}, "  # noqa: S608
        f"m.{_col(m, 'role')}, m.{_col(m, 'is_active')}, r.{_col(r, 'permissions')}, "
        f"tm.{_col(tm, 'team')} "
        f"FROM {_table(m)} m JOIN {_table(u)} u ON u.{_col(u, 'id')} = m.{_col(m, 'user')} "
        f"LEFT JOIN {_table(ra)} ra ON ra.{_col(ra, 'membership')} = m.{_col(m, 'id')} "
        f"LEFT JOIN {_table(r)} r ON r.{_col(r, 'id')} = ra.{_col(ra, 'role')} "
        f"LEFT JOIN {_table(tm)} tm ON tm.{_col(tm, 'membership')} = m.{_col(m, 'id')} "
        f"WHERE m.{_col(m, 'org')} = %s AND (m.{_col(m, 'id')} IN ({_marks(n_ids)}) "
        f"OR LOWER(u.{_col(u, 'email')}) IN ({_marks(n_emails)}))"
    )


def member_rows(org_id: int, ids: list[int], emails: list[str]) -> list[tuple[Any, ...]]:
    """(id, email, user id, role, active, custom role permissions, team id) rows: one per
    custom role and team of each member asked for, by id or by lower-cased e-mail."""
    with rows.cursor() as cur:
        cur.execute(_members_sql(len(ids), len(emails)), [org_id, *ids, *emails])
        return [(*row[:5], _json(row[5]), row[6]) for row in cur.fetchall()]


@lru_cache(maxsize=256)
def _objects_sql(shape: tuple[tuple[str, int], ...]) -> str:
    from django.contrib.auth.models import Permission

    from workspace.models import (
        Agent,
        AgentTeamShare,
        AgentUserShare,
        Workflow,
        WorkflowTeamShare,
        WorkflowUserShare,
    )

    p, t = Permission, Team
    parts = []
    for kind, n in shape:
        obj, user_share, team_share = {
            "agent": (Agent, AgentUserShare, AgentTeamShare),
            "workflow": (Workflow, WorkflowUserShare, WorkflowTeamShare),
        }[kind]
        uses = "integrations" if kind == "agent" else "steps"
        ids = _marks(n)
        parts.append(
            f"SELECT '{kind}', o.{_col(obj, 'id')}, 'object', o.{_col(obj, 'team')}, "  # noqa: S608
            f"o.{_col(obj, 'owner')}, o.{_col(obj, 'status')}, o.{_col(obj, 'name')}, "
            f"o.{_col(obj, uses)} FROM {_table(obj)} o "
            f"WHERE o.{_col(obj, 'org')} = %s AND o.{_col(obj, 'id')} IN ({ids})"
        )
        parts.append(
            f"SELECT '{kind}', s.{_col(user_share, 'content_object')}, 'user', "  # noqa: S608
            f"s.{_col(user_share, 'user')}, NULL, p.{_col(p, 'codename')}, '', NULL "
            f"FROM {_table(user_share)} s JOIN {_table(p)} p "
            f"ON p.{_col(p, 'id')} = s.{_col(user_share, 'permission')} "
            f"WHERE s.{_col(user_share, 'content_object')} IN ({ids})"
        )
        parts.append(
            f"SELECT '{kind}', s.{_col(team_share, 'content_object')}, 'team', "  # noqa: S608
            f"t.{_col(t, 'id')}, NULL, p.{_col(p, 'codename')}, '', NULL "
            f"FROM {_table(team_share)} s JOIN {_table(p)} p "
            f"ON p.{_col(p, 'id')} = s.{_col(team_share, 'permission')} "
            f"JOIN {_table(t)} t ON t.{_col(t, 'auth_group')} = s.{_col(team_share, 'group')} "
            f"WHERE s.{_col(team_share, 'content_object')} IN ({ids})"
        )
    return " UNION ALL ".join(parts)


def object_rows(org_id: int, wanted: dict[str, list[int]]) -> list[tuple[Any, ...]]:
    """(kind, id, "object", team, owner, status, name, integrations or steps) per object and
    (kind, object id, "user"|"team", principal, None, codename, "", None) per share."""
    shape = tuple((kind, len(ids)) for kind, ids in sorted(wanted.items()) if ids)
    if not shape:
        return []
    params: list[Any] = []
    for kind, _ in shape:
        ids = sorted(wanted[kind])
        params += [org_id, *ids, *ids, *ids]
    with rows.cursor() as cur:
        cur.execute(_objects_sql(shape), params)
        return [(*row[:7], _json(row[7])) for row in cur.fetchall()]
