"""Drop four indexes that no lookup needs and every step pays for: the run and step key
columns of StepRun and Document. Each is led by a unique constraint's index, (run, key) and
(run, step_key), that every run lookup uses; a step's status change and a new document wrote
each of them again.

Only the indexes go: the foreign keys stay as they are (Django's AlterField would drop and
re-create them, checking every row of both tables again).
"""

import django.db.models.deletion
from django.db import migrations, models

# (table, column, index names as Django made them: the b-tree, and on PostgreSQL its LIKE twin)
INDEXES = [
    ("workflows_steprun", "run_id", ["workflows_steprun_run_id_7280c46a"]),
    (
        "workflows_steprun",
        "key",
        ["workflows_steprun_key_4b333a58", "workflows_steprun_key_4b333a58_like"],
    ),
    ("workflows_document", "run_id", ["workflows_document_run_id_6d609248"]),
    (
        "workflows_document",
        "step_key",
        ["workflows_document_step_key_456d665b", "workflows_document_step_key_456d665b_like"],
    ),
]


def drop_indexes(apps, schema_editor):
    for _, _, names in INDEXES:
        for name in names:
            schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


def create_indexes(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    for table, column, names in INDEXES:
        schema_editor.execute(f'CREATE INDEX "{names[0]}" ON "{table}" ("{column}")')
        if postgres and len(names) > 1:
            schema_editor.execute(
                f'CREATE INDEX "{names[1]}" ON "{table}" ("{column}" varchar_pattern_ops)'
            )


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0005_retrieve_step_and_suggested_inputs"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="document",
                    name="run",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="documents",
                        to="workflows.run",
                    ),
                ),
                migrations.AlterField(
                    model_name="document",
                    name="step_key",
                    field=models.SlugField(db_index=False, max_length=64),
                ),
                migrations.AlterField(
                    model_name="steprun",
                    name="key",
                    field=models.SlugField(db_index=False, max_length=64),
                ),
                migrations.AlterField(
                    model_name="steprun",
                    name="run",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="step_runs",
                        to="workflows.run",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
        ),
    ]
