from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    name = "workspace"
    verbose_name = "Agents, workflows, integrations, schedules and runs"

    def ready(self) -> None:
        from workspace import retention_tables

        retention_tables.register()
