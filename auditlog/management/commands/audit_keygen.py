from __future__ import annotations

from typing import Any

from audit import ledger
from core.management import JsonCommand


class Command(JsonCommand):
    help = (
        "Make a new Ed25519 key for signing audit seals. Prints signing_key (set it as "
        "GOVERNANCE_AUDIT_SIGNING_KEY; keep it secret), public_key and key_id, plus the public "
        "key of the key in use now, to add to GOVERNANCE_AUDIT_TRUSTED_KEYS when rotating."
    )

    def handle(self, *args: Any, **opts: Any) -> None:
        current = ledger.keys()
        self.emit(
            {
                **ledger.new_key(),
                "current_key_id": current.key_id,
                "current_public_key": ledger.public_text(current.signing.public_key()),
            }
        )
