"""Management commands print one JSON document on stdout; errors are JSON on stderr, exit 2."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, OutputWrapper

from core.actors import SystemActor
from core.exceptions import ServiceError
from core.input import unstorable_text


class CommandFailed(Exception):
    pass


class JsonCommand(BaseCommand):
    def execute(self, *args: Any, **options: Any) -> str:
        try:
            # The input rule of every door (core.input): an argument holding a NUL character or
            # an unpaired surrogate (bytes that are not UTF-8 arrive as surrogates) is refused.
            if options.get("stderr"):  # BaseCommand.execute sets this; we may refuse before it
                self.stderr = OutputWrapper(options["stderr"])
            checked = {k: v for k, v in options.items() if k not in ("stdout", "stderr")}
            found = unstorable_text({"args": list(args), **checked})
            if found is not None:
                where, what = found
                name = where.removeprefix("$.").split("[")[0].split(" ")[0]
                raise CommandFailed(
                    f"The argument {name!r} contains {what}; pass valid UTF-8 text without NUL."
                )
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
