"""An admin at a real browser connects an audit stream to a real webhook receiver: the secret
is shown once, the test event arrives, delivery shows on the page, and when the receiver dies
the page says so in words."""

from __future__ import annotations

import re

import pytest
from django.db import transaction

from audit.sealing import seal_all
from audit.services import audit_record
from siem.delivery import deliver
from siem.models import AuditStream
from tests.browser.signin import password_sign_in
from tests.conftest import PASSWORD
from tests.siem.conftest import Receiver

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_streams_the_audit_log_to_a_webhook(
    live_server,
    page,
    screenshot,
    admin,
    settings,
    pki,
    tmp_path,
):
    settings.SIEM_ALLOW_PRIVATE_DESTINATIONS = True
    rx = Receiver("webhook", pki, tmp_path / "webhook.jsonl")
    try:
        page.goto(live_server.url + "/login/")
        password_sign_in(page, "admin@acme.example", PASSWORD)
        page.wait_for_url(re.compile(r"/o/acme/$"))
        page.click("nav.side >> text=Audit streams")
        page.wait_for_url(re.compile(r"/o/acme/audit/streams/$"))
        page.select_option("#id_kind", "webhook")
        page.select_option("#id_start", "beginning")
        page.fill("#id_name", "Security lake")
        page.fill("#id_endpoint", rx.endpoint)
        page.fill("#id_ca_pem", pki["ca_pem"])
        page.click("button:has-text('Add stream')")
        secret = page.inner_text("#new-secret").strip()
        assert secret.startswith("whsec_")
        screenshot("audit-streams-secret")
        rx.options["secret"] = secret
        rx.start()

        page.click("text=Open Security lake")
        page.click("#send-test")
        page.wait_for_selector(".messages .success")
        assert "The test record was delivered" in page.inner_text(".messages")
        assert rx.records()[0]["type"] == "test"

        with transaction.atomic():
            audit_record(action="access.denied", org=admin.org, actor=None, data={})
        seal_all()
        stream = AuditStream.objects.get(name="Security lake")
        assert "error" not in deliver(stream.pk)
        page.reload()
        assert page.inner_text("#stream-state") == "up to date"
        assert any(r.get("action") == "access.denied" for r in rx.records())
        screenshot("audit-stream-delivering")

        rx.kill()
        with transaction.atomic():
            audit_record(action="access.denied", org=admin.org, actor=None, data={})
        seal_all()
        assert "error" in deliver(stream.pk)
        page.reload()
        assert page.inner_text("#stream-state") == "failing"
        assert "Cannot reach the webhook" in page.inner_text("#stream-error")
        assert "1 sealed event" in page.inner_text("#stream-backlog")
        screenshot("audit-stream-failing")
        page.click("nav.side >> text=Audit streams")
        assert "failing" in page.inner_text("#streams")
    finally:
        rx.kill()
