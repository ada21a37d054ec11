"""The worker runs the automatic decisions every 15 minutes (a django-q2 Schedule row)."""

from django.db import migrations

FUNC = "experiments.tasks.experiments_decide_task"


def forwards(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="experiments: automatic decisions",
        defaults={"func": FUNC, "schedule_type": "I", "minutes": 15, "repeats": -1},
    )


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=FUNC).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("experiments", "0002_results_schedule"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
