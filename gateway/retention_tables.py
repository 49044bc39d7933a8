"""What of the gateway's data expires (core.retention): a traced call's arguments and result are
payloads (zero data retention empties them, size and SHA-256 stay); the trace itself is
integration metadata, deleted once its payloads are gone. A legal hold on a member covers the
calls they made; one on a team, an agent or a workflow covers the calls of its runs. The daily
usage figures (gateway.usage) are integration metadata too, with no payload in them."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef

from core import retention


def _no_payloads_left(doomed: Any) -> Any:
    from gateway.models import ToolTracePayload

    left = ToolTracePayload.objects.filter(trace=OuterRef("pk"))
    if doomed is not None:
        left = left.exclude(doomed("gateway.ToolTracePayload"))
    return ~Exists(left)


def register() -> None:
    retention.table(
        category="payloads",
        model="gateway.ToolTracePayload",
        time="created_at",
        org="trace__org_id",
        size="content",
        zdr_column="content",
        zdr_flags=("trace__org__zero_data_retention",),
        member="trace__member_id",
        team="trace__team_id",
        agent="trace__agent_id",
        workflow="trace__workflow_id",
    )
    retention.table(
        category="integration_metadata",
        model="gateway.ToolTrace",
        time="at",
        org="org_id",
        only_when=_no_payloads_left,
        size="error",
        member="member_id",
        team="team_id",
        agent="agent_id",
        workflow="workflow_id",
    )
    # The daily usage figures, computed from the traces: they go with the same window.
    retention.table(
        category="integration_metadata",
        model="gateway.UsageDaily",
        time="day",
        org="org_id",
    )
