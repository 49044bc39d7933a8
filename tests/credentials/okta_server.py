"""The Okta-like authorization server of tests/oidc_provider/okta.mjs, started on 127.0.0.1: the
npm package oidc-provider with custom scopes, client credentials, PKCE, rotating refresh tokens
with reuse detection, and revocation. It counts the refresh grants it answers."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parents[1] / "oidc_provider"
SECRET = "okta-test-client-secret-0123456789abcdefghij"
SERVER_ID = "aus8x7abc123def"
ROLES = "session:role:PUBLIC session:role:ANALYST session:role-any"


class OktaServer:
    def __init__(self, *, redirect_uri: str, access_ttl: int = 300) -> None:
        node = shutil.which("node")
        if node is None or not (HERE / "node_modules" / "oidc-provider").exists():
            raise RuntimeError(
                "oidc-provider is not installed: `make test` runs `npm ci` in tests/oidc_provider."
            )
        base = {"client_secret": SECRET, "redirect_uris": [redirect_uri]}
        clients = [
            # The seed's app: every grant, and an access policy allowing the base and role scopes.
            {
                "client_id": "gov-okta",
                **base,
                "scope": f"openid profile email offline_access {ROLES}",
            },
            # Client Credentials not checked in the app's grant types.
            {
                "client_id": "gov-no-cc",
                **base,
                "grant_types": ["authorization_code", "refresh_token"],
            },
            # An access policy that does not list session:role:ANALYST.
            {
                "client_id": "gov-narrow",
                **base,
                "scope": "openid profile email offline_access session:role:PUBLIC",
            },
        ]
        self.refreshes: list[str] = []
        self.process = subprocess.Popen(
            [node, str(HERE / "okta.mjs")],
            cwd=HERE,
            env={
                "PATH": "/usr/bin:/bin:/usr/local/bin",
                "PORT": "0",
                "SERVER_ID": SERVER_ID,
                "OKTA_CLIENTS": json.dumps(clients),
                "ACCESS_TTL": str(access_ttl),
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
            raise RuntimeError(f"the Okta-like server did not start (last line: {line!r})")
        self.issuer = line.split(" ", 1)[1].strip()
        self.domain = urlsplit(self.issuer).netloc  # 127.0.0.1:<port>
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            if line.startswith("refresh "):
                self.refreshes.append(line.split(" ", 1)[1].strip())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
