"""The worker purges what each workspace's retention periods say is too old, hourly (a django-q2
Schedule row; cpaas/retention.py)."""

from django.db import migrations

FUNC = "cpaas.retention.purge_task"


def forwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.update_or_create(
        name="cpaas: retention purge",
        defaults={"func": FUNC, "schedule_type": "H", "repeats": -1},
    )


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=FUNC).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("cpaas", "0005_workspace_retention"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
