from core.exceptions import ServiceError


class DeliveryError(ServiceError):
    """A destination did not take a delivery: what it answered, in words for the admin (shown
    as the destination's last error)."""

    code = "delivery_failed"
