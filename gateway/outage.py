"""What the gateway does while its database is unreachable.

Every call reads the caller, their roles and the call's route from the database (nothing is
cached, so a revoke counts at the next call). While the database cannot be reached, the
gateway answers from what it read last for the same credential and tool, if that is at most
GOVERNANCE_MCP_OUTAGE_GRACE seconds old (default 120; 0 refuses every call instead): a token
revoked during the outage cannot have been revoked (the database that would record it is
down), so the only decisions it can replay are the ones the database made moments before.
Such calls are traced with `offline` set; a refusal replayed then is traced but not audited
(the audit log is in the database), and the trace says so. Without a recent answer, the
call is refused with 503 and the reason.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from typing import Any

from django.conf import settings

SIZE = 10_000  # credentials and tools remembered; the least recently used go first


def key(*parts: str) -> str:
    """A digest of the credential and what was asked (the secret itself is not kept)."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class LastKnown:
    def __init__(self, grace: float | None = None, size: int = SIZE) -> None:
        self.grace = settings.MCP_OUTAGE_GRACE if grace is None else grace
        self.size = size
        self.lock = threading.Lock()
        self.entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    def remember(self, digest: str, value: Any) -> None:
        if self.grace <= 0:
            return
        with self.lock:
            self.entries[digest] = (time.monotonic(), value)
            self.entries.move_to_end(digest)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)

    def recall(self, digest: str) -> Any | None:
        with self.lock:
            found = self.entries.get(digest)
        if found is None or time.monotonic() - found[0] > self.grace:
            return None
        return found[1]
