"""/api/v1/scim/mapping/: bad input gets a clear error and changes nothing; tenancy holds."""

from __future__ import annotations

import pytest
from django.test import Client

from mapping.models import GroupMapping, MappingSyncJob
from orgs.services.api_keys import api_key_create
from orgs.services.roles import custom_role_create
from scim.adapters import GroupChange
from scim.services.groups import scim_group_create
from scim.services.tokens import scim_token_create
from tests.conftest import api

BASE = "/api/v1/scim/mapping/"


@pytest.fixture
def setup(org, other_org, api_key):
    token, _ = scim_token_create(org=org, actor=None)
    other_token, _ = scim_token_create(org=other_org, actor=None)
    return {
        "group": scim_group_create(org=org, change=GroupChange(display_name="eng"), actor=token),
        "other_group": scim_group_create(
            org=other_org, change=GroupChange(display_name="eng"), actor=other_token
        ),
        "role": custom_role_create(org=org, name="Builder", actor=None),
        "other_role": custom_role_create(org=other_org, name="Builder", actor=None),
        "key": api_key,
    }


def put_rows(setup, rows, direction="roles"):
    return api(Client(), "PUT", f"{BASE}{direction}/rows/", setup["key"], {"rows": rows})


@pytest.mark.parametrize(
    ("rows", "words"),
    [
        ([{"group_id": "nope", "role_id": 1}], "Row 1: no IdP group"),
        ([{"group_id": "OTHER", "role_id": "ROLE"}], "Row 1: no IdP group"),
        ([{"group_id": "GROUP", "role_id": "OTHER_ROLE"}], "Row 1: no custom role"),
        ([{"group_id": "GROUP", "team_id": "ROLE"}], "names its target as 'role_id'"),
        ([{"group_id": "GROUP"}], "names its target as 'role_id'"),
        ([{"group_id": "GROUP", "role_id": "x"}], "role_id"),
        ("not a list", "rows"),
    ],
)
def test_bad_rows_are_refused_by_row_and_change_nothing(setup, rows, words):
    swap = {
        "GROUP": str(setup["group"].uid),
        "OTHER": str(setup["other_group"].uid),
        "ROLE": setup["role"].pk,
        "OTHER_ROLE": setup["other_role"].pk,
    }
    if isinstance(rows, list):
        rows = [{k: swap.get(v, v) for k, v in r.items()} for r in rows]
    r = put_rows(setup, rows)
    assert r.status_code == 400, r.content
    assert words in r.json()["error"]["message"] or words in str(r.json())
    assert not GroupMapping.objects.exists() and not MappingSyncJob.objects.exists()


def test_malformed_json_unknown_direction_and_other_orgs_job(setup, other_org):
    c = Client()
    r = c.put(
        f"{BASE}roles/rows/",
        "{nope",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {setup['key']}",
    )
    assert r.status_code == 400
    assert api(c, "PUT", f"{BASE}robots/rows/", setup["key"], {"rows": []}).status_code == 404
    job = MappingSyncJob.objects.create(org=other_org, trigger="manual")
    assert api(c, "GET", f"{BASE}sync/{job.pk}/", setup["key"]).status_code == 404
    assert (
        api(
            c, "PUT", f"{BASE}roles/mode/", setup["key"], {"use_mapping_table": "maybe"}
        ).status_code
        == 400
    )


def test_a_member_without_the_scim_capability_is_refused(org, member):
    _, key = api_key_create(membership=member, actor=None)
    r = api(Client(), "GET", BASE, key)
    assert r.status_code == 403 and "admin.scim" in r.json()["error"]["message"]


def test_settings_read_back_with_rows_and_the_last_sync(setup, django_capture_on_commit_callbacks):
    row = {"group_id": str(setup["group"].uid), "role_id": setup["role"].pk}
    with django_capture_on_commit_callbacks(execute=True):
        assert put_rows(setup, [row, row]).json()["changed"] is True  # a duplicate row counts once
    body = api(Client(), "GET", BASE, setup["key"]).json()
    assert body["roles"]["rows"] == [{**row, "group": "eng", "role": "Builder"}]
    assert body["teams"] == {"use_mapping_table": True, "rows": []}
    assert (
        body["last_sync"]["status"] == "done" and body["last_sync"]["trigger"] == "table_replaced"
    )
    assert put_rows(setup, [row]).json() == {"changed": False, "sync": None}


def test_preview_of_a_table_edit_and_of_a_flip(setup, org):
    row = {"group_id": str(setup["group"].uid), "role_id": setup["role"].pk}
    r = api(Client(), "POST", f"{BASE}roles/preview/", setup["key"], {"rows": [row]})
    assert r.status_code == 200 and r.json()["members_changing"] == 0
    r = api(Client(), "POST", f"{BASE}teams/preview/", setup["key"], {"use_mapping_table": False})
    # Name-based mode makes a team for every unmatched pushed group, members or not.
    assert r.json()["use_mapping_table"] is False and r.json()["auto_create"] == ["eng"]
    assert not GroupMapping.objects.exists()  # a preview writes nothing


def test_drift_lists_unmapped_groups_ungranted_targets_and_hand_made_access(setup):
    body = api(Client(), "GET", f"{BASE}drift/", setup["key"]).json()
    assert body["roles"]["unmapped_groups"] == [{"group": "eng", "members": 0}]
    assert body["roles"]["ungranted_targets"] == ["Builder"]
    assert body["roles"]["hand_made"] == []
