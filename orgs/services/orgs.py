"""Creating an organization."""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction

from audit.choices import AuditAction
from audit.services import audit_record
from core.actors import Actor
from core.exceptions import Conflict, ValidationFailed
from orgs.models import Organization

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$")


@transaction.atomic
def org_create(*, slug: str, name: str, actor: Actor | None) -> Organization:
    slug = (slug or "").strip().lower()
    name = " ".join((name or "").split())
    if not SLUG_RE.match(slug):
        raise ValidationFailed(
            f"{slug!r} is not a valid slug: use 1-50 lower-case letters, digits and hyphens, "
            "not starting or ending with a hyphen.",
            field="slug",
        )
    if not name or len(name) > 200:
        raise ValidationFailed("The organization name must be 1-200 characters.", field="name")
    if Organization.objects.filter(slug=slug).exists():
        raise Conflict(f"An organization with the slug {slug!r} already exists.", field="slug")
    org = Organization(slug=slug, name=name)
    try:
        org.save()
    except IntegrityError as exc:
        raise Conflict(f"An organization with the slug {slug!r} already exists.") from exc
    audit_record(
        action=AuditAction.ORG_CREATED,
        org=org,
        actor=actor,
        target=org,
        data={"new": {"slug": slug, "name": name}},
    )
    return org
