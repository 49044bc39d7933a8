"""The retention registry: every table that holds an organization's data says, in the app that
owns it, which retention category its rows belong to, their time column, and the paths a legal
hold follows (team, member, agent, workflow). Apps register in their AppConfig.ready(); the
retention app's engine reads only this, and a test fails when a model is in neither the
registry nor the list of exempt tables (configuration, not data), so a new table cannot escape
retention.

It sits in `core` (the bottom layer) so that every app can register without importing the
retention app above it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Category:
    key: str
    label: str
    default_days: int
    per_team: bool  # a team may override the window (run data)
    description: str


@dataclass(frozen=True)
class Table:
    """One table's rows in one category."""

    category: str
    model: str  # "app_label.ModelName"
    time: str  # the column whose age decides
    org: str  # the path to the organization's id
    where: Callable[[], Any] | None = None  # a Q: which of the table's rows are in it
    team: str | None = None
    member: str | None = None
    agent: str | None = None
    workflow: str | None = None
    size: str | None = None  # a text column whose length counts as the row's bytes
    # Zero data retention: the column emptied (the row kept), and the flags that switch it on.
    zdr_column: str | None = None
    zdr_flags: tuple[str, ...] = ()
    # Deleted only when what refers to it is gone or doomed too (a run, with its events):
    # called with doomed(label), the condition a row of that model is deleted under, it
    # returns a Q;
    # called with None (enforcing, dependants already walked), "nothing left".
    only_when: Callable[[Callable[[str], Any]], Any] | None = None
    # Not purged row by row: the audit log goes by whole sealed segments.
    enforced: bool = True
    # Nothing refers to its rows once `only_when` holds: one written-out DELETE by primary key
    # (core.rows.delete_ids) instead of Django's delete collector.
    written_delete: bool = False


CATEGORIES: dict[str, Category] = {}
TABLES: list[Table] = []
EXEMPT: dict[str, str] = {}  # "app_label.ModelName" -> why it holds no data to expire


def category(*, key: str, label: str, default_days: int, per_team: bool, description: str) -> None:
    if key in CATEGORIES:
        raise ValueError(f"Retention category {key!r} is registered twice.")
    CATEGORIES[key] = Category(key, label, default_days, per_team, description)


def table(**fields: Any) -> None:
    entry = Table(**fields)
    if entry.category not in CATEGORIES:
        raise ValueError(f"{entry.model}: register category {entry.category!r} first.")
    TABLES.append(entry)


def exempt(model: str, reason: str) -> None:
    EXEMPT[model] = reason
