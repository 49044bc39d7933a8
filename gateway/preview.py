"""Policy preview by replay: before a custom role's integration permissions, a role assignment
or a tool rule changes, the recorded tool calls of the last N days are decided again under the
current policy and under the proposed one, with the planner that decides live calls
(gateway.policy.plan); what differs is listed per member and tool: newly denied, newly allowed.

The policy is read whole (members and their roles, the roles' permissions, the tool rules: four
reads), changed in memory as proposed, and each distinct (member, server, tool) of the period
decided twice, so the cost follows the number of distinct calls, not of calls. A call whose
member or server is gone is not replayed. The preview judges the policy only: a server since
disabled or a tool since removed is not what it is about.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db.models import Count, Max
from django.utils import timezone

from core.exceptions import ValidationFailed
from core.input import as_id
from gateway.models import McpServer, ToolRule, ToolTrace
from gateway.policy import ANY_TOOL, Grants, Rule, plan
from orgs.models import CustomRole, Membership, RoleAssignment
from orgs.rbac import CATALOG_CODES

KINDS = ("role_permissions", "role_assign", "role_unassign", "rule_add", "rule_remove")
MAX_DAYS = 90


@dataclass
class Policy:
    members: dict[int, dict[str, Any]] = field(default_factory=dict)  # id -> facts, role ids
    roles: dict[int, tuple[str, list[str]]] = field(default_factory=dict)  # id -> name, perms
    rules: list[Rule] = field(default_factory=list)

    @classmethod
    def load(cls, org: Any) -> Policy:
        policy = cls()
        for pk, user_id, role, active, email in Membership.objects.filter(org=org).values_list(
            "pk", "user_id", "role", "is_active", "user__email"
        ):
            policy.members[pk] = {
                "user_id": user_id,
                "role": role,
                "active": active,
                "email": email,
                "roles": set(),
            }
        for pk, name, permissions in CustomRole.objects.filter(org=org).values_list(
            "pk", "name", "permissions"
        ):
            policy.roles[pk] = (name, list(permissions or []))
        for member_id, role_id in RoleAssignment.objects.filter(membership__org=org).values_list(
            "membership_id", "role_id"
        ):
            if member_id in policy.members:
                policy.members[member_id]["roles"].add(role_id)
        policy.rules = [
            Rule(pk, server_id, tool, role_id)
            for pk, server_id, tool, role_id in ToolRule.objects.filter(org=org).values_list(
                "pk", "server_id", "tool", "role_id"
            )
        ]
        return policy

    def grants(self, member_id: int) -> Grants:
        m = self.members[member_id]
        return Grants.of(
            member_id=member_id,
            user_id=m["user_id"],
            role=m["role"],
            active=m["active"],
            roles={i: self.roles[i][1] for i in m["roles"] if i in self.roles},
            label=m["email"],
        )

    def decide(self, member_id: int, server: Any, tool: str) -> Any:
        return plan(
            self.grants(member_id),
            server_id=server.pk,
            server_name=server.name,
            integration=server.integration,
            tool=tool,
            rules=self.rules,
            role_names={i: name for i, (name, _) in self.roles.items()},
        )

    def apply(self, change: Change) -> Policy:
        """A copy of this policy, changed as proposed."""
        after = copy.deepcopy(self)
        if change.kind == "role_permissions":
            name, _ = after.roles[change.role]
            after.roles[change.role] = (name, list(change.permissions))
        elif change.kind == "role_assign":
            after.members[change.member]["roles"].add(change.role)
        elif change.kind == "role_unassign":
            after.members[change.member]["roles"].discard(change.role)
        elif change.kind == "rule_add":
            after.rules.append(Rule(0, change.server, change.tool, change.role))
        elif change.kind == "rule_remove":
            after.rules = [r for r in after.rules if r.id != change.rule]
        return after


@dataclass
class Change:
    kind: str
    role: int | None = None
    permissions: list[str] = field(default_factory=list)
    member: int | None = None
    server: int | None = None
    tool: str = ""
    rule: int | None = None

    def describe(self, policy: Policy, servers: dict[int, Any]) -> str:
        role = policy.roles.get(self.role or 0, ("", []))[0]
        if self.kind == "role_permissions":
            uses = sorted(
                p.removeprefix("integrations.use.")
                for p in self.permissions
                if p.startswith("integrations.use.")
            )
            return f"role {role!r} allows the integrations: {', '.join(uses) or 'none'}"
        if self.kind in ("role_assign", "role_unassign"):
            email = policy.members[self.member or 0]["email"]
            verb = "is given to" if self.kind == "role_assign" else "is taken from"
            return f"role {role!r} {verb} {email}"
        if self.kind == "rule_add":
            server = servers[self.server].name if self.server in servers else "?"
            what = "every tool" if self.tool == ANY_TOOL else f"the tool {self.tool!r}"
            return f"{what} of {server} " + (
                f"is reserved to role {role!r}" if self.role else "is blocked"
            )
        return f"tool rule #{self.rule} is removed"


def change_from(org: Any, data: Any) -> Change:
    """The proposed change from a form or a JSON body; ValidationFailed says what is wrong."""
    if not isinstance(data, dict) and not hasattr(data, "get"):
        raise ValidationFailed("Send the change as an object with a kind.")
    kind = str(data.get("kind") or "")
    if kind not in KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(KINDS)}.", field="kind")
    change = Change(kind)

    def role(required: bool = True) -> int | None:
        raw = data.get("role")
        if raw in (None, "") and not required:
            return None
        found = CustomRole.objects.filter(org=org, pk=as_id(raw)).values_list("pk", flat=True)
        if not found:
            raise ValidationFailed("role must be a custom role of this organization.", field="role")
        return found[0]

    if kind == "role_permissions":
        change.role = role()
        raw = data.get("permissions")
        if hasattr(data, "getlist"):
            raw = data.getlist("permissions")
        if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
            raise ValidationFailed(
                "permissions must be a list of permission codes.", field="permissions"
            )
        unknown = sorted(set(raw) - CATALOG_CODES)
        if unknown:
            raise ValidationFailed(
                f"Unknown permissions: {', '.join(unknown)} (GET /api/v1/permissions/ lists them).",
                field="permissions",
            )
        change.permissions = sorted(set(raw))
    elif kind in ("role_assign", "role_unassign"):
        change.role = role()
        member = Membership.objects.filter(org=org, pk=as_id(data.get("member"))).first()
        if member is None:
            raise ValidationFailed(
                "member must be a member id of this organization.", field="member"
            )
        change.member = member.pk
    elif kind == "rule_add":
        server = McpServer.objects.filter(org=org, pk=as_id(data.get("server"))).first()
        if server is None:
            raise ValidationFailed(
                "server must be an MCP server of this organization.", field="server"
            )
        tool = str(data.get("tool") or "").strip()
        if tool != ANY_TOOL and tool not in {t["name"] for t in server.tools}:
            raise ValidationFailed(
                f'{server.name} lists no tool {tool!r} ("*" means every tool).', field="tool"
            )
        change.server, change.tool, change.role = server.pk, tool, role(required=False)
    else:
        rule = ToolRule.objects.filter(org=org, pk=as_id(data.get("rule"))).first()
        if rule is None:
            raise ValidationFailed("rule must be a tool rule of this organization.", field="rule")
        change.rule = rule.pk
    return change


def replay(org: Any, change: Change, days: Any = 30) -> dict[str, Any]:
    """The recorded calls of the last `days` days decided now and as proposed."""
    number = as_id(days)
    if number is None or number > MAX_DAYS:
        raise ValidationFailed(f"days must be a whole number from 1 to {MAX_DAYS}.", field="days")
    since = timezone.now() - timedelta(days=number)
    before = Policy.load(org)
    after = before.apply(change)
    servers = {
        s.pk: s
        for s in McpServer.objects.filter(org=org).only("pk", "name", "integration", "org_id")
    }
    calls = (
        ToolTrace.objects.filter(org=org, at__gte=since, member__isnull=False, server__isnull=False)
        .values("member_id", "server_id", "tool")
        .annotate(calls=Count("id"), last=Max("at"))
        .order_by()
    )
    newly_denied, newly_allowed = [], []
    replayed = distinct = 0
    for row in calls:
        server = servers.get(row["server_id"])
        if server is None or row["member_id"] not in before.members:
            continue
        distinct += 1
        replayed += row["calls"]
        now = before.decide(row["member_id"], server, row["tool"])
        then = after.decide(row["member_id"], server, row["tool"])
        if now.allowed == then.allowed:
            continue
        entry = {
            "member": row["member_id"],
            "email": before.members[row["member_id"]]["email"],
            "server": server.name,
            "tool": row["tool"],
            "calls": row["calls"],
            "last_call": row["last"].isoformat(),
            "reasons": then.reasons,
        }
        (newly_allowed if then.allowed else newly_denied).append(entry)
    order = lambda e: (-e["calls"], e["email"], e["server"], e["tool"])  # noqa: E731
    return {
        "change": change.describe(before, servers),
        "days": number,
        "calls_replayed": replayed,
        "distinct_calls": distinct,
        "newly_denied": sorted(newly_denied, key=order),
        "newly_allowed": sorted(newly_allowed, key=order),
    }
