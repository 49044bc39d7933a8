"""The doors of tamper evidence: `manage.py audit_seal`, `audit_verify` (JSON, exit 1 on a
broken trail, the first broken link named), `audit_keygen`; the audit page's last seal, last
verification, Verify now, and the alert when the trail is broken; each verification audited;
the sealer and the nightly verification on Celery beat."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import transaction

from audit.models import AuditVerification
from audit.services import audit_record
from governance.celery import app
from tests.audit.test_tamper_evidence import tamper
from tests.conftest import assert_audited

pytestmark = pytest.mark.django_db(transaction=True)


def _events(org, n=3):
    for i in range(n):
        with transaction.atomic():
            audit_record(action="team.created", org=org, actor=None, data={"i": i})


def run(*args) -> tuple[int, dict]:
    out = StringIO()
    try:
        call_command(*args, stdout=out)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, json.loads(out.getvalue())


def test_seal_then_verify_every_organization(org, other_org):
    _events(org)
    code, sealed = run("audit_seal")
    assert code == 0 and sealed["events"] >= 3 and sealed["seals"] >= 2
    code, report = run("audit_verify")
    assert code == 0 and report["ok"] is True
    slugs = [r["organization"] for r in report["organizations"]]
    assert slugs == ["acme", "globex", None]
    assert_audited("audit.verified", org=org, actor_label="manage.py audit_verify")


def test_a_broken_trail_exits_1_names_the_link_and_is_audited(org):
    _events(org)
    run("audit_seal")
    victim = org.pk
    from audit.models import AuditEvent

    event = AuditEvent.objects.filter(org_id=victim, action="team.created").order_by("id")[1]
    tamper("UPDATE audit_auditevent SET actor_label = 'x' WHERE id = %s", [event.pk])
    code, report = run("audit_verify", "acme")
    assert code == 1 and report["ok"] is False
    first = report["organizations"][0]["first_broken"]
    assert first["kind"] == "changed_row" and first["event_id"] == event.pk
    failed = assert_audited("audit.verification_failed", org=org)
    assert failed.data["first_broken"]["event_id"] == event.pk


def test_verify_refuses_an_unknown_org_and_a_bad_since(org, capsys):
    for args in (("audit_verify", "nope"), ("audit_verify", "acme", "--since", "soon")):
        with pytest.raises(SystemExit) as exc:
            call_command(*args)
        assert exc.value.code == 2
    assert "since" in capsys.readouterr().err


def test_keygen_prints_a_usable_key(settings):
    code, made = run("audit_keygen")
    assert code == 0 and len(made["key_id"]) == 16 and made["current_key_id"]
    settings.GOVERNANCE_AUDIT_SIGNING_KEY = made["signing_key"]
    from audit import ledger

    assert ledger.keys().key_id == made["key_id"]


def test_the_audit_page_shows_seals_verifies_and_alerts(org, admin_client):
    _events(org)
    page = admin_client.get("/o/acme/audit/").content.decode()
    assert "No seal yet" in page and "Not verified yet" in page
    run("audit_seal")
    r = admin_client.post("/o/acme/audit/verify/")
    assert r.status_code == 302
    page = admin_client.get("/o/acme/audit/").content.decode()
    assert "Last seal #" in page and "intact" in page and 'id="tamper-alert"' not in page
    event = assert_audited("audit.verified", org=org)
    assert event.actor_kind == "user"

    from audit.models import AuditEvent

    victim = AuditEvent.objects.filter(org_id=org.pk, action="team.created").first()
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [victim.pk])
    admin_client.post("/o/acme/audit/verify/")
    page = admin_client.get("/o/acme/audit/").content.decode()
    assert 'id="tamper-alert"' in page and f"event {victim.pk}" in page
    assert AuditVerification.objects.filter(org_key=org.pk, ok=False).count() == 1


def test_verify_now_needs_the_audit_log_permission(org, member_client):
    assert member_client.post("/o/acme/audit/verify/").status_code == 403
    assert not AuditVerification.objects.exists()


def test_beat_runs_the_sealer_twice_a_minute_and_verifies_nightly():
    entries = {e["task"]: e["schedule"] for e in app.conf.beat_schedule.values()}
    assert "audit.tasks.audit_seal" in entries and "auditlog.tasks.audit_verify_all" in entries
    assert entries["audit.tasks.audit_seal"].total_seconds() == 30  # no event waits a minute
    assert entries["auditlog.tasks.audit_verify_all"].hour == {3}
    from audit.tasks import audit_seal

    assert audit_seal.name in app.tasks
