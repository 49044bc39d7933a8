"""A Content-Security-Policy on every page, without 'unsafe-inline' for scripts, and no
template carries inline script or event handlers (they would be blocked)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    out = {}
    for part in header.split(";"):
        name, *values = part.split()
        out[name] = values
    return out


@pytest.mark.parametrize(
    "path",
    [
        "/login/",
        "/o/acme/",
        "/o/acme/members/",
        "/o/acme/settings/sso/",
        "/o/acme/api-keys/",
        "/o/acme/settings/scim/",
        "/o/acme/audit/",
        "/api/v1/me/",
        "/scim/v2/ServiceProviderConfig",
    ],
)
def test_every_response_carries_a_policy_without_inline_script(admin_client, path):
    csp = policy(admin_client.get(path))
    assert csp["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp["default-src"] and csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]


def test_no_template_has_inline_script_or_handlers():
    offenders = []
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)", text) or re.search(r"\son[a-z]+=", text):
            offenders.append(template.name)
        if "javascript:" in text:
            offenders.append(template.name)
    assert offenders == []
