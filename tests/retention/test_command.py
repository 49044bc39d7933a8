"""`manage.py retention_enforce [--dry-run] [--org]`: JSON on stdout, the dry run changes
nothing, the real run prints each organization's receipt."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from workspace.models import Run

pytestmark = pytest.mark.django_db


def _run(*args):
    out = StringIO()
    call_command("retention_enforce", *args, stdout=out)
    return json.loads(out.getvalue())


def test_dry_run_prints_per_category_and_changes_nothing(world, aged):
    old = aged(120)
    report = _run("--dry-run", "--org", "acme")
    payloads = report["dry_run"][0]["categories"]["payloads"]
    assert payloads["rows"] == 4 and payloads["window_days"] == 30 and payloads["oldest"]
    assert Run.objects.filter(pk=old.pk).exists()
    done = _run("--org", "acme")
    assert done["runs"][0]["organization"] == "acme"
    assert done["runs"][0]["purged"]["payloads"]["rows"] == 4
    assert not Run.objects.filter(pk=old.pk).exists()


def test_an_unknown_organization_is_an_error(capsys):
    with pytest.raises(SystemExit) as exc:
        call_command("retention_enforce", "--org", "nope")
    assert exc.value.code == 2 and "nope" in capsys.readouterr().err
