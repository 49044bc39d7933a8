"""The audit event registry: one place, stable public names, duplicates rejected at import."""

from __future__ import annotations

import enum

from django.db import models


@enum.unique  # a duplicate value would silently alias another event; refuse to import instead
class AuditAction(models.TextChoices):
    # Organizations
    ORG_CREATED = "org.created", "Organization created"
    # Members and RBAC
    MEMBER_ADDED = "member.added", "Member added"
    MEMBER_INVITED = "member.invited", "Member invited"
    DOMAIN_CLAIMED = "domain.claimed", "Domain claimed (pending verification)"
    DOMAIN_RELEASED = "domain.released", "Domain claim released"
    DOMAIN_VERIFIED = "domain.verified", "Domain verified"
    DOMAIN_SUSPENDED = "domain.suspended", "Domain suspended (DNS record gone)"
    MEMBER_INVITATION_REVOKED = "member.invitation_revoked", "Invitation revoked"
    MEMBER_INVITATION_ACCEPTED = "member.invitation_accepted", "Invitation accepted"
    MEMBER_ROLE_CHANGED = "member.role_changed", "Member RBAC role changed"
    MEMBER_DEACTIVATED = "member.deactivated", "Member deactivated"
    MEMBER_REACTIVATED = "member.reactivated", "Member reactivated"
    MEMBER_CUSTOM_ROLE_ASSIGNED = "member.custom_role_assigned", "Custom role assigned"
    MEMBER_CUSTOM_ROLE_UNASSIGNED = "member.custom_role_unassigned", "Custom role unassigned"
    # Custom roles
    CUSTOM_ROLE_CREATED = "custom_role.created", "Custom role created"
    CUSTOM_ROLE_UPDATED = "custom_role.updated", "Custom role updated"
    CUSTOM_ROLE_DELETED = "custom_role.deleted", "Custom role deleted"
    # Teams
    TEAM_CREATED = "team.created", "Team created"
    TEAM_RENAMED = "team.renamed", "Team renamed"
    TEAM_DELETED = "team.deleted", "Team deleted"
    ACCESS_DENIED = "access.denied", "Denied attempt"
    VIEW_AS_STARTED = "admin.view_as_started", "Admin started viewing as a member"
    VIEW_AS_STOPPED = "admin.view_as_stopped", "Admin stopped viewing as a member"
    SERVICE_KEY_CREATED = "service_key.created", "Service key created"
    SERVICE_KEY_REVOKED = "service_key.revoked", "Service key revoked"
    # The audit trail itself
    AUDIT_VERIFIED = "audit.verified", "Audit trail verified"
    AUDIT_VERIFICATION_FAILED = "audit.verification_failed", "Audit trail verification failed"
    AUDIT_EXPORTED = "audit.exported", "Audit trail exported"
    AUDIT_STREAM_CREATED = "audit_stream.created", "Audit stream (SIEM destination) created"
    AUDIT_STREAM_UPDATED = "audit_stream.updated", "Audit stream changed"
    AUDIT_STREAM_DELETED = "audit_stream.deleted", "Audit stream deleted"
    AUDIT_STREAM_PAUSED = "audit_stream.paused", "Audit stream paused"
    AUDIT_STREAM_RESUMED = "audit_stream.resumed", "Audit stream resumed"
    AUDIT_STREAM_SECRET_ROTATED = "audit_stream.secret_rotated", "Audit stream secret rotated"
    AUDIT_STREAM_TESTED = "audit_stream.test_sent", "Audit stream test event delivered"
    AUDIT_STREAM_TEST_FAILED = "audit_stream.test_failed", "Audit stream test event failed"
    AUDIT_STREAM_DELIVERY_FAILED = (
        "audit_stream.delivery_failed",
        "Audit stream delivery failing (the destination refused or is unreachable)",
    )
    AUDIT_STREAM_DELIVERY_RECOVERED = (
        "audit_stream.delivery_recovered",
        "Audit stream delivery recovered",
    )
    RETENTION_POLICY_CHANGED = "retention.policy_changed", "Retention windows changed"
    RETENTION_TEAM_WINDOW_CHANGED = (
        "retention.team_window_changed",
        "A team's retention window changed",
    )
    RETENTION_ZDR_CHANGED = "retention.zdr_changed", "Zero data retention switched"
    RETENTION_HOLD_PLACED = "retention.hold_placed", "Legal hold placed"
    RETENTION_HOLD_RELEASED = "retention.hold_released", "Legal hold released"
    RETENTION_PURGED = "retention.purged", "Retention run finished (its receipt)"
    RETENTION_OVERDUE = "retention.overdue", "Retention has not completed for two intervals"
    AGENT_CREATED = "agent.created", "Agent created"
    AGENT_UPDATED = "agent.updated", "Agent edited"
    AGENT_DELETED = "agent.deleted", "Agent deleted"
    AGENT_SHARED = "agent.shared", "Agent shared"
    AGENT_UNSHARED = "agent.unshared", "Agent share removed"
    WORKFLOW_CREATED = "workflow.created", "Workflow created"
    WORKFLOW_UPDATED = "workflow.updated", "Workflow edited"
    WORKFLOW_DELETED = "workflow.deleted", "Workflow deleted"
    WORKFLOW_SHARED = "workflow.shared", "Workflow shared"
    WORKFLOW_UNSHARED = "workflow.unshared", "Workflow share removed"
    SCHEDULE_CREATED = "schedule.created", "Schedule created"
    SCHEDULE_UPDATED = "schedule.updated", "Schedule changed"
    SCHEDULE_DELETED = "schedule.deleted", "Schedule deleted"
    RUN_STARTED = "run.started", "Run started"
    RUN_FINISHED = "run.finished", "Run finished"
    INTEGRATION_CONNECTED = "integration.connected", "Integration connected"
    INTEGRATION_DISCONNECTED = "integration.disconnected", "Integration disconnected"
    TEAM_MEMBER_ADDED = "team.member_added", "Team member added"
    TEAM_MEMBER_REMOVED = "team.member_removed", "Team member removed"
    # Users and credentials
    USER_CREATED = "user.created", "User created"
    USER_PASSWORD_SET = "user.password_set", "Password set"
    API_KEY_CREATED = "api_key.created", "API key created"
    API_KEY_REVOKED = "api_key.revoked", "API key revoked"
    SESSIONS_REVOKED = "auth.sessions_revoked", "Sessions revoked"
    # Okta OAuth organization credentials and the members' connections
    CREDENTIAL_CREATED = "credential.created", "Okta OAuth credential added"
    CREDENTIAL_UPDATED = "credential.updated", "Okta OAuth credential changed"
    CREDENTIAL_DELETED = "credential.deleted", "Okta OAuth credential deleted"
    CREDENTIAL_TESTED = "credential.tested", "Okta OAuth credential tested (client credentials)"
    CREDENTIAL_TEST_FAILED = "credential.test_failed", "Okta OAuth credential test failed"
    CREDENTIAL_SERVICE_CREATED = "credential.service_created", "Credential service added"
    CREDENTIAL_SERVICE_UPDATED = "credential.service_updated", "Credential service changed"
    CREDENTIAL_SERVICE_DELETED = "credential.service_deleted", "Credential service deleted"
    CREDENTIAL_CONNECTED = "credential.connected", "Member connected a service through Okta"
    CREDENTIAL_REFRESHED = "credential.refreshed", "Member's service tokens refreshed"
    CREDENTIAL_RECONSENT_NEEDED = (
        "credential.reconsent_needed",
        "Member's service connection needs consent again",
    )
    CREDENTIAL_DISCONNECTED = "credential.disconnected", "Member disconnected a service"
    CREDENTIAL_TOKEN_ISSUED = "credential.token_issued", "Access token issued to a run"
    CREDENTIAL_TOKEN_REFUSED = "credential.token_refused", "Access token refused to a run"
    CREDENTIAL_MEMBER_REVOKED = (
        "credential.member_revoked",
        "Deactivated member's service tokens revoked and erased (receipt)",
    )
    CREDENTIAL_REVOCATION_FAILED = (
        "credential.revocation_failed",
        "Okta refused or did not answer a token revocation (retried)",
    )
    CREDENTIAL_REVOCATION_DONE = (
        "credential.revocation_done",
        "A token revocation retried later went through",
    )
    ENCRYPTION_KEYS_ROTATED = "encryption.keys_rotated", "Stored secrets re-encrypted"
    # The MCP gateway's registry of upstream servers
    MCP_SERVER_CREATED = "mcp_server.created", "MCP server added"
    MCP_SERVER_UPDATED = "mcp_server.updated", "MCP server changed"
    MCP_SERVER_DELETED = "mcp_server.deleted", "MCP server deleted"
    MCP_SERVER_HEALTH_CHANGED = "mcp_server.health_changed", "MCP server went down or came back"
    MCP_TOOL_ADDED = "mcp_tool.added", "An MCP server exposes a new tool"
    MCP_TOOL_CHANGED = "mcp_tool.changed", "An MCP tool's description or input schema changed"
    MCP_TOOL_REMOVED = "mcp_tool.removed", "An MCP server no longer exposes a tool"
    MCP_TOOL_RULE_CREATED = "mcp_tool_rule.created", "MCP tool rule added"
    MCP_TOOL_RULE_DELETED = "mcp_tool_rule.deleted", "MCP tool rule removed"
    MCP_TOKEN_CREATED = "mcp_token.created", "Gateway token minted"
    MCP_TOKEN_REVOKED = "mcp_token.revoked", "Gateway token revoked"
    # Sign-in
    LOGIN_SUCCEEDED = "auth.login_succeeded", "Password sign-in succeeded"
    LOGIN_FAILED = "auth.login_failed", "Password sign-in failed"
    LOGOUT = "auth.logout", "Signed out"
    # Single sign-on
    SSO_LOGIN_SUCCEEDED = "sso.login_succeeded", "SSO sign-in succeeded"
    SSO_LOGIN_FAILED = "sso.login_failed", "SSO sign-in failed"
    SSO_CONFIG_CHANGED = "sso.config_changed", "SSO configuration changed"
    SSO_REQUIRE_CHANGED = "sso.require_changed", "Require SSO changed"
    SSO_TEST_SUCCEEDED = "sso.test_succeeded", "SSO test login succeeded"
    SSO_TEST_FAILED = "sso.test_failed", "SSO test login failed"
    SSO_BREAK_GLASS_LOGIN = "sso.break_glass_login", "Break-glass password sign-in (SSO required)"
    SSO_IDENTITY_LINKED = "sso.identity_linked", "SSO identity linked to a user"
    # SCIM provisioning
    SCIM_TOKEN_CREATED = "scim.token_created", "SCIM token created"
    SCIM_TOKEN_REVOKED = "scim.token_revoked", "SCIM token revoked"
    SCIM_USER_CREATED = "scim.user_created", "SCIM: user provisioned"
    SCIM_USER_UPDATED = "scim.user_updated", "SCIM: user updated"
    SCIM_USER_DELETED = "scim.user_deleted", "SCIM: user deprovisioned (deleted)"
    SCIM_GROUP_CREATED = "scim.group_created", "SCIM: group created"
    SCIM_GROUP_UPDATED = "scim.group_updated", "SCIM: group updated"
    SCIM_GROUP_DELETED = "scim.group_deleted", "SCIM: group deleted"
    # SCIM role/team mapping (names from the product specification)
    SCIM_USER_ROLE_CHANGED = "scim.user_role_changed", "SCIM: user's roles changed"
    SCIM_USER_TEAM_CHANGED = "scim.user_team_changed", "SCIM: user's teams changed"
    SCIM_ROLE_MAPPING_UPDATED = "scim.role_mapping_updated", "SCIM: role mapping updated"
    SCIM_TEAM_MAPPING_UPDATED = "scim.team_mapping_updated", "SCIM: team mapping updated"
    SCIM_USE_MAPPING_TABLE_CHANGED = (
        "scim.use_mapping_table_changed",
        "SCIM: use-mapping-table toggle changed",
    )
    SCIM_AUTO_CREATED_ENTITY = "scim.auto_created_entity", "SCIM: role or team auto-created"
    SCIM_MAPPING_GROUP_SKIPPED = (
        "scim.mapping_group_skipped",
        "SCIM: a group the mapping sync could not apply was skipped",
    )


# Outcomes, for the audit log's filter: a refusal, a failure, or (every other event) something
# that was allowed and done.
DENIED_ACTIONS = frozenset({AuditAction.ACCESS_DENIED, AuditAction.LOGIN_FAILED})
FAILED_ACTIONS = frozenset(
    a for a in AuditAction if a.value.endswith("_failed") and a not in DENIED_ACTIONS
)
OUTCOMES = ("allowed", "denied", "failed")


def actions_matching(pattern: str) -> list[str]:
    """The registered names a filter means: an exact name, or every name under a prefix that
    ends in a dot (`scim.`)."""
    if pattern.endswith("."):
        return sorted(a.value for a in AuditAction if a.value.startswith(pattern))
    return [pattern] if pattern in AuditAction.values else []


def outcome_of(action: str) -> str:
    if action in DENIED_ACTIONS:
        return "denied"
    if action in FAILED_ACTIONS:
        return "failed"
    return "allowed"


# The published catalog (GET /api/v1/audit-events/catalog/): SIEM parsers are written against
# it. An action's version goes up when the shape of its `data` changes; every action starts at 1.
VERSIONS: dict[str, int] = {}

EVENT_FIELDS = {
    "id": "integer: the event's id, increasing (use it to deduplicate)",
    "occurred_at": "string: ISO 8601 time in UTC, microseconds",
    "action": "string: a name from this catalog",
    "actor_kind": "string: user, api_key, service_key, scim_token, mcp_token, system or anonymous",
    "actor_id": "string: the actor's id in its kind (empty for the system)",
    "actor_label": "string: the actor's e-mail or label, copied when the event was written",
    "target_type": "string: the resource type (team, membership, agent, ...)",
    "target_id": "string: the resource's id",
    "target_label": "string: the resource's name, copied when the event was written",
    "ip": "string or null: the client's address",
    "user_agent": "string: the client's user agent",
    "request_id": "string: the request's id (also its X-Request-ID header)",
    "data": "object: what changed, usually {old, new}; at most 16,384 characters of JSON",
    "leaf": "string: hex SHA-256 leaf hash of the event (tamper evidence)",
}


def catalog() -> list[dict[str, object]]:
    return [
        {
            "action": a.value,
            "description": a.label,
            "version": VERSIONS.get(a.value, 1),
            "category": a.value.split(".")[0],
            "outcome": outcome_of(a.value),
        }
        for a in sorted(AuditAction, key=lambda a: a.value)
    ]
