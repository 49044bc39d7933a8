"""What of the workspace's data expires, and how (core.retention): a run's log lines by the
run's kind (agent or workflow run logs), its tool calls (integration metadata), its input and
output content (payloads; zero data retention empties the content and keeps size and SHA-256),
and the run itself once nothing of it is left. Definitions and settings do not expire."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, Q

from core import retention


def _left(qs: Any, doomed: Any, label: str) -> Any:
    """What is left of a row's dependants: all of them, or (planning) the ones not doomed
    (`doomed(label)` is the condition a row of that model is deleted under)."""
    return qs if doomed is None else qs.exclude(doomed(label))


def _no_rows_left(doomed: Any) -> Q:
    """A run goes once its events and payloads are gone, or go in the same run."""
    from workspace.models import RunEvent, RunPayload

    return Q(
        ~Exists(_left(RunEvent.objects.filter(run=OuterRef("pk")), doomed, "workspace.RunEvent")),
        ~Exists(
            _left(RunPayload.objects.filter(run=OuterRef("pk")), doomed, "workspace.RunPayload")
        ),
    )


def _no_payloads_left(doomed: Any) -> Q:
    """A log line or tool call goes once its payloads are gone, or go in the same run."""
    from workspace.models import RunPayload

    return ~Exists(
        _left(RunPayload.objects.filter(event=OuterRef("pk")), doomed, "workspace.RunPayload")
    )


def register() -> None:
    for kind, label in (("agent", "Agent run logs"), ("workflow", "Workflow run logs")):
        retention.category(
            key=f"{kind}_run_logs",
            label=label,
            default_days=90,
            per_team=True,
            description=f"Runs of {kind}s and their log lines.",
        )
    retention.category(
        key="payloads",
        label="Input and output content",
        default_days=30,
        per_team=True,
        description="What went into and came out of runs and their tool calls.",
    )
    retention.category(
        key="integration_metadata",
        label="Integration metadata",
        default_days=90,
        per_team=True,
        description="Tool calls: which integration, which action, latency, outcome.",
    )
    held = {
        "team": "run__team_id",
        "member": "run__member_id",
        "agent": "run__agent_id",
        "workflow": "run__workflow_id",
    }
    # Payloads first, then the rows they hang from (enforcement goes in this order).
    retention.table(
        category="payloads",
        model="workspace.RunPayload",
        time="created_at",
        org="run__org_id",
        size="content",
        zdr_column="content",
        zdr_flags=(
            "run__org__zero_data_retention",
            "run__agent__zero_data_retention",
            "run__workflow__zero_data_retention",
        ),
        **held,
    )
    for kind in ("agent", "workflow"):
        is_kind = (
            (lambda: Q(run__workflow__isnull=True))
            if kind == "agent"
            else (lambda: Q(run__workflow__isnull=False))
        )
        retention.table(
            category=f"{kind}_run_logs",
            model="workspace.RunEvent",
            time="at",
            org="run__org_id",
            where=(lambda is_kind=is_kind: Q(kind="log") & is_kind()),
            only_when=_no_payloads_left,
            written_delete=True,
            size="message",
            **held,
        )
    retention.table(
        category="integration_metadata",
        model="workspace.RunEvent",
        time="at",
        org="run__org_id",
        where=lambda: Q(kind="tool_call"),
        only_when=_no_payloads_left,
        written_delete=True,
        size="message",
        **held,
    )
    # A run goes with its last row: after its log lines, tool calls and payloads (each on its
    # own window) are gone, and once its own kind's window has passed.
    for kind in ("agent", "workflow"):
        retention.table(
            category=f"{kind}_run_logs",
            model="workspace.Run",
            time="started_at",
            org="org_id",
            where=(
                (lambda: Q(workflow__isnull=True))
                if kind == "agent"
                else (lambda: Q(workflow__isnull=False))
            ),
            only_when=_no_rows_left,
            team="team_id",
            member="member_id",
            agent="agent_id",
            workflow="workflow_id",
        )
    for model in (
        "IntegrationConnection",
        "Agent",
        "Workflow",
        "AgentVersion",
        "WorkflowVersion",
        "AgentUserShare",
        "AgentTeamShare",
        "WorkflowUserShare",
        "WorkflowTeamShare",
        "Schedule",
    ):
        retention.exempt(f"workspace.{model}", "a definition or setting, not recorded activity")
