"""Exports: the filtered set as JSON Lines (with the seals that cover it) or CSV, streamed, from
the page, the API and `manage.py audit_export`, each audited; and `audit_verify --file`
verifies a JSON Lines export offline, naming what an editor of the file changed."""

from __future__ import annotations

import csv
import io
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from audit.sealing import seal_pass
from audit.services import audit_record
from tests.conftest import api, assert_audited

pytestmark = pytest.mark.django_db(transaction=True)


def _events(org, n=4):
    made = []
    for i in range(n):
        with transaction.atomic():
            made.append(
                audit_record(
                    action="access.denied" if i % 2 else "team.created",
                    org=org,
                    actor=None,
                    target_type="team",
                    target_id=str(i),
                    target_label="=HYPERLINK(evil)" if i == 0 else f"Team {i}",
                    data={"i": i},
                )
            )
    return made


def lines_of(body: bytes | str) -> list[dict]:
    text = body.decode() if isinstance(body, bytes) else body
    return [json.loads(x) for x in text.splitlines() if x.strip()]


def verify_file(tmp_path, lines: list[dict], *extra) -> tuple[int, dict]:
    path = tmp_path / "export.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    out = StringIO()
    try:
        call_command("audit_verify", "--file", str(path), *extra, stdout=out)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, json.loads(out.getvalue())


def test_a_jsonl_export_carries_its_seals_and_verifies_offline(client, org, api_key, tmp_path):
    made = _events(org)
    seal_pass()
    late = _events(org, 1)[0]  # not sealed yet
    assert api(client, "GET", "/api/v1/audit-events/export/", api_key).status_code == 405
    r = api(client, "POST", "/api/v1/audit-events/export/", api_key)
    assert r.status_code == 200 and r.streaming and r["Content-Type"] == "application/x-ndjson"
    lines = lines_of(b"".join(r.streaming_content))
    assert lines[0]["type"] == "header" and lines[0]["organization"] == "acme"
    events = [x for x in lines if x["type"] == "event"]
    assert {e.pk for e in made} <= {e["id"] for e in events}
    assert [x["type"] for x in lines].count("seal") >= 1
    # After the last seal: the unsealed events (the late one, and the export's own event).
    last_seal = max(i for i, x in enumerate(lines) if x["type"] == "seal")
    assert late.pk in [x["id"] for x in lines[last_seal + 1 :]]
    assert_audited("audit.exported", org=org, actor_kind="api_key")

    code, report = verify_file(tmp_path, lines)
    assert code == 0 and report["ok"] and report["unsealed_events"] == 2

    edited = [dict(x) for x in lines]
    victim = next(x for x in edited if x.get("id") == made[1].pk)
    victim["actor_label"] = "someone else"
    code, report = verify_file(tmp_path, edited)
    assert code == 1 and report["first_broken"]["kind"] == "changed_row"
    assert report["first_broken"]["event_id"] == made[1].pk

    dropped = [x for x in lines if x.get("id") != made[2].pk]
    code, report = verify_file(tmp_path, dropped)
    assert code == 1 and report["first_broken"]["kind"] == "deleted_row"
    assert report["first_broken"]["event_id"] == made[2].pk

    forged_seal = [dict(x) for x in lines]
    seal = next(x for x in forged_seal if x["type"] == "seal")
    seal["count"] += 1
    code, report = verify_file(tmp_path, forged_seal)
    assert code == 1 and report["first_broken"]["kind"] == "seal_edited"


def test_a_filtered_export_verifies_what_it_holds(client, org, api_key, tmp_path):
    made = _events(org)
    seal_pass()
    r = api(client, "POST", "/api/v1/audit-events/export/?outcome=denied", api_key)
    lines = lines_of(b"".join(r.streaming_content))
    events = [x for x in lines if x["type"] == "event"]
    assert [e["id"] for e in events] == [made[1].pk, made[3].pk]
    assert lines[0]["filters"] == {"outcome": "denied"}
    code, report = verify_file(tmp_path, lines)
    assert code == 0 and report["ok"] and report["events_checked"] == 2


def test_the_api_exports_csv_and_json_lines_by_format(client, org, api_key):
    _events(org)
    seal_pass()
    r = api(client, "POST", "/api/v1/audit-events/export/?format=csv", api_key)
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode())))
    assert rows[0][0] and len(rows) > 1
    r = api(client, "POST", "/api/v1/audit-events/export/?format=jsonl", api_key)
    assert r.status_code == 200
    assert lines_of(b"".join(r.streaming_content))[0]["type"]
    wrong = api(client, "POST", "/api/v1/audit-events/export/?format=csv&outcome=maybe", api_key)
    assert wrong.status_code == 400 and b"outcome" in wrong.content


def test_the_page_downloads_csv_with_formulas_defused(admin_client, org):
    made = _events(org)
    page = admin_client.get("/o/acme/audit/?action=team.created").content.decode()
    assert '<input type="hidden" name="action" value="team.created">' in page
    r = admin_client.post("/o/acme/audit/export/", {"format": "csv", "action": "team.created"})
    assert r.status_code == 200 and r["Content-Disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode())))
    assert rows[0][:3] == ["id", "org_id", "occurred_at"] and rows[0][-1] == "leaf"
    ids = [int(row[0]) for row in rows[1:]]
    assert made[0].pk in ids and made[1].pk not in ids
    label = next(row for row in rows[1:] if int(row[0]) == made[0].pk)[9]
    assert label == "'=HYPERLINK(evil)"
    assert_audited("audit.exported", org=org, actor_kind="user")
    assert admin_client.post("/o/acme/audit/export/", {"format": "xml"}).status_code == 400
    assert admin_client.post("/o/acme/audit/export/", {"outcome": "maybe"}).status_code == 400
    assert admin_client.get("/o/acme/audit/export/").status_code == 405


def test_the_command_writes_json_lines_to_stdout(org):
    _events(org, 2)
    out = StringIO()
    call_command("audit_export", "acme", "--action", "team.", stdout=out)
    lines = lines_of(out.getvalue())
    assert lines[0]["type"] == "header"
    assert {x["action"] for x in lines if x["type"] == "event"} == {"team.created"}
    assert_audited("audit.exported", org=org, actor_label="manage.py audit_export")


def test_exports_need_the_audit_log_permission_and_stay_in_their_org(
    client, member_client, member, other_org, org, make_member
):
    from orgs.services.api_keys import api_key_create

    assert member_client.post("/o/acme/audit/export/").status_code == 403
    _, key = api_key_create(membership=member, actor=None)
    assert api(client, "POST", "/api/v1/audit-events/export/", key).status_code == 403
    _events(other_org, 2)
    from orgs.services.api_keys import api_key_create as make_key

    boss_key = make_key(
        membership=make_member(other_org, "boss@globex.example", "admin"), actor=None
    )[1]
    body = b"".join(api(client, "POST", "/api/v1/audit-events/export/", boss_key).streaming_content)
    assert all(x.get("org_id") in (None, other_org.pk) for x in lines_of(body))
