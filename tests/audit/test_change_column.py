"""The audit log's Change column shows values as people read them, never Python reprs."""

from __future__ import annotations

from audit.templatetags.audit_tags import audit_change


def test_nested_values_are_readable():
    lines = audit_change(
        {
            "old": {"role": "member", "teams": []},
            "new": {"role": "admin", "teams": ["Data", "Ops"]},
            "mapping_rows_removed": [{"direction": "roles", "target": "Builder"}],
            "verified": True,
            "detail": {"method": "dns"},
        }
    )
    assert lines == [
        "role: member → admin",
        "teams: ∅ → Data, Ops",
        "mapping_rows_removed: (direction=roles, target=Builder)",
        "verified: yes",
        "detail: (method=dns)",
    ]
    assert not any("{" in line or "'" in line for line in lines)
