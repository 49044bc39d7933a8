"""Models arrive with the scim issue."""
