"""The worker runs the inbox sweep every minute (a django-q2 Schedule row): snooze ends, idle
agents away, auto-assignment's safety net (inbox/tasks.py)."""

from django.db import migrations

FUNC = "inbox.tasks.inbox_sweep_task"


def forwards(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="inbox: snoozes, idle agents, auto-assignment",
        defaults={"func": FUNC, "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=FUNC).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0001_inbox_models"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
