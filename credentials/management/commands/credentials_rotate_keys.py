"""`manage.py credentials_rotate_keys`: re-encrypts every stored secret (SSO keys and client
secrets, SIEM secrets, Okta client secrets and members' tokens) under GOVERNANCE_ENCRYPTION_KEY.
Run it after moving the old key to GOVERNANCE_ENCRYPTION_OLD_KEYS; then the old key can go."""

from __future__ import annotations

from typing import Any

from core.crypto import UndecryptableSecret
from core.management import CommandFailed, JsonCommand
from credentials.keys import keys_rotate


class Command(JsonCommand):
    help = (
        "Re-encrypt every stored secret under the current GOVERNANCE_ENCRYPTION_KEY (the keys "
        "in GOVERNANCE_ENCRYPTION_OLD_KEYS still decrypt); prints how many values per field."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            counts = keys_rotate(actor=self.actor())
        except UndecryptableSecret as exc:
            raise CommandFailed(str(exc)) from exc
        self.emit({"reencrypted": counts, "total": sum(counts.values())})
