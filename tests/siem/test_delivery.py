"""Audit streams against real receivers on loopback (a TLS syslog listener, an HTTPS webhook
receiver that checks the HMAC signature, a HEC-shaped collector with indexer acknowledgement),
killed mid-stream and started again: every event arrives at least once, in sealing order, with
the signed seal heads, and what arrived verifies offline (`audit_verify --file`)."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent, AuditSeal
from audit.offline import verify_stream
from audit.sealing import ordering, seal_all
from audit.services import audit_record
from siem.delivery import deliver, due
from siem.models import AuditStream
from siem.services import Spec, destination_create, destination_pause, destination_resume
from tests.conftest import assert_audited, audit_count

pytestmark = pytest.mark.django_db(transaction=True)


def events(org: Any, n: int, action: str = "team.created") -> None:
    for i in range(n):
        with transaction.atomic():
            audit_record(action=action, org=org, actor=None, data={"i": i, "text": "a=b|c\\d"})


def sealed_ids(org: Any) -> list[int]:
    """The organization's sealed events in sealing order (what a full stream must carry)."""
    last = AuditSeal.objects.filter(org_key=org.pk).order_by("-seq").first()
    ids = AuditEvent.objects.filter(org_id=org.pk)
    if last is not None:
        from audit.sealing import in_range

        ids = ids.filter(in_range(0, last.bound_hi))
    return list(ids.order_by(*ordering()).values_list("id", flat=True))


def first_seen(records: list[dict[str, Any]]) -> list[int]:
    seen: dict[int, None] = {}
    for r in records:
        if r["type"] == "event":
            seen.setdefault(r["id"], None)
    return list(seen)


def stream(org: Any, kind: str, rx: Any, pki: dict, **spec: Any) -> tuple[AuditStream, str]:
    return destination_create(
        org=org,
        actor=None,
        kind=kind,
        start=spec.pop("start", "beginning"),
        spec=Spec(name=f"{kind} test", endpoint=rx.endpoint, ca_pem=pki["ca_pem"], **spec),
    )


def again(s: AuditStream) -> dict[str, Any]:
    AuditStream.objects.filter(pk=s.pk).update(next_attempt_at=timezone.now())
    return deliver(s.pk)


def assert_complete(org: Any, records: list[dict[str, Any]]) -> None:
    expected = sealed_ids(org)
    assert first_seen(records) == expected  # nothing lost, order preserved
    heads = [r["seq"] for r in records if r["type"] == "seal"]
    seqs = list(
        AuditSeal.objects.filter(org_key=org.pk).order_by("seq").values_list("seq", flat=True)
    )
    assert sorted(set(heads)) == seqs
    report = verify_stream([json.dumps(r) for r in records])
    assert report["ok"], report["first_broken"]
    assert report["events_checked"] == len(expected)


@pytest.mark.parametrize("payload", ["json"])
def test_syslog_receiver_killed_mid_batch_loses_nothing(org, receiver, pki, settings, payload):
    settings.SIEM_BATCH_EVENTS = 40
    events(org, 150)
    seal_all()
    rx = receiver("syslog").start(die_after=70)
    s, _ = stream(org, "syslog", rx, pki, payload=payload)
    first = deliver(s.pk)
    assert "error" in first and rx.died()
    s.refresh_from_db()
    assert s.failures == 1 and s.last_error and s.next_attempt_at > timezone.now()
    assert 0 < s.delivered < 150 and s.cursor_offset % 40 == 0
    failed = assert_audited("audit_stream.delivery_failed", org=org)
    assert failed.data["cursor"]["offset"] == s.cursor_offset
    assert s.pk not in due()  # backing off
    rx.start()
    done = again(s)
    assert "error" not in done, done
    assert_complete(org, rx.records())
    s.refresh_from_db()
    assert s.failures == 0 and s.cursor_offset == 0
    assert_audited("audit_stream.delivery_recovered", org=org)
    assert audit_count(action="audit_stream.delivery_failed") == 1
    # The next events follow on the same stream, after the ones already sent.
    events(org, 5, action="access.denied")
    seal_all()
    before = len(rx.lines())
    again(s)
    tail = rx.records()[before:]
    assert [r["action"] for r in tail if r["type"] == "event"][-5:] == ["access.denied"] * 5
    assert_complete(org, rx.records())


def test_syslog_messages_are_rfc5424_and_cef_escapes_its_delimiters(org, receiver, pki):
    events(org, 3, action="access.denied")
    seal_all()
    rx = receiver("syslog").start()
    s, _ = stream(org, "syslog", rx, pki, payload="cef")
    assert "error" not in deliver(s.pk)
    lines = rx.lines()
    event_lines = [line for line in lines if " - event [" in line]
    assert len(event_lines) >= 3
    line = event_lines[-1]
    # <PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG: facility 13 (log audit), warning.
    assert (
        line.startswith(f"<{13 * 8 + 4}>1 ") and " governance - event [governance@32473 id=" in line
    )
    cef = line[line.index("] ") + 2 :]
    assert cef.startswith("CEF:0|Governance|governance|1|access.denied|Denied attempt|7|")
    # The JSON's one escaped backslash (two characters) doubles again in CEF; = gets one.
    assert 'msg={"i":2,"text":"a\\=b|c\\\\\\\\d"}' in cef
    assert "outcome=denied" in cef and "cs6Label=leaf" in cef
    seal = [line for line in lines if " - seal [" in line]
    assert seal and "CEF:0|Governance|governance|1|audit.seal|Audit seal|3|msg=" in seal[-1]


def test_webhook_is_signed_and_survives_a_kill(org, receiver, pki, settings):
    settings.SIEM_BATCH_EVENTS = 25
    events(org, 80)
    seal_all()
    rx = receiver("webhook")
    s, secret = stream(org, "webhook", rx, pki)
    assert secret.startswith("whsec_")
    rx.options["secret"] = secret
    rx.start(die_after=30)
    assert "error" in deliver(s.pk) and rx.died()
    rx.start()
    assert "error" not in again(s)
    assert_complete(org, rx.records())


def test_webhook_with_the_wrong_secret_is_refused_and_nothing_moves(org, receiver, pki):
    events(org, 3)
    seal_all()
    rx = receiver("webhook", secret="not-the-secret").start()
    s, _ = stream(org, "webhook", rx, pki)
    result = deliver(s.pk)
    assert "401" in result["error"]
    s.refresh_from_db()
    assert (s.cursor_seq, s.cursor_offset, s.delivered) == (0, 0, 0)
    assert "answered 401" in s.last_error


def test_hec_waits_for_indexer_acknowledgement_and_survives_a_kill(org, receiver, pki, settings):
    settings.SIEM_BATCH_EVENTS = 30
    events(org, 100)
    seal_all()
    rx = receiver("hec", token="hec-token-1", ack=True).start(die_after=45)
    s, _ = stream(org, "hec", rx, pki, token="hec-token-1", hec_index="audit")
    assert s.endpoint.endswith("/services/collector/event")
    assert "error" in deliver(s.pk) and rx.died()
    rx.start()
    assert "error" not in again(s)
    assert_complete(org, rx.records())


def test_hec_wrong_token_says_what_splunk_answered(org, receiver, pki):
    events(org, 2)
    seal_all()
    rx = receiver("hec", token="right").start()
    s, _ = stream(org, "hec", rx, pki, token="wrong")
    deliver(s.pk)
    s.refresh_from_db()
    assert "code 4: the token is not valid" in s.last_error
    assert s.delivered == 0


def test_a_receiver_down_for_long_loses_nothing_and_backs_off(org, receiver, pki):
    events(org, 20)
    seal_all()
    rx = receiver("syslog")  # never started yet: connection refused
    s, _ = stream(org, "syslog", rx, pki)
    waits = []
    for _ in range(7):
        result = again(s)
        assert "Cannot connect" in result["error"]
        s.refresh_from_db()
        waits.append((s.next_attempt_at - timezone.now()).total_seconds())
    assert waits[0] < 15 and waits[-1] > 300 and max(waits) <= 720  # 10 s doubling to 10 min
    assert audit_count(action="audit_stream.delivery_failed") == 1
    events(org, 20)  # the trail grows while it is down
    seal_all()
    rx.start()
    again(s)
    assert_complete(org, rx.records())


def test_a_filtered_stream_carries_inclusion_proofs(org, receiver, pki):
    events(org, 10)
    events(org, 4, action="access.denied")
    events(org, 10)
    seal_all()
    rx = receiver("syslog").start()
    s, _ = stream(org, "syslog", rx, pki, actions=["access."], outcome="denied")
    deliver(s.pk)
    records = rx.records()
    sent = [r for r in records if r["type"] == "event"]
    assert [r["action"] for r in sent] == ["access.denied"] * 4
    assert all(r["seal"]["proof"] for r in sent)
    report = verify_stream([json.dumps(r) for r in records])
    assert report["ok"] and report["events_checked"] == 4
    # Edited in the SIEM: the proof no longer reaches the signed root.
    sent[1]["actor_label"] = "someone else"
    sent[1]["leaf"] = __import__("audit.ledger").ledger.leaf(sent[1]).hex()
    report = verify_stream([json.dumps(r) for r in records])
    assert report["first_broken"]["kind"] == "changed_row"
    assert report["first_broken"]["event_id"] == sent[1]["id"]


def test_what_a_siem_received_verifies_offline_and_names_a_dropped_event(
    org, receiver, pki, tmp_path
):
    events(org, 12)
    seal_all()
    rx = receiver("webhook")
    s, secret = stream(org, "webhook", rx, pki)
    rx.options["secret"] = secret
    rx.start()
    deliver(s.pk)
    received = tmp_path / "received.jsonl"
    lines = rx.lines()
    received.write_text("\n".join(reversed(lines)) + "\n")  # a SIEM's export, newest first
    out = StringIO()
    call_command("audit_verify", "--file", str(received), stdout=out)
    assert json.loads(out.getvalue())["ok"] is True
    dropped = [line for line in lines if json.loads(line).get("id") != sealed_ids(org)[3]]
    received.write_text("\n".join(dropped) + "\n")
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("audit_verify", "--file", str(received), stdout=out)
    first = json.loads(out.getvalue())["first_broken"]
    assert first["kind"] == "deleted_row" and "did not arrive" in first["detail"]
    # A seal head that never arrived is named as well.
    heads = [line for line in lines if json.loads(line)["type"] == "seal"]
    if len(heads) > 1:
        received.write_text("\n".join(x for x in lines if x != heads[0]) + "\n")
        out = StringIO()
        with pytest.raises(SystemExit):
            call_command("audit_verify", "--file", str(received), stdout=out)
        assert json.loads(out.getvalue())["first_broken"]["kind"] == "seal_missing"


def test_paused_streams_wait_and_resume_where_they_stopped(org, receiver, pki):
    events(org, 5)
    seal_all()
    rx = receiver("syslog").start()
    s, _ = stream(org, "syslog", rx, pki)
    destination_pause(destination=s, actor=None)
    assert s.pk not in due() and deliver(s.pk).get("skipped")
    assert rx.lines() == []
    destination_resume(destination=s, actor=None)
    assert s.pk in due()
    deliver(s.pk)
    assert_complete(org, rx.records())
    assert_audited("audit_stream.paused", org=org)
    assert_audited("audit_stream.resumed", org=org)


def test_starting_now_skips_the_history(org, receiver, pki):
    events(org, 5)
    seal_all()
    rx = receiver("syslog").start()
    s, _ = stream(org, "syslog", rx, pki, start="now")
    events(org, 3, action="access.denied")
    seal_all()
    deliver(s.pk)
    sent = [r for r in rx.records() if r["type"] == "event"]
    assert [r["action"] for r in sent][-3:] == ["access.denied"] * 3
    assert all(r["action"] != "team.created" for r in sent)


def test_the_command_and_the_celery_task_deliver(org, receiver, pki):
    from governance.celery import app

    events(org, 4)
    seal_all()
    rx = receiver("syslog").start()
    s, _ = stream(org, "syslog", rx, pki)
    out = StringIO()
    call_command("audit_stream_deliver", "acme", stdout=out)
    assert json.loads(out.getvalue())["deliveries"][0]["events"] >= 4
    assert app.conf.beat_schedule["audit-streams"]["task"] == "siem.tasks.audit_streams_due"
    events(org, 2)
    seal_all()
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True  # the queued delivery runs here, as a worker would
    try:
        from siem.tasks import audit_streams_due

        assert s.pk in audit_streams_due()
    finally:
        app.conf.task_always_eager = eager
    assert_complete(org, rx.records())
