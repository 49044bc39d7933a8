"""What core.holds asks (GOVERNANCE_HOLD_CHECK): the active holds on an organization or on one
of its teams, members, agents or workflows."""

from __future__ import annotations

from typing import Any

from retention.models import LegalHold


def holds_covering(org: Any, scope: str, target_id: int | None) -> list[str]:
    holds = LegalHold.objects.filter(org=org, released_at__isnull=True, scope=scope)
    if scope != "org":
        holds = holds.filter(target_id=target_id)
    return [
        f"{h.case_reference or 'no case reference'}: {h.reason}"[:200]
        for h in holds.order_by("id")[:5]
    ]
