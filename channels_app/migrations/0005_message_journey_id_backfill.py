"""Fill Message.journey_id from origin_ref ("journey:<id>/<node>") for messages journeys sent
before the column existed. Batched by primary key; reversing empties the column."""

import re
from collections import defaultdict

from django.db import migrations

BATCH = 5000
REF = re.compile(r"^journey:(\d+)/")


def backfill(apps, schema_editor):
    Message = apps.get_model("channels_app", "Message")
    todo = Message.objects.filter(origin="journey", journey_id__isnull=True)
    last = 0
    while True:
        rows = list(todo.filter(pk__gt=last).order_by("pk").values_list("pk", "origin_ref")[:BATCH])
        if not rows:
            break
        last = rows[-1][0]
        by_journey = defaultdict(list)
        for pk, ref in rows:
            match = REF.match(ref or "")
            if match:
                by_journey[int(match.group(1))].append(pk)
        for journey_id, pks in by_journey.items():
            Message.objects.filter(pk__in=pks).update(journey_id=journey_id)


def empty(apps, schema_editor):
    Message = apps.get_model("channels_app", "Message")
    Message.objects.filter(journey_id__isnull=False).update(journey_id=None)


class Migration(migrations.Migration):
    dependencies = [("channels_app", "0004_message_journey_id")]

    operations = [migrations.RunPython(backfill, empty)]
