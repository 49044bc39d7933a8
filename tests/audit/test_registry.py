from __future__ import annotations

import enum

import pytest
from django.db import models

from audit.choices import AuditAction


def test_a_duplicate_event_name_is_rejected_at_import():
    with pytest.raises(ValueError, match="duplicate values"):

        @enum.unique
        class Broken(models.TextChoices):
            A = "member.added", "A"
            B = "member.added", "B"


def test_registry_names_are_stable_dotted_and_unique():
    values = AuditAction.values
    assert len(values) == len(set(values))
    assert all("." in v and v == v.lower() for v in values)
    # Names the product specification fixes.
    for name in [
        "SCIM_USER_ROLE_CHANGED",
        "SCIM_USER_TEAM_CHANGED",
        "SCIM_ROLE_MAPPING_UPDATED",
        "SCIM_TEAM_MAPPING_UPDATED",
        "SCIM_USE_MAPPING_TABLE_CHANGED",
        "SCIM_AUTO_CREATED_ENTITY",
    ]:
        assert name in AuditAction.__members__


def test_unknown_action_is_refused(org):
    from django.db import transaction

    from audit.services import audit_record

    with pytest.raises(ValueError), transaction.atomic():
        audit_record(action="member.teleported", org=org, actor=None)
