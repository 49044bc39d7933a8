"""Re-encrypting every stored secret under the current key (core.crypto): the second half of a
key rotation. Each table's rows are rewritten in batches, one transaction each, audited once
with the counts per field. A value no configured key decrypts stops the rotation with its
table, field and row: nothing is ever replaced by an empty secret."""

from __future__ import annotations

from django.apps import apps
from django.db import transaction

from audit.choices import AuditAction
from audit.services import audit_record
from core import crypto
from core.actors import Actor

BATCH = 500


def keys_rotate(*, actor: Actor | None) -> dict[str, int]:
    """Returns {"app.Model.field": values re-encrypted}; those already under the current key are
    left alone (a rotation cut off half-way simply runs again)."""
    counts: dict[str, int] = {}
    by_model: dict[str, list[str]] = {}
    for model, field in crypto.ENCRYPTED:
        by_model.setdefault(model, []).append(field)
    for label, fields in by_model.items():
        model = apps.get_model(label)
        after = 0
        while True:
            with transaction.atomic():
                rows = list(
                    model.objects.select_for_update()
                    .filter(pk__gt=after)
                    .order_by("pk")
                    .only("pk", *fields)[:BATCH]
                )
                if not rows:
                    break
                for row in rows:
                    changed = []
                    for field in fields:
                        value = getattr(row, field)
                        if not value or crypto.current(value):
                            continue
                        try:
                            setattr(row, field, crypto.reencrypt(value))
                        except crypto.UndecryptableSecret as exc:
                            raise crypto.UndecryptableSecret(
                                f"{label}.{field} of row {row.pk}: {exc}"
                            ) from exc
                        changed.append(field)
                        key = f"{label}.{field}"
                        counts[key] = counts.get(key, 0) + 1
                    if changed:
                        row.save(update_fields=changed)
                after = rows[-1].pk
    with transaction.atomic():
        audit_record(
            action=AuditAction.ENCRYPTION_KEYS_ROTATED,
            org=None,
            actor=actor,
            data={"reencrypted": counts, "fields": [f"{m}.{f}" for m, f in crypto.ENCRYPTED]},
        )
    return counts
