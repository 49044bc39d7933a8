"""Secrets we must read back (SAML SP private keys, OIDC client secrets, SIEM secrets, Okta
OAuth client secrets and the tokens members' connections hold), encrypted at rest.

Fernet (AES-128-CBC + HMAC-SHA256) under keys derived from GOVERNANCE_ENCRYPTION_KEY (the one
that encrypts) and GOVERNANCE_ENCRYPTION_OLD_KEYS (earlier ones, which still decrypt), so keys
rotate without downtime: `manage.py credentials_rotate_keys` re-encrypts every registered field
under the current key. A value no key decrypts is an error, never an empty secret. Secrets that
only need to be *checked* (API keys, SCIM tokens, passwords) are hashed instead, never stored.

Every model field holding `encrypt()` output is registered here (`encrypted_field`, from its
app's ready()); a test fails when code stores `encrypt()` output in a field that is not.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

# ("app_label.Model", "field") of every field that holds encrypt() output.
ENCRYPTED: list[tuple[str, str]] = []


class UndecryptableSecret(RuntimeError):
    """A stored secret that none of the configured keys decrypts."""


def encrypted_field(model: str, field: str) -> None:
    if (model, field) not in ENCRYPTED:
        ENCRYPTED.append((model, field))


@lru_cache(maxsize=16)
def _fernet(key_material: str) -> Fernet:
    digest = hashlib.sha256(b"governance-field-encryption\0" + key_material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _keys() -> MultiFernet:
    materials = [settings.FIELD_ENCRYPTION_KEY, *settings.FIELD_ENCRYPTION_OLD_KEYS]
    return MultiFernet([_fernet(m) for m in materials])


def encrypt(plaintext: str) -> str:
    if not plaintext:
        return ""
    return _fernet(settings.FIELD_ENCRYPTION_KEY).encrypt(plaintext.encode()).decode()


def _undecryptable(exc: Exception) -> UndecryptableSecret:
    return UndecryptableSecret(
        "A stored secret cannot be decrypted with GOVERNANCE_ENCRYPTION_KEY or any key in "
        "GOVERNANCE_ENCRYPTION_OLD_KEYS (DJANGO_SECRET_KEY when neither is set): the key it was "
        "saved under is gone. Put that key back in GOVERNANCE_ENCRYPTION_OLD_KEYS, or re-enter "
        "the secret."
    )


def decrypt(token: str) -> str:
    """The plaintext, or UndecryptableSecret when no configured key decrypts it."""
    if not token:
        return ""
    try:
        return _keys().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise _undecryptable(exc) from exc


def reencrypt(token: str) -> str:
    """The same secret under the current key (UndecryptableSecret when no key reads it)."""
    if not token:
        return ""
    try:
        return _keys().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise _undecryptable(exc) from exc


def current(token: str) -> bool:
    """Whether the current key encrypted this token."""
    try:
        _fernet(settings.FIELD_ENCRYPTION_KEY).decrypt(token.encode())
    except InvalidToken:
        return False
    return True
