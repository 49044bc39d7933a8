"""Every main page is usable 390 px wide: nothing makes the page scroll sideways (a wide table
scrolls inside its frame), and the top bar's Sign out stays visible."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.browser.signin import password_sign_in
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGES = [
    "",
    "me/",
    "members/",
    "roles/",
    "teams/",
    "api-keys/",
    "service-keys/",
    "settings/sso/",
    "settings/scim/",
    "settings/scim/mapping/",
    "audit/",
    "agents/",
    "workflows/",
    "runs/",
    "integrations/",
    "schedules/",
    "explain/",
]


# Every visible field of the page's main part (text, e-mail, search, date, select, textarea...):
# its border, corner radius and padding, which must be the same for all of them.
INPUT_STYLES = """() => [...document.querySelectorAll(
  'main input:not([type=hidden]):not([type=checkbox]):not([type=radio]):not([type=submit]),'
  + 'main select, main textarea')]
  .filter(e => e.offsetParent !== null)
  .map(e => { const s = getComputedStyle(e);
    return [s.borderTopWidth, s.borderTopStyle, s.borderRadius, s.paddingLeft].join(' '); })"""


def test_every_page_fits_a_phone(live_server, browser, admin, member):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        page.goto(live_server.url + "/login/")
        password_sign_in(page, "admin@acme.example", PASSWORD)
        page.wait_for_url(re.compile(r"/o/acme/$"))
        for path in PAGES:
            page.goto(f"{live_server.url}/o/acme/{path}")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"/o/acme/{path} is {width} px wide"
            box = page.locator("button:has-text('Sign out')").bounding_box()
            assert box and box["x"] + box["width"] <= 390, path
            styles = page.evaluate(INPUT_STYLES)
            assert len(set(styles)) <= 1, f"/o/acme/{path}: inputs styled differently: {styles}"
        page.goto(f"{live_server.url}/o/acme/members/")
        page.screenshot(path=str(ARTIFACTS / "members-390px.png"), full_page=True)
    finally:
        context.close()


def test_the_member_picker_searches_as_you_type(live_server, page, org, admin, member):
    from orgs.services.teams import team_create

    team = team_create(org=org, name="Data", actor=None)
    page.goto(live_server.url + "/login/")
    password_sign_in(page, "admin@acme.example", PASSWORD)
    page.wait_for_url(re.compile(r"/o/acme/$"))
    page.goto(f"{live_server.url}/o/acme/teams/{team.pk}/")
    page.fill("#add-member", "mem")
    page.wait_for_selector("#add-member-options option", state="attached")
    assert page.eval_on_selector_all(
        "#add-member-options option", "os => os.map(o => o.value)"
    ) == ["member@acme.example"]
    page.fill("#add-member", "member@acme.example")
    page.click("button:has-text('Add to team')")
    page.wait_for_selector(".messages .success")
    assert "joined Data" in page.inner_text(".messages")
