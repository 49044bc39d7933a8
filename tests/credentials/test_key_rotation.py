"""Secrets at rest under keys that rotate: GOVERNANCE_ENCRYPTION_OLD_KEYS still decrypt,
`manage.py credentials_rotate_keys` re-encrypts every registered field under the current key, a
value no key decrypts is an error (never an empty secret), and no field holding encrypt() output
escapes the registry."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command

from core import crypto
from credentials.models import OktaCredential
from tests.conftest import assert_audited
from tests.credentials.okta_server import SECRET

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_rotation_re_encrypts_everything_under_the_new_key(settings, credential, org, capsys):
    settings.FIELD_ENCRYPTION_KEY = "the-old-key-" + "x" * 20
    OktaCredential.objects.update(client_secret=crypto.encrypt(SECRET))
    old = OktaCredential.objects.get().client_secret
    settings.FIELD_ENCRYPTION_KEY = "the-new-key-" + "y" * 20
    settings.FIELD_ENCRYPTION_OLD_KEYS = ["the-old-key-" + "x" * 20]
    assert crypto.decrypt(old) == SECRET and not crypto.current(old)  # old keys still decrypt
    call_command("credentials_rotate_keys")
    printed = json.loads(capsys.readouterr().out)
    assert printed["reencrypted"]["credentials.OktaCredential.client_secret"] == 1
    rotated = OktaCredential.objects.get().client_secret
    assert rotated != old and crypto.current(rotated)
    settings.FIELD_ENCRYPTION_OLD_KEYS = []  # the old key can go now
    assert crypto.decrypt(rotated) == SECRET
    event = assert_audited("encryption.keys_rotated", org=None)
    assert event.data["reencrypted"]["credentials.OktaCredential.client_secret"] == 1
    call_command("credentials_rotate_keys")  # again: nothing left to do
    assert json.loads(capsys.readouterr().out) == {"reencrypted": {}, "total": 0}


def test_a_secret_no_key_decrypts_is_an_error_and_changes_nothing(settings, credential):
    import io

    before = OktaCredential.objects.get().client_secret
    settings.FIELD_ENCRYPTION_KEY = "a-key-that-never-saw-it-" + "z" * 10
    settings.FIELD_ENCRYPTION_OLD_KEYS = []
    with pytest.raises(crypto.UndecryptableSecret, match="GOVERNANCE_ENCRYPTION_OLD_KEYS"):
        crypto.decrypt(before)
    err = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("credentials_rotate_keys", stderr=err)
    assert exited.value.code == 2
    assert "credentials.OktaCredential.client_secret of row" in err.getvalue()
    assert OktaCredential.objects.get().client_secret == before


def test_every_field_that_stores_encrypt_output_is_registered():
    """Source scan: `x.<field> = crypto.encrypt(` and `<field>=crypto.encrypt(` name only
    registered fields (credentials_rotate_keys walks the registry)."""
    registered = {field for _, field in crypto.ENCRYPTED}
    found = set()
    pattern = re.compile(r"(?:\.(\w+)\s*=\s*|\b(\w+)=)crypto\.encrypt\(")
    for path in ROOT.glob("*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        for match in pattern.finditer(path.read_text()):
            found.add(match.group(1) or match.group(2))
    assert found, "the scan found no use of crypto.encrypt"
    assert found <= registered, f"encrypted but not registered: {found - registered}"
