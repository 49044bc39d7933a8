"""`manage.py credentials_rotate_keys`: re-encrypts every stored secret (SSO keys and client
secrets, SIEM secrets, Okta client secrets and members' tokens) under GOVERNANCE_ENCRYPTION_KEY.
Run it after moving the old key to GOVERNANCE_ENCRYPTION_OLD_KEYS; then the old key can go."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.actors import SystemActor
from core.crypto import UndecryptableSecret
from credentials.keys import keys_rotate, summary


class Command(BaseCommand):
    help = "Re-encrypt every stored secret under the current GOVERNANCE_ENCRYPTION_KEY."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            counts = keys_rotate(actor=SystemActor("manage.py credentials_rotate_keys"))
        except UndecryptableSecret as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(summary(counts))
