"""The npm package oidc-provider, started on 127.0.0.1 for the tests, and a small "browser" that
signs in at its login and consent pages with plain HTTP (the Playwright test uses chromium)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import requests

HERE = Path(__file__).resolve().parents[1] / "oidc_provider"
SECRET = "test-client-secret-0123456789-abcdefghij"


class OidcProvider:
    def __init__(self, *, redirect_uri: str, accounts: dict[str, dict]) -> None:
        node = shutil.which("node")
        if node is None or not (HERE / "node_modules" / "oidc-provider").exists():
            raise RuntimeError(
                "oidc-provider is not installed: `make test` runs `npm ci` in tests/oidc_provider."
            )
        clients = [
            {"client_id": cid, "client_secret": SECRET, "redirect_uris": [redirect_uri]}
            for cid in ("gov", "gov-other", "gov-wrong-aud", "gov-wrong-iss")
        ]
        self.process = subprocess.Popen(
            [node, str(HERE / "provider.mjs")],
            cwd=HERE,
            env={
                "PATH": "/usr/bin:/bin:/usr/local/bin",
                "PORT": "0",
                "OIDC_CLIENTS": json.dumps(clients),
                "OIDC_ACCOUNTS": json.dumps(accounts),
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        line = ""
        for _ in range(20):
            line = self.process.stdout.readline()
            if line.startswith("listening "):
                break
        if not line.startswith("listening "):
            self.stop()
            raise RuntimeError(f"oidc-provider did not start (last line: {line!r})")
        self.issuer = line.split(" ", 1)[1].strip()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()


def sign_in_at_provider(authorization_url: str, login: str, session=None) -> str:
    """Follow the authorization request through the provider's login and consent pages, as a
    browser would; return the redirect back to the relying party (with code and state)."""
    browser = session or requests.Session()
    response = browser.get(authorization_url, allow_redirects=False, timeout=10)
    for _ in range(10):
        location = response.headers.get("Location", "")
        if response.status_code in (302, 303) and not location.startswith(
            ("http://127.0.0.1", "/")
        ):
            return location  # back to the relying party
        if response.status_code in (302, 303):
            response = browser.get(urljoin(response.url, location), allow_redirects=False)
            continue
        form = re.search(r'<form[^>]*action="([^"]+)"[^>]*method="post"', response.text)
        prompt = re.search(r'name="prompt" value="(\w+)"', response.text)
        assert form and prompt, response.text[:500]
        data = {"prompt": prompt.group(1)}
        if prompt.group(1) == "login":
            data.update({"login": login, "password": "any"})
        response = browser.post(
            urljoin(response.url, unescape(form.group(1))), data=data, allow_redirects=False
        )
    raise AssertionError("the provider never redirected back")
