"""Test settings: environment defaults for the one settings module, nothing else.

DATABASE_URL / REDIS_URL come from `make test` (PostgreSQL + Redis, then SQLite)."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault(
    "GOVERNANCE_VAR_DIR", os.path.join(os.path.dirname(__file__), "..", "var", "test")
)
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")

from governance.settings import *  # noqa: F403

# Password hashing dominates test time otherwise; production keeps PBKDF2.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
