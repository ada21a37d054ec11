"""Messages a dead worker left with an unknown outcome were stored as failed with
error_code "outcome_unknown"; they now have their own status, `unknown`, which a receipt still
settles (failed is final). Batched, reversible."""

from django.db import migrations

BATCH = 5000


def forwards(apps, schema_editor):
    Message = apps.get_model("channels_app", "Message")
    rows = Message.objects.filter(status="failed", error_code="outcome_unknown")
    while ids := list(rows.values_list("pk", flat=True)[:BATCH]):
        Message.objects.filter(pk__in=ids).update(status="unknown", failed_at=None)


def backwards(apps, schema_editor):
    Message = apps.get_model("channels_app", "Message")
    rows = Message.objects.filter(status="unknown")
    while ids := list(rows.values_list("pk", flat=True)[:BATCH]):
        for message in Message.objects.filter(pk__in=ids).only("pk", "status_changed_at"):
            Message.objects.filter(pk=message.pk).update(status="failed", failed_at=message.status_changed_at)


class Migration(migrations.Migration):
    dependencies = [("channels_app", "0008_message_unknown_and_pending_receipts")]

    operations = [migrations.RunPython(forwards, backwards)]
