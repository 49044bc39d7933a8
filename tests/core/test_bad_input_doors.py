"""Bad input through every door (dashboard forms, the REST API, SCIM, SSO settings, management
commands) is a clear 400 that changes nothing: NUL characters and unpaired surrogates anywhere
(path, query, form field, JSON string or key), date-times with extreme offsets, non-ASCII digits
and 100,000-digit numbers, and text longer than its column. Each test compares the state before
and after."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from audit.models import AuditEvent
from identity.models import User
from mapping.models import GroupMapping
from orgs.models import ApiKey, CustomRole, Membership, Team
from scim.models import ScimRequestError
from scim.services.errors import scim_error_record
from scim.services.tokens import scim_token_create
from sso.models import SsoConnection
from sso.services.config import sso_connection_ensure
from tests.scim.conftest import ERROR_URN, USER_URN

pytestmark = pytest.mark.django_db

SURROGATE = "\ud800"
HUGE = "9" * 100_000


def state() -> dict[str, Any]:
    conn = SsoConnection.objects.filter(org__slug="acme").values().first() or {}
    return {
        "users": list(User.objects.order_by("pk").values_list("email", "full_name")),
        "members": list(Membership.objects.order_by("pk").values_list("role", "is_active")),
        "roles": list(CustomRole.objects.order_by("pk").values_list("name", "description")),
        "teams": Team.objects.count(),
        "keys": list(ApiKey.objects.order_by("pk").values_list("label", "revoked_at")),
        "audit": AuditEvent.objects.count(),
        "mapping": GroupMapping.objects.count(),
        "sso": {k: v for k, v in conn.items() if k.startswith(("attr_", "oidc_"))},
    }


def raw_json(client: Client, method: str, path: str, body: str, **extra: Any) -> Any:
    return getattr(client, method)(path, body, content_type="application/json", **extra)


def bearer(key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


@pytest.fixture
def scim_secret(org, admin) -> str:
    return scim_token_create(org=org, label="Okta", actor=None)[1]


# ---- NUL characters and unpaired surrogates ------------------------------------------------


def test_a_nul_in_a_scim_path_is_a_scim_400_and_the_error_log_still_works(scim_secret):
    before = state()
    r = Client().get("/scim/v2/Users/%00", **bearer(scim_secret))
    assert r.status_code == 400
    body = r.json()
    assert body["schemas"] == [ERROR_URN] and body["scimType"] == "invalidValue"
    assert "URL path contains a NUL" in body["detail"]
    assert state() == before
    # The error log itself stores what it is given, made storable.
    token = scim_token_create(org=Membership.objects.first().org, actor=None)[0]
    scim_error_record(
        token=token,
        method="GET",
        path="/x/\x00/" + SURROGATE,
        status=400,
        scim_type=None,
        detail="bad \x00",
    )
    assert ScimRequestError.objects.get().path == "/x/\ufffd/?"


@pytest.mark.parametrize(
    "path", ["/api/v1/members/%00/", "/o/acme/members/%00/", "/scim/v2/Groups/a%00b"]
)
def test_a_nul_in_any_path_is_400(admin_client, path):
    r = admin_client.get(path)
    assert r.status_code == 400 and "NUL" in r.content.decode()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/members/", '{"email": "a\\ud800@acme.example"}'),
        ("post", "/api/v1/members/", '{"email": "b@acme.example", "full_name": "x\\udfff"}'),
        ("post", "/api/v1/members/", '{"email": "b@acme.example", "role": "admin\\ud83d"}'),
        ("post", "/api/v1/roles/", '{"name": "R", "permissions": ["agents.build\\udc00"]}'),
        ("post", "/api/v1/roles/", '{"name": "R\\u0000"}'),
        ("post", "/api/v1/teams/", '{"name\\ud800": "T"}'),
        ("patch", "/api/v1/members/MEMBER/", '{"role": "\\udfffmember"}'),
    ],
)
def test_rest_api_json_with_a_surrogate_or_nul_is_400_and_changes_nothing(
    api_key, member, method, path, body
):
    before = state()
    r = raw_json(Client(), method, path.replace("MEMBER", str(member.pk)), body, **bearer(api_key))
    assert r.status_code == 400, r.content
    message = r.json()["error"]["message"]
    assert "JSON body at" in message and ("surrogate" in message or "NUL" in message)
    assert state() == before


def test_a_paired_surrogate_escape_is_just_an_emoji(api_key):
    r = raw_json(
        Client(), "post", "/api/v1/teams/", '{"name": "Rockets \\ud83d\\ude80"}', **bearer(api_key)
    )
    assert r.status_code == 201 and r.json()["name"] == "Rockets \U0001f680"


def test_scim_json_with_a_nul_is_a_scim_400(scim_secret):
    before = state()
    body = json.dumps({"schemas": [USER_URN], "userName": "ada\u0000@acme.example"})
    r = Client().post(
        "/scim/v2/Users", body, content_type="application/scim+json", **bearer(scim_secret)
    )
    assert r.status_code == 400 and r.json()["scimType"] == "invalidValue"
    assert "$.userName" in r.json()["detail"]
    assert state() == before


def test_a_nul_in_a_saml_attribute_name_form_field_is_400(admin_client, org, admin):
    sso_connection_ensure(org=org, actor=None)
    before = state()
    r = admin_client.post(
        "/o/acme/settings/sso/saml/settings/", {"attr_email": "em\x00ail", "attr_groups": "g"}
    )
    assert r.status_code == 400 and "form field 'attr_email'" in r.content.decode()
    assert state() == before


def test_a_management_command_refuses_an_argument_that_is_not_utf8(db):
    err = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command(
            "org_create",
            "acme",
            name="Acme \udcff",
            admin_email="a@acme.example",
            stderr=err,
            stdout=io.StringIO(),
        )
    assert exit_.value.code == 2
    assert "unpaired surrogate" in json.loads(err.getvalue())["error"]
    assert not Membership.objects.exists() and not AuditEvent.objects.exists()


# ---- Dates, digits and huge numbers ---------------------------------------------------------


@pytest.mark.parametrize(
    "query", ["since=0001-01-01T00:00%2B23:59", "until=9999-12-31T23:59-23:59", "since=2026-13-01"]
)
def test_extreme_dates_in_audit_filters_are_a_clear_400(admin_client, api_key, query):
    page = admin_client.get(f"/o/acme/audit/?{query}")
    assert page.status_code == 400 and "between the years 1 and 9999" in page.content.decode()
    api = Client().get(f"/api/v1/audit-events/?{query}", **bearer(api_key))
    assert api.status_code == 400 and "between the years 1 and 9999" in api.content.decode()


def test_a_date_with_a_large_offset_that_exists_in_utc_is_accepted(admin_client):
    assert admin_client.get("/o/acme/audit/?since=2026-01-01T00:00%2B23:59").status_code == 200


@pytest.mark.parametrize("cursor", ["²", "٣", HUGE, "-1"])
def test_an_audit_page_cursor_that_is_not_an_id_is_400(admin_client, cursor):
    r = admin_client.get("/o/acme/audit/", {"before": cursor})
    assert r.status_code == 400 and "is not an event id" in r.content.decode()


@pytest.mark.parametrize("target", ["²", "٣", HUGE])
def test_mapping_rows_with_a_target_that_is_not_an_id_are_refused(admin_client, org, target):
    before = state()
    r = admin_client.post(
        "/o/acme/settings/scim/mapping/save/",
        {"direction": "roles", "roles-group": ["eng"], "roles-target": [target]},
        follow=True,
    )
    assert r.status_code == 200 and "needs both an IdP group and a target" in r.content.decode()
    assert state() == before


@pytest.mark.parametrize("value", ["²", "1.5", "0x10", "٣"])
def test_scim_paging_numbers_must_be_ascii_integers(scim_secret, value):
    r = Client().get("/scim/v2/Users", {"count": value}, **bearer(scim_secret))
    assert r.status_code == 400 and r.json()["scimType"] == "invalidValue"


def test_a_huge_scim_start_index_is_an_empty_page_and_a_huge_count_is_capped(scim_secret):
    r = Client().get("/scim/v2/Users", {"startIndex": HUGE}, **bearer(scim_secret))
    assert r.status_code == 200 and r.json()["Resources"] == []
    r = Client().get("/scim/v2/Users", {"count": HUGE}, **bearer(scim_secret))
    assert r.status_code == 200 and r.json()["itemsPerPage"] <= 200


def test_a_100000_digit_number_in_a_json_body_is_400(api_key, member):
    before = state()
    r = raw_json(
        Client(),
        "post",
        f"/api/v1/members/{member.pk}/roles/",
        f'{{"id": {HUGE}}}',
        **bearer(api_key),
    )
    assert r.status_code == 400
    assert state() == before


# ---- Oversized text is refused, never cut short ----------------------------------------------


def test_a_saml_attribute_name_over_300_characters_is_refused(admin_client, org, admin):
    sso_connection_ensure(org=org, actor=None)
    before = state()
    r = admin_client.post(
        "/o/acme/settings/sso/saml/settings/", {"attr_email": "e" * 301}, follow=True
    )
    assert "at most 300 are allowed" in r.content.decode()
    assert state() == before


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        ("/api/v1/api-keys/", {"label": "k" * 101}, "no more than 100"),
        ("/api/v1/roles/", {"name": "R", "description": "d" * 301}, "300"),
        ("/api/v1/members/", {"email": "long@acme.example", "full_name": "n" * 201}, "200"),
    ],
)
def test_oversized_text_through_the_api_is_refused(api_key, path, body, words):
    before = state()
    r = Client().post(path, body, content_type="application/json", **bearer(api_key))
    assert r.status_code == 400 and words in r.content.decode()
    assert state() == before


def test_a_scim_name_longer_than_the_column_is_refused(scim_secret):
    before = state()
    body = {
        "schemas": [USER_URN],
        "userName": "ada@acme.example",
        "name": {"givenName": "A" * 150, "familyName": "B" * 150},
    }
    r = Client().post(
        "/scim/v2/Users",
        json.dumps(body),
        content_type="application/scim+json",
        **bearer(scim_secret),
    )
    assert r.status_code == 400 and "at most 200" in r.json()["detail"]
    assert state() == before
