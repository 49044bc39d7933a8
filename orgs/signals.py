"""Signals the layers above listen to, where orgs cannot call them (it sits below them).

`member_deactivated(membership, actor)` is sent inside the deactivation's transaction, by the
one service every door uses (orgs.services.members.membership_deactivate): a receiver's writes
commit or roll back with the deactivation (credentials revoke the member's service tokens)."""

from __future__ import annotations

from django.dispatch import Signal

member_deactivated = Signal()
