"""A member deactivated through any door: their service tokens are erased and revoked
(credentials.tokens.member_deactivated), in the deactivation's transaction."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from orgs.signals import member_deactivated


@receiver(member_deactivated, dispatch_uid="credentials.member_deactivated")
def _revoke_tokens(sender: Any, membership: Any, actor: Any, **kwargs: Any) -> None:
    from credentials.tokens import member_deactivated as revoke

    revoke(membership, actor)
