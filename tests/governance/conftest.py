"""Fixtures of other suites the project-wide tests use (the permission matrix)."""

from tests.workspace.conftest import world  # noqa: F401
