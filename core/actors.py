"""Who acts. Every service takes an explicit `actor`; the audit trail records what it says of
itself. A user, an API key and a SCIM token describe themselves (`audit_actor()`); the two kinds
below have no row of their own."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from django.db import models


class ActorKind(models.TextChoices):
    USER = "user", "User"
    API_KEY = "api_key", "API key"
    SERVICE_KEY = "service_key", "Service key"
    SCIM_TOKEN = "scim_token", "SCIM token"
    SYSTEM = "system", "System"
    ANONYMOUS = "anonymous", "Anonymous"


@runtime_checkable
class Actor(Protocol):
    """Anything that can act: a user, an API key, a SCIM token, the system, a stranger."""

    def audit_actor(self) -> tuple[str, str, str]:
        """(kind, id, label)."""
        ...


class SystemActor:
    """The system acting through a named door (a management command, a Celery job)."""

    def __init__(self, label: str) -> None:
        self.label = label

    def audit_actor(self) -> tuple[str, str, str]:
        return ActorKind.SYSTEM, "", self.label


class AnonymousActor:
    """Someone not (yet) known: a sign-in attempt names the e-mail it tried, an IdP response
    names the IdP. Never a user, whatever e-mail it claims."""

    def __init__(self, label: str) -> None:
        self.label = label

    def audit_actor(self) -> tuple[str, str, str]:
        return ActorKind.ANONYMOUS, "", self.label


def describe_actor(actor: Actor | None) -> tuple[str, str, str]:
    """(kind, id, label) of an actor; `None` is the system."""
    if actor is None:
        return ActorKind.SYSTEM, "", "system"
    return actor.audit_actor()
