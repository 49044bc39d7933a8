"""Real SIEM receivers on loopback, run as their own processes so a test can kill one mid-stream:

    python receivers.py syslog|webhook|hec --port P --cert C --key K --out FILE
        [--secret S] [--token T] [--ack] [--die-after N]

- syslog: RFC 5425 (TLS, octet-counted RFC 5424 messages); each message is one line of FILE.
  Reads to the end of the stream, then closes (what rsyslog and syslog-ng do).
- webhook: HTTPS POST with a JSON batch; checks X-Governance-Signature (HMAC-SHA256 of
  `<timestamp>.<body>` under --secret) and refuses a timestamp more than five minutes old;
  each record is one line of FILE.
- hec: Splunk's HTTP Event Collector (`Authorization: Splunk <token>`, newline-separated event
  objects, `{"text": "Success", "code": 0}`, and with --ack an ackId and the ack endpoint);
  each event's `event` is one line of FILE.

--die-after N: the process exits abruptly (no answer, no close) after taking N records: a
receiver killed in the middle of a batch. It prints `ready` once it listens.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

taken = 0
lock = threading.Lock()
files: dict[str, object] = {}


def record(out: str, line: str, die_after: int) -> None:
    """One record, written through at once (a kill loses nothing already taken)."""
    global taken
    with lock:
        f = files.get(out) or files.setdefault(out, open(out, "a", encoding="utf-8"))  # noqa: SIM115
        f.write(line.rstrip("\n") + "\n")
        f.flush()
        taken += 1
        if die_after and taken >= die_after:
            os._exit(3)


def tls_server_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def serve_syslog(args: argparse.Namespace) -> None:
    context = tls_server_context(args.cert, args.key)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", args.port))
    listener.listen(16)
    print("ready", flush=True)
    while True:
        conn, _ = listener.accept()
        threading.Thread(target=syslog_session, args=(context, conn, args), daemon=True).start()


def syslog_session(context: ssl.SSLContext, conn: socket.socket, args: argparse.Namespace) -> None:
    try:
        tls = context.wrap_socket(conn, server_side=True)
    except (ssl.SSLError, OSError):
        conn.close()
        return
    buffer = b""
    try:
        while True:
            chunk = tls.recv(65536)
            if not chunk:
                break
            buffer += chunk
            while True:  # octet counting: "<length> <message>"
                space = buffer.find(b" ")
                if space < 0:
                    break
                length = int(buffer[:space])
                if len(buffer) < space + 1 + length:
                    break
                message = buffer[space + 1 : space + 1 + length]
                buffer = buffer[space + 1 + length :]
                record(args.out, message.decode("ascii"), args.die_after)
    except (ssl.SSLError, OSError):
        pass
    finally:
        tls.close()


class Handler(BaseHTTPRequestHandler):
    args: argparse.Namespace
    acks: dict[int, bool] = {}
    next_ack = 0

    def log_message(self, *a: object) -> None:
        pass

    def answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.args.kind == "webhook":
            self.webhook(body)
        else:
            self.hec(body)

    def webhook(self, body: bytes) -> None:
        timestamp = self.headers.get("X-Governance-Timestamp", "")
        expected = (
            "v1="
            + hmac.new(
                self.args.secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
            ).hexdigest()
        )
        signature = self.headers.get("X-Governance-Signature", "")
        if not hmac.compare_digest(expected, signature):
            self.answer(401, {"error": "bad signature"})
            return
        if abs(time.time() - int(timestamp)) > 300:
            self.answer(401, {"error": "stale timestamp"})
            return
        batch = json.loads(body)
        for item in batch["records"]:
            record(self.args.out, json.dumps(item), self.args.die_after)
        self.answer(200, {"received": len(batch["records"])})

    def hec(self, body: bytes) -> None:
        if self.headers.get("Authorization") != f"Splunk {self.args.token}":
            self.answer(403, {"text": "Invalid token", "code": 4})
            return
        if not self.headers.get("X-Splunk-Request-Channel"):
            self.answer(400, {"text": "Data channel is missing", "code": 10})
            return
        if self.path.startswith("/services/collector/ack"):
            wanted = json.loads(body)["acks"]
            self.answer(200, {"acks": {str(a): Handler.acks.get(a, False) for a in wanted}})
            return
        if self.path != "/services/collector/event":
            self.answer(404, {"text": "The requested URL was not found", "code": 404})
            return
        decoder = json.JSONDecoder()
        text, i = body.decode(), 0
        while i < len(text):
            while i < len(text) and text[i].isspace():
                i += 1
            if i >= len(text):
                break
            event, i = decoder.raw_decode(text, i)
            record(self.args.out, json.dumps(event["event"]), self.args.die_after)
        if self.args.ack:
            ack = Handler.next_ack
            Handler.next_ack += 1
            Handler.acks[ack] = True
            self.answer(200, {"text": "Success", "code": 0, "ackId": ack})
        else:
            self.answer(200, {"text": "Success", "code": 0})


def serve_http(args: argparse.Namespace) -> None:
    Handler.args = args
    ThreadingHTTPServer.allow_reuse_address = True
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.socket = tls_server_context(args.cert, args.key).wrap_socket(
        server.socket, server_side=True
    )
    print("ready", flush=True)
    server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["syslog", "webhook", "hec"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--secret", default="")
    parser.add_argument("--token", default="")
    parser.add_argument("--ack", action="store_true")
    parser.add_argument("--die-after", type=int, default=0)
    args = parser.parse_args()
    if args.kind == "syslog":
        serve_syslog(args)
    else:
        serve_http(args)


if __name__ == "__main__":
    sys.exit(main())
