"""A small SAML IdP web page on loopback for the browser tests, built on pysaml2's own IdP.

GET /sso?SAMLRequest=… shows a sign-in form; POST /sso answers with a genuinely signed
Response through the HTTP-POST binding (an auto-submitting form to our ACS), as Okta does."""

from __future__ import annotations

import html
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from tests.sso.saml_idp import Person, TestIdp, b64


class IdpPage:
    def __init__(self, people: dict[str, Person]) -> None:
        self.people = people
        self.idp: TestIdp | None = None
        page = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def _send(self, body: str) -> None:
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                request = page.idp.read_request(self.path)
                relay = html.escape(request["relay_state"])
                self._send(
                    "<!doctype html><title>Test IdP</title><h1>Test IdP sign-in</h1>"
                    '<form method="post" action="/sso">'
                    f'<input type="hidden" name="id" value="{html.escape(request["id"])}">'
                    f'<input type="hidden" name="acs" value="{html.escape(request["acs"])}">'
                    f'<input type="hidden" name="sp" value="{html.escape(request["issuer"])}">'
                    f'<input type="hidden" name="relay" value="{relay}">'
                    '<label>Username <input name="username" id="idp-username"></label>'
                    '<button type="submit" id="idp-submit">Sign in</button></form>'
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                person = page.people[form["username"]]
                relay = html.escape(form.get("relay", ""))
                xml = page.idp.respond(
                    person, in_response_to=form["id"], acs=form["acs"], audience=form["sp"]
                )
                self._send(
                    "<!doctype html><title>Signing in…</title>"
                    f'<form method="post" action="{html.escape(form["acs"])}" id="saml-post">'
                    f'<input type="hidden" name="SAMLResponse" value="{b64(xml)}">'
                    f'<input type="hidden" name="RelayState" value="{relay}">'
                    "</form><script>document.getElementById('saml-post').submit()</script>"
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sso"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def use(self, *, sp_metadata: str, keys: tuple[str, str]) -> TestIdp:
        self.idp = TestIdp(sp_metadata=sp_metadata, sso_url=self.url, keys=keys)
        return self.idp

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
