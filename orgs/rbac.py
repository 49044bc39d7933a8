"""RBAC: the permission catalog and the one function every page and API call asks."""

from __future__ import annotations

from dataclasses import dataclass

from orgs.choices import RbacRole
from orgs.models import CustomRole, Membership


@dataclass(frozen=True)
class Capability:
    code: str
    label: str
    group: str


INTEGRATIONS = [
    ("slack", "Slack"),
    ("jira", "Jira"),
    ("zendesk", "Zendesk"),
    ("salesforce", "Salesforce"),
    ("snowflake", "Snowflake"),
    ("netsuite", "NetSuite"),
    ("databricks", "Databricks"),
    ("github", "GitHub"),
    ("gmail", "Gmail"),
    ("mcp", "Generic MCP server"),
]

CATALOG: tuple[Capability, ...] = (
    Capability("agents.create", "Create agents", "Agents"),
    Capability("agents.edit", "Edit agents", "Agents"),
    Capability("agents.delete", "Delete agents", "Agents"),
    Capability("agents.run", "Run agents", "Agents"),
    Capability("workflows.build", "Build and modify workflows", "Workflows"),
    Capability("workflows.delete", "Delete workflows", "Workflows"),
    Capability("workflows.execute", "Execute workflows", "Workflows"),
    *(
        Capability(f"integrations.use.{slug}", f"Use {name}", "Integrations")
        for slug, name in INTEGRATIONS
    ),
    Capability("integrations.connect", "Connect new integration credentials", "Integrations"),
    Capability("schedules.manage", "Manage schedules", "Schedules"),
    Capability("admin.members", "Manage members", "Administration"),
    Capability("admin.roles", "Manage custom roles", "Administration"),
    Capability("admin.teams", "Manage teams", "Administration"),
    Capability("admin.sso", "Manage SSO", "Administration"),
    Capability("admin.scim", "Manage SCIM", "Administration"),
    Capability("admin.audit_log", "View and export the audit log", "Administration"),
    Capability("admin.retention", "Manage data retention", "Administration"),
    Capability("admin.credentials", "Manage organization credentials", "Administration"),
    Capability("admin.tracing", "View tool-call tracing", "Administration"),
)
CATALOG_CODES: frozenset[str] = frozenset(c.code for c in CATALOG)


def catalog_groups() -> list[tuple[str, list[Capability]]]:
    groups: dict[str, list[Capability]] = {}
    for cap in CATALOG:
        groups.setdefault(cap.group, []).append(cap)
    return list(groups.items())


def permissions_of(membership: Membership | None) -> frozenset[str]:
    """Everything a membership may do. Admins hold the whole catalog; members the union of
    their custom roles. Inactive memberships hold nothing. Cached on the instance."""
    cached = getattr(membership, "_permissions_cache", None)
    if cached is not None:
        return cached
    if membership is None or not membership.is_active:
        perms: frozenset[str] = frozenset()
    elif membership.role == RbacRole.ADMIN:
        perms = CATALOG_CODES
    else:
        codes: set[str] = set()
        for role_perms in CustomRole.objects.filter(assignments__membership=membership).values_list(
            "permissions", flat=True
        ):
            codes.update(role_perms or [])
        perms = frozenset(codes & CATALOG_CODES)
    membership._permissions_cache = perms
    return perms


def may(membership: Membership | None, capability: str) -> bool:
    """May this membership use this capability? The single permission question."""
    if capability not in CATALOG_CODES:
        raise ValueError(f"unknown capability {capability!r}")
    return capability in permissions_of(membership)


def is_admin(membership: object) -> bool:
    return bool(
        membership is not None and membership.is_active and membership.role == RbacRole.ADMIN
    )


# Built-in role templates, offered when an organization is created (manage.py org_create) and on
# the Custom roles page. "Org Admin" holds every delegable admin capability as a custom role, so
# an IdP group can map to it (SCIM itself never grants the RBAC admin role).
ROLE_TEMPLATES: dict[str, tuple[str, list[str]]] = {
    "Builder": (
        "Creates and modifies agents and workflows, and runs them.",
        [
            "agents.create",
            "agents.edit",
            "agents.run",
            "workflows.build",
            "workflows.execute",
            "schedules.manage",
            "integrations.use.slack",
        ],
    ),
    "Consumer": (
        "Runs agents and workflows (from Slack or the web); cannot edit logic, change data "
        "sources or touch security settings.",
        ["agents.run", "workflows.execute", "integrations.use.slack"],
    ),
    "Org Admin": (
        "Every delegable admin capability, as a custom role an IdP group can map to.",
        sorted(c.code for c in CATALOG if c.code.startswith("admin.")),
    ),
}
