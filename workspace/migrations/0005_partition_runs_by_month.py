"""Runs and run events become monthly range partitions on PostgreSQL (core.partitions), so that
retention drops a whole expired month instead of deleting it row by row. The foreign keys that
point at them stop being database constraints first (a partitioned table's primary key must
include its partition column). On SQLite only that first step applies.

Existing rows are copied into the partitioned tables in this migration's transaction (the
tables are locked meanwhile: plan the upgrade's downtime by the size of workspace_runevent).
It cannot be reversed (the foreign key constraints could not come back on partitioned tables).
"""

from django.db import migrations, models

from core.partitions import partition_by_month


def partition(apps, schema_editor):
    partition_by_month(schema_editor, "workspace_run", "started_at")
    partition_by_month(schema_editor, "workspace_runevent", "at")


class Migration(migrations.Migration):
    dependencies = [
        ("workspace", "0004_agent_zero_data_retention_and_more"),
    ]

    operations = [
        migrations.AlterField(
            model_name="runevent",
            name="run",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=models.deletion.CASCADE,
                related_name="events",
                to="workspace.run",
            ),
        ),
        migrations.AlterField(
            model_name="runpayload",
            name="run",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=models.deletion.CASCADE,
                related_name="payloads",
                to="workspace.run",
            ),
        ),
        migrations.AlterField(
            model_name="runpayload",
            name="event",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=models.deletion.CASCADE,
                related_name="payloads",
                to="workspace.runevent",
            ),
        ),
        migrations.AlterField(
            model_name="schedule",
            name="last_run",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                null=True,
                on_delete=models.deletion.SET_NULL,
                related_name="+",
                to="workspace.run",
            ),
        ),
        migrations.RunPython(partition),  # irreversible: see the docstring
    ]
