"""The two steps of the sign-in page, as a person does them."""

from __future__ import annotations


def password_sign_in(page: object, email: str, password: str) -> None:
    """E-mail first, then (no SSO for this domain) the password."""
    page.fill("#id_email", email)
    page.click("button:has-text('Continue')")
    page.wait_for_selector("#id_password")
    page.fill("#id_password", password)
    page.click("button:has-text('Sign in')")
