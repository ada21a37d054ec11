"""The worker refreshes the cached results of running experiments every 10 minutes (a django-q2
Schedule row calling experiments.results.refresh_running)."""

from django.db import migrations

FUNC = "experiments.results.refresh_running"


def forwards(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="experiments: results",
        defaults={"func": FUNC, "schedule_type": "I", "minutes": 10, "repeats": -1},
    )


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=FUNC).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("experiments", "0001_experiments_assignments_decisions"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
