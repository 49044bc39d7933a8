"""Traces of the gateway's tool calls, spooled so that a call never waits on the database and a
database outage loses nothing.

The call path appends one JSON line per call to its process's current file in the spool
directory (`current-<pid>.jsonl`: a local append and flush, microseconds). Every second the
current file becomes a segment (an atomic rename, `segment-<ns>-<pid>.jsonl`), and a writer
stores each segment in the database in one transaction, then deletes it. The writer is
`manage.py mcp_trace_writer`, a process of its own that `manage.py mcp_gateway` starts beside
the gateway (so the database writes never take the gateway's interpreter from its calls), or a
thread of the gateway (`build_app(writer="thread")`, the ASGI entry point's default). If the
database is down, a segment stays and is tried again a second later; if the writer dies after
the insert and before the delete, its next run inserts the segment again and the unique
`trace_id` keeps every trace exactly once; the current file of a gateway process that died is
taken as a segment by the writer.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Spool:
    """The gateway process's side: appends and rotates (`flush()` also writes, for the
    in-process writer and the tests)."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory or settings.MCP_TRACE_SPOOL_DIR)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.current = self.directory / f"current-{self.pid}.jsonl"
        self.handle = open(self.current, "a", encoding="utf-8")  # noqa: SIM115 (kept open)

    def append(self, trace: dict[str, Any]) -> None:
        line = json.dumps(trace, ensure_ascii=False, default=str)
        with self.lock:
            self.handle.write(line + "\n")
            self.handle.flush()

    def rotate(self) -> None:
        """The current file becomes a segment (when it holds anything)."""
        with self.lock:
            if self.handle.tell() == 0:
                return
            self.handle.close()
            self.current.rename(self.directory / f"segment-{time.time_ns()}-{self.pid}.jsonl")
            self.handle = open(self.current, "a", encoding="utf-8")  # noqa: SIM115

    def pending(self) -> int:
        """Traces not yet in the database."""
        return pending(self.directory)

    def flush(self) -> int:
        """Rotates, then writes every segment to the database; returns the traces written."""
        self.rotate()
        return write_segments(self.directory)

    def close(self) -> None:
        with self.lock:
            self.handle.close()


def pending(directory: Path) -> int:
    count = 0
    for path in Path(directory).glob("*.jsonl"):
        with open(path, encoding="utf-8") as f:
            count += sum(1 for line in f if line.strip())
    return count


def adopt_orphans(directory: Path) -> int:
    """The current files of gateway processes that are gone become segments."""
    adopted = 0
    for path in Path(directory).glob("current-*.jsonl"):
        pid = path.stem.removeprefix("current-")
        if pid.isdigit() and not _alive(int(pid)) and path.stat().st_size:
            path.rename(path.with_name(f"segment-{time.time_ns()}-{pid}.jsonl"))
            adopted += 1
    return adopted


def write_segments(directory: Path) -> int:
    """Writes every segment to the database, oldest first; returns the traces written. Stops at
    the first database error (the segment stays for the next try)."""
    written = 0
    for segment in sorted(Path(directory).glob("segment-*.jsonl")):
        try:
            lines = segment.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:  # another writer (another gateway worker's) took it
            continue
        traces = []
        for line in lines:
            try:
                traces.append(json.loads(line))
            except ValueError:  # a line cut short by a crash mid-write
                log.warning("trace spool: %s holds a line that is not JSON; skipped", segment)
        try:
            written += store(traces)
        except DatabaseError as exc:
            log.warning("trace spool: the database refused %s (%s); retrying", segment, exc)
            from django.db import close_old_connections, connection

            close_old_connections()
            connection.close()
            break
        segment.unlink(missing_ok=True)
    return written


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


# Seconds a writer's transaction may sit idle before PostgreSQL ends its session. A writer that
# lost its connection mid-transaction (a network fault that the server's side never saw) leaves
# a backend idle in that transaction, holding the segment's rows uncommitted: the writer's next
# try of the segment would wait on them until TCP keepalive ended the backend, about two hours.
# The writer's own statements follow one another at once, so a minute idle means abandoned.
IDLE_IN_TRANSACTION = 60.0


def _end_if_abandoned() -> None:
    """In the writer's transaction: PostgreSQL ends the session if it is left idle in it."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(
                "SELECT set_config('idle_in_transaction_session_timeout', %s, true)",
                [str(int(IDLE_IN_TRANSACTION * 1000))],
            )


def store(traces: list[dict[str, Any]]) -> int:
    """Inserts these traces and their payloads in one transaction, skipping any already stored
    (by trace_id); returns how many were new."""
    from gateway.models import ToolTrace
    from orgs.models import Organization

    if not traces:
        return 0
    with transaction.atomic():
        _end_if_abandoned()
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
                    offline=bool(t.get("offline")),
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
        _mark_days(made)
        return len(made)


def _mark_days(made: list[Any]) -> None:
    """The usage rows of these traces' days are due a recompute (gateway.usage). An upsert, so
    that a mark a rollup is taking is waited for, not skipped."""
    from datetime import UTC

    from gateway.models import UsageDirty

    days = {(t.org_id, t.at.astimezone(UTC).date()) for t in made}
    UsageDirty.objects.bulk_create(
        [UsageDirty(org_id=o, day=d) for o, d in sorted(days)],
        update_conflicts=True,
        unique_fields=["org", "day"],
        update_fields=["day"],
    )


class Flusher:
    """The in-process writer: a daemon thread that rotates and writes every `interval`
    seconds (or, with `write=False`, only rotates: the writer is a process of its own)."""

    def __init__(self, spool: Spool, interval: float = 1.0, write: bool = True) -> None:
        self.spool = spool
        self.interval = interval
        self.write = write
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="trace-flusher", daemon=True)

    def start(self) -> Flusher:
        self.thread.start()
        return self

    def _once(self) -> None:
        if self.write:
            self.spool.flush()
        else:
            self.spool.rotate()

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                self._once()
            except Exception:  # a bug must not stop the tracing for good
                log.exception("trace spool: flush failed")

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(10)
        try:
            self._once()
        except Exception:
            log.exception("trace spool: last flush failed")


def drain(
    directory: Path, interval: float, stopped: threading.Event, parent: int | None = None
) -> None:
    """The writer process's loop (`manage.py mcp_trace_writer`): adopts dead processes'
    current files and writes the segments every `interval` seconds until stopped (or until
    the `parent` process is gone), then once more."""
    while True:
        if parent and not _alive(parent):
            stopped.set()  # the gateway is gone: its current file is adopted in this pass
        try:
            adopt_orphans(directory)
            write_segments(directory)
        except Exception:  # a bug must not stop the tracing for good
            log.exception("trace writer: a pass failed")
        if stopped.is_set():
            return
        stopped.wait(interval)
