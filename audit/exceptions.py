from core.exceptions import ServiceError


class AuditImmutableError(ServiceError):
    """Audit events are append-only."""
