"""Fixtures of other suites that the organization tests use (SCIM client, SAML IdP keys)."""

from tests.scim.conftest import scim  # noqa: F401
from tests.sso.conftest import idp_keys  # noqa: F401
