"""Audit streams on PostgreSQL: `make bench-streams` (`.venv/bin/python bench/streams.py`).

BENCH_STREAM_EVENTS events (default 200,000) in one organization, sealed; then each kind of
stream delivers the whole trail from the beginning to the test suite's loopback receiver
(tests/siem/receivers.py, one Python process that parses each record and appends it to a
file), and the rate is events delivered per second, end to end (reading, building records,
TLS, the receiver's work, its confirmation, the cursor's writes):
  - syslog with a JSON payload, syslog with CEF;
  - the signed webhook;
  - Splunk HEC with indexer acknowledgement;
  - a filtered syslog stream (one event in seven matches), whose events carry inclusion proofs.
Batches are GOVERNANCE_SIEM_BATCH_EVENTS (default 500) events.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("BENCH_DATABASE", "governance_bench_streams")

from bench.audit import load_sealed  # noqa: E402
from bench.scim import ENV, fresh_database, machine_loop_seconds  # noqa: E402

os.environ.update(ENV)
os.environ.pop("REDIS_URL", None)
os.environ["GOVERNANCE_SIEM_ALLOW_PRIVATE_DESTINATIONS"] = "1"
EVENTS = int(os.environ.get("BENCH_STREAM_EVENTS", "200000"))


def run(org: object, pki: dict, kind: str, spec: dict, options: dict) -> dict[str, object]:
    from siem.delivery import deliver
    from siem.models import AuditStream
    from siem.services import Spec, destination_create
    from tests.siem.conftest import Receiver

    out = Path(tempfile.mkdtemp()) / "received.jsonl"
    receiver = Receiver(kind, pki, out, **options)
    try:
        name = f"{kind} {spec.get('payload', '')} {len(AuditStream.objects.all())}"
        stream, secret = destination_create(
            org=org,
            actor=None,
            kind=kind,
            start="beginning",
            spec=Spec(name=name, endpoint=receiver.endpoint, ca_pem=pki["ca_pem"], **spec),
        )
        if secret:
            receiver.options["secret"] = secret
        receiver.start()
        started = time.perf_counter()
        delivered = batches = 0
        while True:
            done = deliver(stream.pk, budget=3600)
            assert "error" not in done, done
            delivered += done["events"]
            batches += done["batches"]
            if not done["more"]:
                break
        seconds = time.perf_counter() - started
        return {
            "events": delivered,
            "batches": batches,
            "seconds": round(seconds, 2),
            "events_per_s": round(delivered / seconds),
            "received_lines": sum(1 for _ in out.open()),
        }
    finally:
        receiver.kill()


def main() -> None:
    fresh_database()
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from audit.sealing import seal_all
    from orgs.services.orgs import org_create
    from tests.siem.conftest import make_pki

    org = org_create(slug="streams", name="Streams", actor=None)
    load_sealed(org, EVENTS)
    sealed = seal_all()
    pki = make_pki(Path(tempfile.mkdtemp()))
    figures: dict[str, object] = {
        "machine_loop_s": machine_loop_seconds(),
        "events": EVENTS,
        "seals": sealed["seals"],
        "batch": int(os.environ.get("GOVERNANCE_SIEM_BATCH_EVENTS", "500")),
    }
    figures["syslog_json"] = run(org, pki, "syslog", {"payload": "json"}, {})
    figures["syslog_cef"] = run(org, pki, "syslog", {"payload": "cef"}, {})
    figures["webhook"] = run(org, pki, "webhook", {}, {})
    figures["hec_ack"] = run(org, pki, "hec", {"token": "bench"}, {"token": "bench", "ack": True})
    figures["syslog_filtered_with_proofs"] = run(
        org, pki, "syslog", {"payload": "json", "actions": ["access.denied"]}, {}
    )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
