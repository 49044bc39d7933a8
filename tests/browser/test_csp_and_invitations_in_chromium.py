"""In Chromium, under the Content-Security-Policy: the dashboard's script runs (a confirm
dialog guards revoking a SCIM token) and the browser reports no CSP violation; and a newcomer
joins through an invitation link with their own password."""

from __future__ import annotations

import re

import pytest

from orgs.models import Membership
from tests.browser.conftest import ARTIFACTS
from tests.browser.signin import password_sign_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_dashboard_script_runs_under_the_policy(live_server, page, screenshot, admin):
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    dialogs: list[str] = []

    def answer(dialog):
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    page.goto(live_server.url + "/login/")
    password_sign_in(page, "admin@acme.example", PASSWORD)
    page.wait_for_url(re.compile(r"/o/acme/$"))
    page.goto(live_server.url + "/o/acme/settings/scim/")
    page.fill("#id_label", "Okta")
    page.click("button:has-text('Create SCIM token')")
    page.wait_for_selector("#new-scim-token")
    page.goto(live_server.url + "/o/acme/settings/scim/")
    page.click("button:has-text('Revoke')")
    page.wait_for_selector(".messages .success")
    assert dialogs and "Revoke this token?" in dialogs[0]
    screenshot("scim-token-revoked-under-csp")
    assert violations == []


def test_a_newcomer_joins_through_the_invitation_link(
    live_server, browser, page, screenshot, admin
):
    page.goto(live_server.url + "/login/")
    password_sign_in(page, "admin@acme.example", PASSWORD)
    page.wait_for_url(re.compile(r"/o/acme/$"))
    page.goto(live_server.url + "/o/acme/members/")
    page.fill("#id_email", "newcomer@acme.example")
    page.click("button:has-text('Invite')")
    link = page.inner_text("#invitation-link").strip()
    assert "/invitations/inv_" in link
    screenshot("invitation-made")

    context = browser.new_context()
    newcomer = context.new_page()
    newcomer.goto(link)
    newcomer.fill("#id_full_name", "New Comer")
    newcomer.fill("#id_password1", "a-long-pass-4567")
    newcomer.fill("#id_password2", "a-long-pass-4567")
    newcomer.click("button:has-text('Create my account and join')")
    newcomer.wait_for_url(re.compile(r"/o/acme/me/$"))
    newcomer.screenshot(path=str(ARTIFACTS / "invitation-joined.png"), full_page=True)
    context.close()
    joined = Membership.objects.get(user__email="newcomer@acme.example")
    assert joined.role == "member" and joined.is_active


def test_an_admin_makes_a_service_key_and_deletes_an_agent_after_confirming(
    live_server, page, screenshot, org, admin
):
    from workspace.models import Agent
    from workspace.services.resources import resource_create

    agent = resource_create(
        org=org, kind="agent", fields={"name": "Old helper", "integrations": []}, actor=admin.user
    )
    dialogs: list[str] = []

    def answer(dialog):
        dialogs.append(dialog.message)
        # The first question (deleting) is refused once: nothing may happen then.
        dialog.dismiss() if len(dialogs) == 1 else dialog.accept()

    page.on("dialog", answer)
    page.goto(live_server.url + "/login/")
    password_sign_in(page, "admin@acme.example", PASSWORD)
    page.wait_for_url(re.compile(r"/o/acme/$"))
    page.goto(live_server.url + "/o/acme/service-keys/")
    page.fill("#id_label", "runtime")
    page.click("button:has-text('Create service key')")
    assert page.inner_text("#new-service-key").startswith("gsk_")
    screenshot("service-key-made")

    page.goto(f"{live_server.url}/o/acme/agents/{agent.pk}/")
    page.click("#delete-resource")
    assert Agent.objects.filter(pk=agent.pk).exists()  # dismissed: still there
    page.click("#delete-resource")
    page.wait_for_url(re.compile(r"/o/acme/agents/$"))
    assert "Old helper is deleted" in page.inner_text(".messages")
    assert not Agent.objects.filter(pk=agent.pk).exists()
    assert len(dialogs) == 2 and dialogs[0].startswith("Delete Old helper?")
