"""How records reach a destination: syslog (RFC 5424 messages, octet-counted over TLS, RFC 5425),
an HTTPS webhook (a JSON batch signed with HMAC-SHA256), and Splunk's HTTP Event Collector.
Each sender takes a batch of records and returns only when the destination has taken all of
them, or raises DeliveryError saying what went wrong; the cursor moves only after it returns.

Receipt, per transport:
- syslog has no acknowledgement, so the batch is its own connection: after the last message we
  close our side (TLS close_notify) and wait for the collector to close its side. A collector
  closes after reading everything before our close; one that died with data unread resets the
  connection instead, and the batch is sent again.
- a webhook's receipt is a 2xx answer;
- HEC's is `{"code": 0}`, and where indexer acknowledgement is on (the answer carries an
  `ackId`), the ack endpoint saying the batch was indexed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import socket
import ssl
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from django.conf import settings

from audit.choices import AuditAction, outcome_of
from core import crypto, outbound
from core.exceptions import ValidationFailed
from siem.choices import Kind, Payload
from siem.exceptions import DeliveryError
from siem.models import AuditStream

FORMAT = "governance-audit-stream/1"
TIMEOUT = 10  # seconds per connection, read and write
ACK_TIMEOUT = 30  # seconds Splunk may take to index a batch
SD_ID = "governance@32473"  # 32473: the enterprise number RFC 5612 reserves for examples
FACILITY_LOG_AUDIT = 13
HEC_PATH = "/services/collector/event"

Sender = Callable[[list[dict[str, Any]]], None]


def sender_for(destination: AuditStream, *, ack_timeout: float = ACK_TIMEOUT) -> Sender:
    """The destination's sender. `ack_timeout` bounds the wait for Splunk's indexer
    acknowledgement (a test record sent from a page waits less than a request may last)."""
    if destination.kind == Kind.HEC:
        return lambda records: _hec(destination, records, ack_timeout)
    senders = {Kind.SYSLOG: _syslog, Kind.WEBHOOK: _webhook}
    send = senders[Kind(destination.kind)]
    return lambda records: send(destination, records)


def tls_context(ca_pem: str) -> ssl.SSLContext:
    """The system's CAs, plus the destination's own CA when it has one; TLS 1.2 at least."""
    context = ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_pem:
        context.load_verify_locations(cadata=ca_pem)
    return context


def split_hostport(endpoint: str) -> tuple[str, int]:
    """`host:port`, `host` (port 6514, syslog over TLS) or `[v6]:port`."""
    match = re.fullmatch(
        r"\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?|([A-Za-z0-9.-]+)(?::(\d{1,5}))?", endpoint
    )
    if match is None:
        raise ValidationFailed(
            f"{endpoint[:100]!r} is not host:port (for example siem.example.com:6514).",
            field="endpoint",
        )
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4) or 6514)
    if not 0 < port < 65536:
        raise ValidationFailed(f"Port {port} is not between 1 and 65535.", field="endpoint")
    return host, port


def hec_url(endpoint: str) -> str:
    """The collector's event endpoint: a bare https://host:8088 gets Splunk's path."""
    parts = urlsplit(endpoint)
    if parts.path in ("", "/"):
        parts = parts._replace(path=HEC_PATH)
    return urlunsplit(parts)


def _secret(destination: AuditStream) -> str:
    try:
        return crypto.decrypt(destination.secret)
    except RuntimeError as exc:
        raise DeliveryError(str(exc)) from None


# --- syslog -------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _hostname() -> str:
    host = urlsplit(settings.PUBLIC_URL).hostname if settings.PUBLIC_URL else ""
    host = host or socket.gethostname() or "-"
    return re.sub(r"[^!-~]", "", host)[:255] or "-"


def _sd_escape(value: Any) -> str:
    return re.sub(r'(["\\\]])', r"\\\1", str(value))


def _cef_header(value: Any) -> str:
    return str(value).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _cef_value(value: Any) -> str:
    text = str(value).replace("\\", "\\\\").replace("=", "\\=")
    return text.replace("\r", "\\r").replace("\n", "\\n")


CEF_SEVERITY = {"allowed": 3, "failed": 5, "denied": 7}
LABELS = dict(AuditAction.choices)


def cef(record: dict[str, Any]) -> str:
    """One record in ArcSight's Common Event Format. Events map to CEF's own keys where one
    exists (rt, act, suser, suid, src, outcome, externalId, requestClientApplication) and to
    labelled custom strings otherwise; seal heads and test records carry their JSON in msg."""
    kind = record["type"]
    if kind != "event":
        name = "Audit seal" if kind == "seal" else "Audit stream test"
        head = ["CEF:0", "Governance", "governance", "1", f"audit.{kind}", name, "3"]
        ext = {"msg": json.dumps(record, separators=(",", ":"), sort_keys=True)}
    else:
        action = record["action"]
        outcome = outcome_of(action)
        head = [
            "CEF:0",
            "Governance",
            "governance",
            "1",
            action,
            LABELS.get(action, action),
            str(CEF_SEVERITY[outcome]),
        ]
        stamp = datetime.fromisoformat(record["occurred_at"].replace("Z", "+00:00"))
        ext = {
            "rt": str(int(stamp.timestamp() * 1000)),
            "externalId": record["id"],
            "act": action,
            "outcome": outcome,
            "suser": record["actor_label"],
            "suid": record["actor_id"],
            "cs1Label": "actorKind",
            "cs1": record["actor_kind"],
            "cs2Label": "targetType",
            "cs2": record["target_type"],
            "cs3Label": "targetId",
            "cs3": record["target_id"],
            "cs4Label": "targetLabel",
            "cs4": record["target_label"],
            "cs5Label": "requestId",
            "cs5": record["request_id"],
            "cs6Label": "leaf",
            "cs6": record["leaf"],
            "cn1Label": "sealSeq",
            "cn1": record["seal"]["seq"],
            "cn2Label": "sealIndex",
            "cn2": record["seal"]["index"],
            "requestClientApplication": record["user_agent"],
            "msg": json.dumps(record["data"], separators=(",", ":"), sort_keys=True),
        }
        if record.get("ip"):
            ext["src"] = record["ip"]
    head = [head[0]] + [_cef_header(h) for h in head[1:]]
    body = " ".join(f"{k}={_cef_value(v)}" for k, v in ext.items() if v not in ("", None))
    return "|".join(head) + "|" + body


def syslog_message(record: dict[str, Any], payload: str) -> bytes:
    """One RFC 5424 message: facility 13 (log audit), severity 4 (warning) for a refusal or
    a failure and 6 (informational) otherwise; APP-NAME `governance`, MSGID the record's type,
    structured data naming the event, and the record (JSON or CEF, ASCII) as the message."""
    kind = record["type"]
    severity = 6
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    params: dict[str, Any] = {}
    if kind == "event":
        severity = 6 if outcome_of(record["action"]) == "allowed" else 4
        stamp = record["occurred_at"]
        params = {"id": record["id"], "action": record["action"], "seal": record["seal"]["seq"]}
    elif kind == "seal":
        params = {"seal": record["seq"], "org": record["org"]}
    sd = "[" + SD_ID + "".join(f' {k}="{_sd_escape(v)}"' for k, v in params.items()) + "]"
    if payload == Payload.CEF:
        msg = cef(record)
    else:
        msg = json.dumps(record, separators=(",", ":"), ensure_ascii=True)
    pri = FACILITY_LOG_AUDIT * 8 + severity
    line = f"<{pri}>1 {stamp} {_hostname()} governance - {kind} {sd} {msg}"
    return line.encode("ascii", "backslashreplace")


def _syslog(destination: AuditStream, records: list[dict[str, Any]]) -> None:
    frames = b""
    for record in records:
        message = syslog_message(record, destination.payload)
        frames += str(len(message)).encode() + b" " + message  # octet counting, RFC 5425
    host, port = split_hostport(destination.endpoint)
    try:
        addresses = outbound.checked_addresses(
            host, port, what="syslog destination", reach=outbound.siem_reach()
        )
        context = tls_context(destination.ca_pem)
    except (ValidationFailed, ssl.SSLError) as exc:
        raise DeliveryError(getattr(exc, "message", str(exc))) from None
    where = f"{host}:{port}"
    try:
        raw = socket.create_connection((outbound.pick(addresses), port), timeout=TIMEOUT)
    except OSError as exc:
        raise DeliveryError(f"Cannot connect to {where}: {exc.strerror or exc}.") from None
    try:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            tls.sendall(frames)
            _confirm_closed(tls, where)
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryError(
            f"{where}'s TLS certificate was not accepted ({exc.verify_message}); add its CA "
            "certificate to the destination."
        ) from None
    except DeliveryError:
        raise
    except (OSError, ssl.SSLError) as exc:
        raise DeliveryError(
            f"{where} dropped the connection before taking the batch ({exc.__class__.__name__}: "
            f"{exc}); it is sent again."
        ) from None
    finally:
        raw.close()


def _confirm_closed(tls: ssl.SSLSocket, where: str) -> None:
    """Our close_notify, then the collector's end of the stream: proof it read the batch."""
    try:
        tls.unwrap()
        return
    except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
        return  # it closed after reading to our end: received
    except TimeoutError:
        raise DeliveryError(
            f"{where} took the batch but did not close the connection within {TIMEOUT} s, so "
            "its receipt is not confirmed; it is sent again."
        ) from None
    except ssl.SSLError as exc:
        if "EOF" in str(exc) or "UNEXPECTED_EOF" in str(exc):
            return
        raise


# --- HTTPS: webhook and HEC -----------------------------------------------------------------


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """`v1=` and the hex HMAC-SHA256 of `<timestamp>.<body>` under the destination's secret:
    the receiver recomputes it, compares in constant time, and refuses a timestamp older than
    five minutes (a replayed request)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def _post(destination: AuditStream, url: str, what: str, body: bytes, headers: dict) -> Any:
    try:
        context = tls_context(destination.ca_pem)
        return outbound.fetch(
            "POST",
            url,
            what=what,
            timeout=TIMEOUT,
            reach=outbound.siem_reach(),
            ssl_context=context,
            data=body,
            headers=headers,
        )
    except ValidationFailed as exc:
        raise DeliveryError(exc.message) from None
    except requests.exceptions.SSLError as exc:
        raise DeliveryError(
            f"The {what}'s TLS certificate was not accepted ({_reason(exc)}); add its CA "
            "certificate to the destination."
        ) from None
    except requests.Timeout:
        raise DeliveryError(f"The {what} did not answer within {TIMEOUT} s.") from None
    except (requests.RequestException, ssl.SSLError, OSError) as exc:
        raise DeliveryError(f"Cannot reach the {what}: {_reason(exc)}.") from None


def _reason(exc: BaseException) -> str:
    text = str(exc)
    match = re.search(
        r"\[SSL: [A-Z_]+\][^')\"]*|Connection refused|Name or service not known", text
    )
    return (match.group(0) if match else text)[:300]


def _webhook(destination: AuditStream, records: list[dict[str, Any]]) -> None:
    delivery = str(uuid.uuid4())
    body = json.dumps(
        {
            "format": FORMAT,
            "organization": destination.org.slug,
            "destination": destination.name,
            "delivery": delivery,
            "records": records,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    timestamp = str(int(time.time()))
    response = _post(
        destination,
        destination.endpoint,
        "webhook",
        body,
        {
            "Content-Type": "application/json",
            "User-Agent": FORMAT,
            "X-Governance-Delivery": delivery,
            "X-Governance-Timestamp": timestamp,
            "X-Governance-Signature": webhook_signature(_secret(destination), timestamp, body),
        },
    )
    if not 200 <= response.status_code < 300:
        raise DeliveryError(
            f"The webhook answered {response.status_code}: {response.text[:200]!r}; the batch is "
            "sent again."
        )


# What Splunk's collector codes mean, for the admin reading the last error.
HEC_CODES = {
    1: "the collector is disabled",
    2: "the token is missing",
    3: "the Authorization header is malformed",
    4: "the token is not valid",
    5: "no data was sent",
    6: "the data format is not valid",
    7: "the index is not allowed for this token (check the destination's index)",
    8: "the collector had an internal error",
    9: "the collector is busy",
    10: "a data channel is required",
    11: "the data channel is not valid",
    14: "indexer acknowledgement is disabled",
}


def _hec_headers(destination: AuditStream) -> dict[str, str]:
    return {
        "Authorization": f"Splunk {_secret(destination)}",
        "X-Splunk-Request-Channel": destination.hec_channel,
        "Content-Type": "application/json",
        "User-Agent": FORMAT,
    }


def _hec_answer(response: Any) -> dict[str, Any]:
    try:
        answer = response.json()
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    code = answer.get("code")
    if response.status_code == 200 and code in (0, None):
        return answer
    meaning = HEC_CODES.get(code, answer.get("text") or response.text[:200])
    raise DeliveryError(
        f"Splunk answered {response.status_code} (code {code}: {meaning}); the batch is sent again."
    )


def hec_event(record: dict[str, Any], destination: AuditStream) -> dict[str, Any]:
    at = record.get("occurred_at") or record.get("sealed_at") or record.get("sent_at")
    stamp = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() if at else time.time()
    event: dict[str, Any] = {
        "time": round(stamp, 6),
        "host": _hostname(),
        "source": "governance",
        "sourcetype": destination.hec_sourcetype or "governance:audit",
        "event": record,
    }
    if destination.hec_index:
        event["index"] = destination.hec_index
    return event


def _hec(destination: AuditStream, records: list[dict[str, Any]], ack_timeout: float) -> None:
    url = hec_url(destination.endpoint)
    body = "\n".join(
        json.dumps(hec_event(r, destination), separators=(",", ":"), ensure_ascii=False)
        for r in records
    ).encode()
    headers = _hec_headers(destination)
    answer = _hec_answer(_post(destination, url, "HTTP Event Collector", body, headers))
    if "ackId" in answer:
        _hec_wait_for_ack(destination, url, answer["ackId"], headers, ack_timeout)


def _hec_wait_for_ack(
    destination: AuditStream, url: str, ack_id: Any, headers: dict, timeout: float
) -> None:
    """Indexer acknowledgement: the batch counts as delivered once Splunk says it is indexed."""
    ack_url = url[: -len("/event")] + "/ack" if url.endswith("/event") else url + "/ack"
    deadline = time.monotonic() + timeout
    pause = 0.2
    body = json.dumps({"acks": [ack_id]}).encode()
    while time.monotonic() < deadline:
        answer = _hec_answer(_post(destination, ack_url, "HEC acknowledgement", body, headers))
        acks = answer.get("acks") or {}
        if isinstance(acks, dict) and acks.get(str(ack_id)) is True:
            return
        time.sleep(pause)
        pause = min(pause * 2, 2)
    raise DeliveryError(
        f"Splunk took the batch but did not acknowledge indexing it within {timeout:g} s; "
        "it is sent again."
    )
