"""The planner of the gateway's decisions: may this member call this tool of this server?

One function, `plan()`, decides live calls (gateway.access, with the caller's grants read with
their token) and the policy preview (gateway.preview, with every member's grants read at once,
then changed as proposed). It asks:
1. the RBAC decision function (workspace.decisions, `integration.use`): do the member's roles
   allow the server's integration?
2. the server's tool rules: a rule without a role blocks the tool (or every tool: "*") for
   everyone; rules with roles reserve it to the members holding one of those roles (RBAC
   admins hold every role's grants, so they pass a reservation, not a block).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workspace.decisions import Decision, Question, decide_with, grants

ANY_TOOL = "*"


@dataclass
class Grants:
    """A member as the planner sees them: the decision function's view plus their role ids."""

    member: Any  # workspace.decisions' member (grants())
    role_ids: set[int] = field(default_factory=set)
    label: str = ""

    @classmethod
    def of(
        cls,
        *,
        member_id: int,
        user_id: int,
        role: str,
        active: bool,
        roles: dict[int, list[str]],
        label: str = "",
    ) -> Grants:
        """From the member's custom roles (role id -> its permissions)."""
        permissions = {str(p) for perms in roles.values() for p in perms or []}
        return cls(grants(member_id, user_id, role, active, permissions), set(roles), label)


@dataclass(frozen=True)
class Rule:
    id: int
    server_id: int
    tool: str
    role_id: int | None

    def covers(self, server_id: int, tool: str) -> bool:
        return self.server_id == server_id and self.tool in (tool, ANY_TOOL)


def plan(
    grants_: Grants,
    *,
    server_id: int,
    server_name: str,
    integration: str,
    tool: str,
    rules: list[Rule],
    role_names: dict[int, str] | None = None,
) -> Decision:
    """The decision on one call, with the reasons."""
    member = grants_.member
    decision = decide_with(member, Question(member.id, "integration.use", integration=integration))
    if not decision.allowed:
        return decision
    mine = [r for r in rules if r.covers(server_id, tool)]
    blocks = [r for r in mine if r.role_id is None]
    if blocks:
        which = "every tool of it" if blocks[0].tool == ANY_TOOL else f"the tool {tool!r}"
        rule = f"tool rule #{blocks[0].id}" if blocks[0].id else "the proposed tool rule"
        return Decision(False, [*decision.reasons, f"{rule} blocks {which} on {server_name}"])
    reserved = {r.role_id for r in mine if r.role_id is not None}
    if reserved:
        names = role_names or {}
        listed = ", ".join(sorted(names.get(i, f"role #{i}") for i in reserved))
        if member.is_admin:
            return Decision(True, [*decision.reasons, f"{tool} is reserved to {listed}: admin"])
        held = reserved & grants_.role_ids
        if not held:
            return Decision(
                False,
                [*decision.reasons, f"{tool} on {server_name} is reserved to {listed}"],
            )
        return Decision(True, [*decision.reasons, f"{tool} is reserved to {listed}: held"])
    return decision
