"""Usage and AI models leave the catalog app for their own apps, `usage` and `ai`.

The move is in the migration state only: the tables keep their names and their rows (the
models name them in `db_table`), so nothing is rebuilt or copied. Content types follow the
models, so that staff permissions and admin history keep pointing at them.
"""

from django.db import migrations

MOVED = {
    "usage": [
        "usageevent",
        "usagerejected",
        "usagerollup",
        "spendrollup",
        "usagelock",
        "spendalert",
    ],
    "ai": ["promptversion", "promptendpoint", "providermodel", "deployment", "provider"],
}


def _relabel(apps, *, forward):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for app_label, models in MOVED.items():
        old, new = ("apis", app_label) if forward else (app_label, "apis")
        moving = ContentType.objects.filter(app_label=old, model__in=models)
        # A row under the new label exists only if `migrate` created it after an earlier
        # move back: it is empty (fresh permissions, no history), the moving row is not.
        ContentType.objects.filter(
            app_label=new, model__in=moving.values_list("model", flat=True)
        ).delete()
        moving.update(app_label=new)


def content_types_forward(apps, schema_editor):
    _relabel(apps, forward=True)


def content_types_back(apps, schema_editor):
    _relabel(apps, forward=False)


class Migration(migrations.Migration):
    dependencies = [
        ("apis", "0017_deployment_limits_keys_and_spend_rollups"),
        ("contenttypes", "0002_remove_content_type_name"),
        # The content types' permissions and admin log entries go with a row deleted above.
        ("auth", "0012_alter_user_first_name_max_length"),
        ("admin", "0003_logentry_add_action_flag_choices"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                # Models that others point at go after those pointing at them.
                migrations.DeleteModel(name=name)
                for name in [*MOVED["usage"], *MOVED["ai"]]
            ],
            database_operations=[],
        ),
        migrations.RunPython(content_types_forward, content_types_back),
    ]
