"""The audit event registry (audit.choices.AuditAction) is the one list of event names."""

from __future__ import annotations

import enum
import re
from pathlib import Path

import pytest
from django.db import transaction

from audit.choices import AuditAction
from audit.models import AuditEvent
from audit.services import audit_record

ROOT = Path(__file__).resolve().parents[2]


def test_the_registry_has_no_aliases_so_every_name_is_one_event():
    """A second member with an existing value would silently become an alias of the first
    (TextChoices), and iteration would hide it: __members__ shows every name."""
    assert len(AuditAction.__members__) == len(list(AuditAction))
    assert enum.unique(AuditAction) is AuditAction  # raises ValueError on any alias


def test_names_are_stable_dotted_lower_case_and_fit_the_column():
    width = AuditEvent._meta.get_field("action").max_length
    for action in AuditAction:
        assert re.fullmatch(r"[a-z_]+\.[a-z_]+", action.value), action
        assert len(action.value) <= width, action
        assert action.label, action
    # Names the product specification fixes.
    for name, value in [
        ("SCIM_USER_ROLE_CHANGED", "scim.user_role_changed"),
        ("SCIM_USER_TEAM_CHANGED", "scim.user_team_changed"),
        ("SCIM_ROLE_MAPPING_UPDATED", "scim.role_mapping_updated"),
        ("SCIM_TEAM_MAPPING_UPDATED", "scim.team_mapping_updated"),
        ("SCIM_USE_MAPPING_TABLE_CHANGED", "scim.use_mapping_table_changed"),
        ("SCIM_AUTO_CREATED_ENTITY", "scim.auto_created_entity"),
    ]:
        assert AuditAction[name].value == value


def test_every_event_name_the_code_spells_out_is_registered():
    """Code names events through AuditAction; a literal 'x.y' event name anywhere in the apps
    must at least be one the registry knows (a typo would record nothing findable)."""
    known = set(AuditAction.values)
    apps = ["audit", "auditlog", "core", "governance", "identity", "mapping", "orgs", "scim", "sso"]
    spelled = set()
    for app in apps:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts or path.name == "choices.py":
                continue
            spelled |= set(re.findall(r'action="([a-z_]+\.[a-z_]+)"', path.read_text()))
    assert spelled <= known, spelled - known


def test_unknown_action_is_refused_and_nothing_is_written(org):
    before = AuditEvent.objects.count()
    refused = r"'member\.teleported' is not a registered audit event"
    with pytest.raises(ValueError, match=refused), transaction.atomic():
        audit_record(action="member.teleported", org=org, actor=None)
    assert AuditEvent.objects.count() == before


def test_a_registered_name_given_as_text_is_recorded(org):
    with transaction.atomic():
        event = audit_record(action="team.created", org=org, actor=None)
    assert event.pk is not None and event.action == AuditAction.TEAM_CREATED
