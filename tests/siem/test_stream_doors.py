"""The doors to audit streams: the pages (list, add, edit, send a test event, pause, resume,
rotate the webhook secret, delete) and /api/v1/audit-streams/. Each write is audited without its
secret; the signing secret is shown once; bad input is a clear 400 that changes nothing; another
organization's stream is a 404 on every door."""

from __future__ import annotations

import pytest
from django.test import Client

from siem.models import AuditStream
from siem.services import Spec, destination_create
from tests.conftest import api, assert_audited, audit_count

pytestmark = pytest.mark.django_db

CREATE = {"kind": "webhook", "name": "Tines", "endpoint": "https://localhost:9443/hook"}


def test_page_adds_a_webhook_and_shows_its_secret_once(admin_client, org):
    r = admin_client.post("/o/acme/audit/streams/", CREATE)
    assert r.status_code == 200 and "no-store" in r["Cache-Control"]
    stream = AuditStream.objects.get(org=org, name="Tines")
    body = r.content.decode()
    secret = body.split('id="new-secret">')[1].split("<")[0]
    assert secret.startswith("whsec_") and secret not in stream.secret  # encrypted at rest
    listing = admin_client.get("/o/acme/audit/streams/").content.decode()
    assert "Tines" in listing and secret not in listing
    event = assert_audited("audit_stream.created", org=org, target_label="Tines")
    assert event.data["new"]["endpoint"] == CREATE["endpoint"] and "secret" not in str(event.data)
    detail = admin_client.get(f"/o/acme/audit/streams/{stream.pk}/").content.decode()
    assert "up to date" in detail and secret not in detail


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"endpoint": "http://localhost:9443/hook"}, "must be an https:// URL"),
        ({"endpoint": ""}, "endpoint is required"),
        ({"name": ""}, "Give the destination a name"),
        ({"kind": "kafka"}, "The kind is syslog, webhook or hec"),
        ({"kind": "hec"}, "The HEC token is required"),
        ({"kind": "syslog", "endpoint": "siem.example.com:99999"}, "between 1 and 65535"),
        ({"kind": "syslog", "endpoint": "not a host"}, "is not host:port"),
        ({"ca_pem": "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----"}, "PEM"),
        ({"actions": "nope.nothing"}, "Unknown action"),
        ({"outcome": "maybe"}, "Unknown outcome"),
    ],
)
def test_page_refuses_bad_settings_and_changes_nothing(admin_client, org, changes, message):
    r = admin_client.post("/o/acme/audit/streams/", {**CREATE, **changes})
    assert r.status_code == 400
    assert message in r.content.decode()
    assert not AuditStream.objects.exists() and audit_count(action="audit_stream.created") == 0


def test_a_private_address_is_refused_unless_the_deployment_allows_it(admin_client, settings):
    settings.SIEM_ALLOW_PRIVATE_DESTINATIONS = False
    r = admin_client.post("/o/acme/audit/streams/", CREATE)
    assert r.status_code == 400
    assert "GOVERNANCE_SIEM_ALLOW_PRIVATE_DESTINATIONS=1" in r.content.decode()
    r = admin_client.post(
        "/o/acme/audit/streams/", {**CREATE, "endpoint": "https://169.254.169.254/latest"}
    )
    assert r.status_code == 400 and not AuditStream.objects.exists()


def _hec(org):
    stream, _ = destination_create(
        org=org,
        actor=None,
        kind="hec",
        spec=Spec(name="Splunk", endpoint="https://localhost:8088", token="tok-1"),
    )
    return stream


def test_page_edits_keep_the_token_when_left_blank_and_audit_old_and_new(admin_client, org):
    stream = _hec(org)
    r = admin_client.post(
        f"/o/acme/audit/streams/{stream.pk}/",
        {
            "name": "Splunk",
            "endpoint": "https://localhost:8088",
            "actions": ["scim.", "access.denied"],
            "outcome": "",
            "hec_sourcetype": "gov:audit",
        },
    )
    assert r.status_code == 302
    stream.refresh_from_db()
    from core import crypto

    assert crypto.decrypt(stream.secret) == "tok-1"
    assert stream.actions == ["scim.", "access.denied"] and stream.hec_sourcetype == "gov:audit"
    event = assert_audited("audit_stream.updated", org=org)
    assert event.data["old"]["actions"] == [] and event.data["new"]["actions"][0] == "scim."
    assert "tok-1" not in str(event.data)


def test_page_pause_resume_rotate_and_delete(admin_client, org):
    stream, _ = destination_create(
        org=org,
        actor=None,
        kind="webhook",
        spec=Spec(**{k: v for k, v in CREATE.items() if k != "kind"}),
    )
    base = f"/o/acme/audit/streams/{stream.pk}"
    assert admin_client.post(f"{base}/pause/").status_code == 302
    assert "paused" in admin_client.get(f"{base}/").content.decode()
    assert admin_client.post(f"{base}/resume/").status_code == 302
    old = AuditStream.objects.get(pk=stream.pk).secret
    r = admin_client.post(f"{base}/rotate/")
    assert r.status_code == 200 and "whsec_" in r.content.decode()
    assert AuditStream.objects.get(pk=stream.pk).secret != old
    assert admin_client.post(f"{base}/delete/").status_code == 302
    assert not AuditStream.objects.filter(pk=stream.pk).exists()
    for action in ("paused", "resumed", "secret_rotated", "deleted"):
        assert_audited(f"audit_stream.{action}", org=org)


def test_send_test_event_reports_a_failure_in_words_and_audits_it(admin_client, org):
    stream = _hec(org)  # nothing listens on localhost:8088
    r = admin_client.post(f"/o/acme/audit/streams/{stream.pk}/test/", follow=True)
    assert "The test record was not delivered: Cannot reach the HTTP Event Collector" in (
        r.content.decode()
    )
    assert_audited("audit_stream.test_failed", org=org)


def test_another_organizations_stream_is_404_on_every_door(org, other_org, make_member):
    stream = _hec(org)
    boss = make_member(other_org, "boss@globex.example", "admin")
    client = Client()
    client.force_login(boss.user)
    from orgs.services.api_keys import api_key_create

    _, key = api_key_create(membership=boss, actor=None)
    for suffix in ("", "test/", "pause/", "resume/", "rotate/", "delete/"):
        path = f"/o/globex/audit/streams/{stream.pk}/{suffix}"
        assert client.post(path, {"name": "x"}).status_code == 404, path
    assert client.get(f"/o/globex/audit/streams/{stream.pk}/").status_code == 404
    base = f"/api/v1/audit-streams/{stream.pk}/"
    assert api(client, "GET", base, key).status_code == 404
    assert api(client, "PATCH", base, key, {"name": "mine"}).status_code == 404
    assert api(client, "DELETE", base, key).status_code == 404
    for action in ("pause/", "resume/", "test/", "rotate-secret/"):
        assert api(client, "POST", base + action, key).status_code == 404
    stream.refresh_from_db()
    assert stream.name == "Splunk" and not stream.paused
    assert audit_count(org_id=other_org.pk, action__startswith="audit_stream.") == 0


def test_api_creates_lists_reads_changes_and_deletes(client, org, api_key):
    r = api(client, "POST", "/api/v1/audit-streams/", api_key, {**CREATE, "start": "beginning"})
    assert r.status_code == 201 and r["Cache-Control"] == "no-store"
    made = r.json()
    assert made["signing_secret"].startswith("whsec_")
    assert made["stream"]["state"] == "up to date" and made["stream"]["cursor"]["seal"] == 0
    pk = made["stream"]["id"]
    listed = api(client, "GET", "/api/v1/audit-streams/", api_key).json()["results"]
    assert [s["name"] for s in listed] == ["Tines"] and "signing_secret" not in listed[0]
    r = api(
        client,
        "PATCH",
        f"/api/v1/audit-streams/{pk}/",
        api_key,
        {"actions": ["auth."], "outcome": "failed"},
    )
    assert r.status_code == 200 and r.json()["actions"] == ["auth."]
    r = api(client, "POST", f"/api/v1/audit-streams/{pk}/pause/", api_key)
    assert r.json()["paused"] is True and r.json()["state"] == "paused"
    r = api(client, "POST", f"/api/v1/audit-streams/{pk}/rotate-secret/", api_key)
    assert r.json()["signing_secret"] != made["signing_secret"]
    r = api(client, "POST", f"/api/v1/audit-streams/{pk}/test/", api_key)
    assert r.status_code == 200 and r.json()["delivered"] is False
    assert api(client, "DELETE", f"/api/v1/audit-streams/{pk}/", api_key).status_code == 204
    assert not AuditStream.objects.exists()


@pytest.mark.parametrize(
    "body,field",
    [
        ({**CREATE, "name": 5}, "name"),
        ({**CREATE, "kind": "kafka"}, "kind"),
        ({**CREATE, "actions": "scim."}, "actions"),
        ({**CREATE, "actions": ["nope."]}, "actions"),
        ({**CREATE, "endpoint": "https://localhost:9443/" + "a" * 600}, "endpoint"),
        ({**CREATE, "kind": "hec"}, "token"),
        ({**CREATE, "payload": "cef"}, "payload"),
        ("{not json", None),
        ([1, 2], None),
    ],
)
def test_api_refuses_bad_bodies_and_changes_nothing(client, org, api_key, body, field):
    r = api(client, "POST", "/api/v1/audit-streams/", api_key, body)
    assert r.status_code == 400, r.content
    if field:
        assert field in r.content.decode()
    assert not AuditStream.objects.exists()


def test_api_refuses_changing_the_kind(client, org, api_key):
    stream = _hec(org)
    r = api(client, "PATCH", f"/api/v1/audit-streams/{stream.pk}/", api_key, {"kind": "webhook"})
    assert r.status_code == 400 and "cannot change" in r.content.decode()


def test_a_member_without_the_audit_capability_cannot_add_one(member_client, org, client, member):
    assert member_client.post("/o/acme/audit/streams/", CREATE).status_code == 403
    from orgs.services.api_keys import api_key_create

    _, key = api_key_create(membership=member, actor=None)
    assert api(client, "POST", "/api/v1/audit-streams/", key, CREATE).status_code == 403
    assert not AuditStream.objects.exists()


def test_the_list_page_and_api_do_not_grow_queries_with_streams(
    admin_client, client, org, api_key, django_assert_max_num_queries
):
    for i in range(6):
        destination_create(
            org=org,
            actor=None,
            kind="webhook",
            spec=Spec(name=f"hook {i}", endpoint="https://localhost:9443/hook"),
        )
    with django_assert_max_num_queries(12):
        assert admin_client.get("/o/acme/audit/streams/").status_code == 200
    with django_assert_max_num_queries(8):
        assert api(client, "GET", "/api/v1/audit-streams/", api_key).status_code == 200
