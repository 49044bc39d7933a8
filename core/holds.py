"""Legal holds, as the lower layers see them: "does a hold cover this?" Holds belong to the
retention app, above the apps whose deletions they must stop (deleting a team, an agent or a
workflow would cut its runs loose from the hold that follows them; pruning a log would delete
held rows). The project wires the answer in settings, the way Django wires authentication
backends: GOVERNANCE_HOLD_CHECK names the function, and without it nothing is held."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from core.exceptions import Conflict


def holds_covering(org: Any, scope: str, target_id: int | None = None) -> list[str]:
    """The active holds on this organization (scope "org") or on one of its teams, members,
    agents or workflows, each described in words; [] when none."""
    path = getattr(settings, "GOVERNANCE_HOLD_CHECK", "")
    if not path:
        return []
    return list(import_string(path)(org, scope, target_id))


def refuse_if_held(org: Any, scope: str, target_id: int, what: str) -> None:
    """A Conflict naming the hold when one covers what is about to be deleted."""
    held = holds_covering(org, scope, target_id)
    if held:
        raise Conflict(
            f"{what} is under a legal hold ({'; '.join(held)}): its data must be kept. "
            "Release the hold first, on the Data retention page."
        )
