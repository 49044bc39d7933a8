from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings

ROOT = Path(__file__).resolve().parents[2]


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_readyz_checks_the_database_and_the_broker(db, client):
    r = client.get("/readyz")
    assert r.status_code == 200
    checks = r.json()["checks"]
    assert checks["database"] == "ok"
    expected = "embedded" if django_settings.CELERY_BROKER_IS_EMBEDDED else "ok"
    assert checks["broker"] == expected


def test_readyz_is_503_when_the_broker_is_down(db, client, monkeypatch):
    from governance import health
    from governance.celery import app

    monkeypatch.setattr(health.settings, "CELERY_BROKER_IS_EMBEDDED", False)
    monkeypatch.setattr(app.conf, "broker_url", "redis://127.0.0.1:1/0")
    r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["checks"]["broker"].startswith("error")


def settings_import(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "REDIS_URL"))
    }
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, "DJANGO_SETTINGS_MODULE": "governance.settings", **env},
    )


def test_production_without_a_secret_key_refuses_to_start():
    r = settings_import({})
    assert r.returncode != 0 and "DJANGO_SECRET_KEY is not set" in r.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_SECRET_KEY": "short"}, "shorter than 32"),
        ({"DJANGO_SECRET_KEY": "x" * 40, "DJANGO_DEBUG": "maybe"}, "is not a boolean"),
        (
            {"DJANGO_SECRET_KEY": "x" * 40, "GOVERNANCE_MAX_BODY_BYTES": "lots"},
            "not a whole number",
        ),
    ],
)
def test_misconfiguration_stops_start_up_with_a_clear_message(env, message):
    r = settings_import(env)
    assert r.returncode != 0 and message in r.stderr


def test_a_good_configuration_starts():
    assert settings_import({"DJANGO_SECRET_KEY": "x" * 40}).returncode == 0


def test_cookies_are_secure_by_default_and_switchable():
    assert django_settings.SESSION_COOKIE_SECURE and django_settings.CSRF_COOKIE_SECURE
    r = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings;"
            "print(settings.SESSION_COOKIE_SECURE, settings.DEBUG)",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "governance.settings",
            "DJANGO_SECRET_KEY": "x" * 40,
            "DJANGO_SECURE_COOKIES": "0",
        },
    )
    assert r.stdout.split() == ["False", "False"]
