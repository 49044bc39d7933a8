"""Management commands print one JSON document on stdout; errors are JSON on stderr, exit 2."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand

from core.actors import SystemActor
from core.exceptions import ServiceError


class CommandFailed(Exception):
    pass


class JsonCommand(BaseCommand):
    def execute(self, *args: Any, **options: Any) -> str:
        try:
            result = super().execute(*args, **options)
        except (ServiceError, CommandFailed) as exc:
            message = exc.message if isinstance(exc, ServiceError) else str(exc)
            self.stderr.write(json.dumps({"error": message}))
            sys.exit(2)
        return result

    def emit(self, payload: dict[str, Any]) -> None:
        self.stdout.write(json.dumps(payload, indent=2, default=str))

    def actor(self) -> SystemActor:
        return SystemActor(f"manage.py {self.__module__.rsplit('.', 1)[-1]}")
