from django.apps import AppConfig


class GatewayConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "gateway"
    verbose_name = "MCP gateway"

    def ready(self) -> None:
        from core import retention
        from gateway.retention_tables import register

        retention.exempt("gateway.McpServer", "a setting and the tools it listed")
        retention.exempt(
            "gateway.McpToken", "a credential (only its HMAC): it expires and is revoked"
        )
        retention.exempt("gateway.ToolRule", "a setting")
        retention.exempt(
            "gateway.UsageDirty", "bookkeeping: a mark the usage rollup removes within a minute"
        )
        register()
