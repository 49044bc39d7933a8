"""The hand-written reads (core.rows) give what the ORM gives, on SQLite and PostgreSQL."""

from __future__ import annotations

from django.forms.models import model_to_dict

from identity.models import User
from identity.selectors import user_by_email


def test_user_by_email_is_the_orm_row_compared_case_insensitively(member):
    user = User.objects.get(pk=member.user.pk)
    found = user_by_email("  " + user.email.upper() + " ")
    assert found == user and type(found) is User and not found._state.adding
    assert model_to_dict(found) == model_to_dict(user)  # every column, datetimes converted
    assert found.date_joined == user.date_joined and found.date_joined.tzinfo is not None
    assert found.check_password("x") is False  # a working model, not a bare row


def test_user_by_email_unknown_and_wildcards_find_nobody(member):
    assert user_by_email("nobody@example.com") is None
    assert user_by_email("%") is None and user_by_email("") is None
