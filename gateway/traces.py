"""Traces of the gateway's tool calls, spooled so that a call never waits on the database and a
database outage loses nothing.

The call path appends one JSON line per call to the spool's current file (a local append and
flush, microseconds). A flusher thread turns the current file into a segment (an atomic rename)
and writes each segment to the database in one transaction, then deletes it. If the database is
down, the segment stays and is tried again a second later; if the process dies after the
insert and before the delete, the next start inserts the segment again and the unique
`trace_id` keeps every trace exactly once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, transaction

log = logging.getLogger(__name__)


def record(**fields: Any) -> dict[str, Any]:
    """A trace as the spool keeps it (arguments and result as JSON text)."""
    return {"trace_id": str(uuid.uuid4()), **fields}


class Spool:
    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory or settings.MCP_TRACE_SPOOL_DIR)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.current = self.directory / "current.jsonl"
        self.handle = open(self.current, "a", encoding="utf-8")  # noqa: SIM115 (kept open)

    def append(self, trace: dict[str, Any]) -> None:
        line = json.dumps(trace, ensure_ascii=False, default=str)
        with self.lock:
            self.handle.write(line + "\n")
            self.handle.flush()

    def _rotate(self) -> None:
        with self.lock:
            if self.handle.tell() == 0:
                return
            self.handle.close()
            self.current.rename(self.directory / f"segment-{time.time_ns()}.jsonl")
            self.handle = open(self.current, "a", encoding="utf-8")  # noqa: SIM115

    def pending(self) -> int:
        """Traces not yet in the database."""
        count = 0
        for path in self.directory.glob("*.jsonl"):
            with open(path, encoding="utf-8") as f:
                count += sum(1 for line in f if line.strip())
        return count

    def flush(self) -> int:
        """Writes every complete segment to the database; returns the traces written. Stops at
        the first database error (the segment stays for the next try)."""
        self._rotate()
        written = 0
        for segment in sorted(self.directory.glob("segment-*.jsonl")):
            lines = segment.read_text(encoding="utf-8").splitlines()
            traces = [json.loads(line) for line in lines if line.strip()]
            try:
                written += store(traces)
            except DatabaseError as exc:
                log.warning("trace spool: the database refused %s (%s); retrying", segment, exc)
                from django.db import close_old_connections

                close_old_connections()
                break
            segment.unlink()
        return written

    def close(self) -> None:
        with self.lock:
            self.handle.close()


def _payload(trace: Any, direction: str, text: str, keep: bool, at: datetime) -> Any:
    from gateway.models import ToolTracePayload

    data = text.encode()
    return ToolTracePayload(
        trace=trace,
        direction=direction,
        content=text if keep else "",
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        created_at=at,
    )


def store(traces: list[dict[str, Any]]) -> int:
    """Inserts these traces and their payloads in one transaction, skipping any already stored
    (by trace_id); returns how many were new."""
    from gateway.models import ToolTrace
    from orgs.models import Organization

    if not traces:
        return 0
    with transaction.atomic():
        ids = [t["trace_id"] for t in traces]
        known = {
            str(i)
            for i in ToolTrace.objects.filter(trace_id__in=ids).values_list("trace_id", flat=True)
        }
        fresh = [t for t in traces if t["trace_id"] not in known]
        if not fresh:
            return 0
        zdr = set(
            Organization.objects.filter(
                pk__in={t["org_id"] for t in fresh}, zero_data_retention=True
            ).values_list("pk", flat=True)
        )
        rows = []
        for t in fresh:
            at = datetime.fromisoformat(t["at"])
            rows.append(
                ToolTrace(
                    trace_id=t["trace_id"],
                    org_id=t["org_id"],
                    member_id=t.get("member_id"),
                    member_label=t.get("member_label", "")[:300],
                    run_id=t.get("run_id"),
                    agent_id=t.get("agent_id"),
                    workflow_id=t.get("workflow_id"),
                    team_id=t.get("team_id"),
                    client=t.get("client", "")[:200],
                    server_id=t.get("server_id"),
                    server_name=t.get("server_name", "")[:100],
                    integration=t.get("integration", "")[:32],
                    tool=t.get("tool", "")[:200],
                    outcome=t.get("outcome", "")[:16],
                    error=t.get("error", "")[:1000],
                    latency_ms=float(t.get("latency_ms") or 0),
                    arguments_size=len((t.get("arguments") or "").encode()),
                    result_size=len((t.get("result") or "").encode()),
                    at=at,
                )
            )
        made = ToolTrace.objects.bulk_create(rows)
        payloads = []
        for trace, t in zip(made, fresh, strict=True):
            keep = t["org_id"] not in zdr
            for direction, key in (("input", "arguments"), ("output", "result")):
                if t.get(key) is not None:
                    payloads.append(_payload(trace, direction, t[key], keep, trace.at))
        from gateway.models import ToolTracePayload

        ToolTracePayload.objects.bulk_create(payloads)
        return len(made)


class Flusher:
    """The spool's writer to the database: a daemon thread, every `interval` seconds."""

    def __init__(self, spool: Spool, interval: float = 1.0) -> None:
        self.spool = spool
        self.interval = interval
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="trace-flusher", daemon=True)

    def start(self) -> Flusher:
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self.spool.flush()
            except Exception:  # a bug must not stop the tracing for good
                log.exception("trace spool: flush failed")

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(10)
        try:
            self.spool.flush()
        except Exception:
            log.exception("trace spool: last flush failed")
