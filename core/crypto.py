"""Secrets we must read back (SAML SP private keys, OIDC client secrets), encrypted at rest.

Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from FIELD_ENCRYPTION_KEY. Secrets that
only need to be *checked* (API keys, SCIM tokens, passwords) are hashed instead, never stored.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(key_material: str) -> Fernet:
    digest = hashlib.sha256(b"governance-field-encryption\0" + key_material.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(plaintext: str) -> str:
    if not plaintext:
        return ""
    return _fernet(settings.FIELD_ENCRYPTION_KEY).encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """The plaintext, or a clear error when the encryption key changed since it was stored."""
    if not token:
        return ""
    try:
        return _fernet(settings.FIELD_ENCRYPTION_KEY).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise RuntimeError(
            "A stored secret cannot be decrypted: GOVERNANCE_ENCRYPTION_KEY (or DJANGO_SECRET_KEY "
            "when it is unset) changed since it was saved. Restore the key or re-enter the secret."
        ) from exc
