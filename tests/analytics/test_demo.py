"""`manage.py demo_data` leaves the promise-to-pay and call warm-up reports showing the seeds'
numbers (issue 15: about 85 % paid within 7 days; pickup 20-30 % without a warm-up, 50-60 % with),
made through the real engine, inbound pipeline and dispatcher; a second run adds nothing."""

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from analytics import kpis
from analytics.periods import period_parse
from channels_app.models import Message
from cpaas.models import Workspace

pytestmark = pytest.mark.django_db


def test_the_demo_reports_show_the_seeds_numbers():
    call_command("demo_data", stdout=io.StringIO())
    bank = Workspace.objects.get(slug="demo-bank")
    now = timezone.now()
    period = period_parse(workspace=bank, first=None, last=None, now=now)
    ptp = kpis.promise_to_pay(workspace=bank, period=period, now=now)["overall"]
    assert (ptp["asked"], ptp["paid_7d"], ptp["paid_rate"]) == (40, 34, 0.85)
    assert (ptp["kept"], ptp["broken"]) == (26, 6)
    calls = kpis.call_warmup(workspace=bank, period=period, now=now)
    assert 0.5 <= calls["with_warmup"]["pickup_rate"] <= 0.6
    assert 0.2 <= calls["without_warmup"]["pickup_rate"] <= 0.3
    messages = Message.objects.filter(workspace=bank).count()
    call_command("demo_data", stdout=io.StringIO())
    assert Message.objects.filter(workspace=bank).count() == messages
