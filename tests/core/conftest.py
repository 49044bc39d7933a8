"""SCIM client fixture for the kernel tests."""

from tests.scim.conftest import scim  # noqa: F401
