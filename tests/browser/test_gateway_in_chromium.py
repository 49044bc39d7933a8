"""The MCP gateway's pages at a real browser: an admin adds an MCP server (a real one, the SDK's
server over Streamable HTTP) and sees its tools; a member's call through the gateway shows on
the Tool calls page with its figures and on the Usage page's charts; a tool rule is previewed
against that call, then added."""

from __future__ import annotations

import re

import pytest

from tests.browser.signin import password_sign_in
from tests.conftest import PASSWORD
from tests.gateway.conftest import Gateway, Upstream, auth, mcp_call

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_adds_an_mcp_server_and_reads_its_tool_calls(
    live_server, page, screenshot, admin, settings, tmp_path
):
    from gateway.tokens import mcp_token_create

    settings.MCP_ALLOW_HTTP_UPSTREAMS = True
    settings.MCP_ALLOW_PRIVATE_UPSTREAMS = True
    upstream = Upstream(tmp_path).start()
    gateway = Gateway(tmp_path / "spool")
    try:
        page.goto(live_server.url + "/login/")
        password_sign_in(page, "admin@acme.example", PASSWORD)
        page.wait_for_url(re.compile(r"/o/acme/$"))
        page.click('nav.side >> text="MCP servers"')
        page.fill("#m-name", "Jira")
        page.select_option("#m-integration", "jira")
        page.select_option("#m-transport", "http")
        page.fill("#m-url", upstream.url)
        page.click("button:has-text('Add and list its tools')")
        page.wait_for_selector(".messages .success")
        row = page.locator("#servers tr[data-server='Jira']")
        assert "echo" in row.inner_text() and "Up" in row.inner_text()
        screenshot("gateway-servers")

        _, key = mcp_token_create(membership=admin, actor=None)
        result = mcp_call(gateway.url, auth(key), "call_tool", "jira__add", {"a": 20, "b": 22})
        assert result.content[0].text == "42"
        gateway.app.flusher.stop()  # the spool is written to the database
        page.click('nav.side >> text="Tool calls"')
        page.wait_for_selector("#tool-stats >> text=add")
        assert "admin@acme.example" in page.inner_text("#calls")
        screenshot("gateway-tool-calls")

        from gateway.usage import rollup

        rollup()  # what the beat does every minute
        page.click('nav.side >> text="Usage"')
        page.select_option("#u-dimension", "integration")
        page.click("#usage-filters button:has-text('Show')")
        page.wait_for_selector("#usage-totals >> text=Jira")
        drawn = page.evaluate(
            "['calls', 'errors', 'runs', 'members'].every(n => "
            "Chart.getChart(document.getElementById('chart-usage-' + n)) !== undefined)"
        )
        assert drawn
        screenshot("gateway-usage")

        page.click('nav.side >> text="MCP servers"')
        page.click("text=Tool rules and policy preview")
        page.select_option("#p-kind", "rule_add")
        page.select_option("#p-server", label="Jira (jira)")
        page.fill("#p-tool", "add")
        page.click("#preview-form button:has-text('Preview')")
        page.wait_for_selector("#preview-result")
        assert "admin@acme.example" in page.inner_text("#newly-denied")
        screenshot("gateway-policy-preview")
        page.click("#preview-form button:has-text('Add this rule')")
        page.wait_for_selector(".messages .success")
        assert "blocked" in page.inner_text("#rules")
    finally:
        gateway.stop()
        upstream.stop()
