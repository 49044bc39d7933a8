"""What an identity provider said about someone, after every protocol check passed: the one
shape the SAML and OIDC doors hand to sign-in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SsoAssertion:
    """What the IdP said about someone, after every protocol check passed."""

    protocol: str
    issuer: str
    subject: str
    email: str
    email_verified: bool
    first_name: str = ""
    last_name: str = ""
    groups: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    def summary(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "issuer": self.issuer,
            "subject": self.subject,
            "email": self.email,
        }
