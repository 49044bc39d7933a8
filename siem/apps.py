from django.apps import AppConfig


class SiemConfig(AppConfig):
    name = "siem"
    verbose_name = "Audit streams to a SIEM"

    def ready(self) -> None:
        from core import retention

        retention.exempt("siem.AuditStream", "a setting and its delivery position")
        from core.crypto import encrypted_field

        encrypted_field("siem.AuditStream", "secret")
