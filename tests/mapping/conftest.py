"""The SCIM fixtures (a token and its client), for the mapping tests that speak SCIM."""

from tests.scim.conftest import other_scim, scim  # noqa: F401
