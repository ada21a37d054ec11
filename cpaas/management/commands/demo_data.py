"""Load the demo workspaces, users and contacts. Safe to run again: it changes nothing that
exists already."""

import datetime as dt
import os
import random

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from contacts.models import AttributeDefinition, Contact, Event, Segment
from contacts.services import tags_ensure
from cpaas.models import Membership, Role, Workspace

DEMO_PASSWORD = "demo-pass-2026"
USERS = [("admin", Role.ADMIN), ("marketer", Role.MARKETER), ("agent", Role.AGENT), ("viewer", Role.VIEWER)]
FIRST = [
    "Amara",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farid",
    "Grace",
    "Hugo",
    "Isla",
    "Jonas",
    "Kemi",
    "Liam",
    "Maya",
    "Noah",
    "Olu",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tara",
]
LAST = ["Okafor", "Smith", "Dubois", "Patel", "Garcia", "Haddad", "Kim", "Muller", "Rossi", "Novak"]


def login_url() -> str:
    """Where `make run` (manage.py serve, HOST and PORT from the environment) serves the log-in page."""
    host = os.environ.get("HOST") or "127.0.0.1"
    if host in ("0.0.0.0", "::", "[::]"):  # listening everywhere: the local address works in a browser
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{os.environ.get('PORT') or '8000'}/login/"


class Command(BaseCommand):
    help = "Create the demo workspace, users (admin, marketer, agent, viewer) and contacts."

    def handle(self, *args, **options):
        bank, created = self._setup()
        if created:
            self._customers_write_in(bank)
            self._history(bank)
        self.stdout.write(self.style.SUCCESS(f"Demo data ready. Log in at {login_url()} as:"))
        for username, role in USERS:
            self.stdout.write(f"  {username:<9} / {DEMO_PASSWORD}   ({role})")

    @transaction.atomic
    def _setup(self):
        User = get_user_model()
        bank, created = Workspace.objects.get_or_create(
            slug="demo-bank",
            defaults={"name": "Demo Bank", "timezone": "Europe/London", "default_country": "GB"},
        )
        retail, _ = Workspace.objects.get_or_create(
            slug="acme-retail",
            defaults={"name": "Acme Retail", "timezone": "America/New_York", "default_country": "US"},
        )
        for username, role in USERS:
            user = User.objects.filter(username=username).first()
            if user is None:
                user = User.objects.create_user(
                    username=username, email=f"{username}@demo.example", password=DEMO_PASSWORD
                )
            Membership.objects.get_or_create(workspace=bank, user=user, defaults={"role": role})
        admin = User.objects.get(username="admin")
        Membership.objects.get_or_create(workspace=retail, user=admin, defaults={"role": Role.ADMIN})
        if created:
            self._contacts(bank)
            self._consent(bank, User.objects.get(username="admin"))
        self._journeys(bank, User.objects.get(username="marketer"))
        self._inbox(bank, admin=admin, agent=User.objects.get(username="agent"))
        return bank, created

    def _journeys(self, workspace, user):
        """A few of the journey templates, live (only in a workspace that has no journeys yet)."""
        from cpaas.tenancy import Actor
        from journeys.models import Journey
        from journeys.services import journey_from_template

        if Journey.objects.filter(workspace=workspace).exists():
            return
        for key in (
            "otp_onboarding",
            "abandoned_cart",
            "post_purchase_rating",
            "collections_promise_to_pay",
            "collections_call_warmup",
        ):
            journey_from_template(workspace=workspace, actor=Actor.for_user(user), key=key, publish=True)
        journey_from_template(workspace=workspace, actor=Actor.for_user(user), key="churn_reengagement")

    def _inbox(self, workspace, *, admin, agent):
        """The queues the demo journeys hand off to, with the agent in each, and two canned replies."""
        from cpaas.tenancy import Actor
        from inbox.models import CannedReply
        from inbox.services import canned_reply_save, queue_for_name, queue_members_set

        actor = Actor.for_user(admin)
        for name in ("support", "collections", "vulnerable-care"):
            queue = queue_for_name(workspace, name)
            members = set(queue.members.values_list("pk", flat=True)) | {agent.pk}
            queue_members_set(actor=actor, queue=queue, users=get_user_model().objects.filter(pk__in=members))
        for shortcut, body in [
            ("thanks", "Thank you {{contact.first_name|}}, I have noted that. Is there anything else?"),
            ("ptp", "Thanks {{contact.first_name|}}. Shall I record a promise to pay, and on which date?"),
        ]:
            if not CannedReply.objects.filter(workspace=workspace, shortcut=shortcut).exists():
                canned_reply_save(actor=actor, workspace=workspace, shortcut=shortcut, body=body)

    def _history(self, workspace):
        """Three weeks of collections through the real services (analytics/demo.py), so the
        promise-to-pay and call warm-up reports show the seeds' numbers."""
        from analytics.demo import history_create
        from cpaas.tenancy import Actor

        history_create(
            workspace=workspace, actor=Actor.for_user(get_user_model().objects.get(username="marketer"))
        )

    def _customers_write_in(self, workspace):
        """Three customers write in (through the inbound pipeline, each in its own transaction as
        a webhook is), so the agent's inbox is not empty."""
        from channels_app.services.simulator import simulator_reply

        now = timezone.now()
        texts = [
            "Hi, I can't pay the full amount this month",
            "Where is my card?",
            "Can someone call me back?",
        ]
        contacts = Contact.objects.filter(workspace=workspace).order_by("pk")[: len(texts)]
        for contact, text in zip(contacts, texts, strict=True):
            simulator_reply(workspace=workspace, contact=contact, kind="sms", text=text, now=now)

    def _contacts(self, workspace):
        rng = random.Random(42)
        for key, label, type_ in [
            ("due_date", "Due date", "date"),
            ("balance", "Balance (GBP)", "number"),
            ("plan", "Plan", "text"),
            ("autopay", "Autopay", "boolean"),
        ]:
            AttributeDefinition.objects.get_or_create(
                workspace=workspace, key=key, defaults={"label": label, "type": type_}
            )
        vip, late = tags_ensure(workspace=workspace, names=["vip", "late-payer"])
        today = timezone.localdate()
        for i in range(60):
            first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
            contact = Contact.objects.create(
                workspace=workspace,
                external_id=f"CUST-{1000 + i}",
                first_name=first,
                last_name=last,
                phone=f"+4479111{(i * 3779) % 100000:05d}",
                email=f"{first.lower()}.{last.lower()}{i}@example.com",
                language=rng.choice(["en", "en", "en", "fr", "es"]),
                preferred_channel=rng.choice(["sms", "whatsapp", "email", ""]),
                attributes={
                    "due_date": (today + dt.timedelta(days=rng.randint(-10, 30))).isoformat(),
                    "balance": rng.choice([0, 120, 250, 480, 1200]),
                    "plan": rng.choice(["basic", "plus", "gold"]),
                    "autopay": rng.random() < 0.4,
                },
                is_vulnerable=i % 17 == 0,
                vulnerability_note="Bereavement: contact by agent only" if i % 17 == 0 else "",
            )
            contact.tags.add(*([vip] if i % 5 == 0 else []) + ([late] if i % 4 == 0 else []))
            Event.objects.create(
                workspace=workspace,
                contact=contact,
                name="signup",
                source="import",
                occurred_at=timezone.now() - dt.timedelta(days=rng.randint(1, 90)),
            )
        # the marketer's own test phone: tagged as the journey editor's test contacts are, so a
        # test run may record a test opt-in for it (journeys/editor/testrun.py)
        tester = Contact.objects.create(
            workspace=workspace, first_name="Tess", last_name="Tester", phone="+447700900555",
            email="tess.tester@demo.example", language="en", timezone="Europe/London", preferred_channel="sms",
        )  # fmt: skip
        tester.tags.add(*tags_ensure(workspace=workspace, names=["test contact"]))
        Segment.objects.get_or_create(
            workspace=workspace,
            name="Overdue with balance",
            defaults={
                "definition": {
                    "match": "all",
                    "rules": [
                        {"field": "attribute", "key": "balance", "op": "gt", "value": 0},
                        {"field": "attribute", "key": "due_date", "op": "in_past", "value": None},
                    ],
                }
            },
        )
        Segment.objects.get_or_create(
            workspace=workspace,
            name="VIP",
            defaults={
                "definition": {"match": "all", "rules": [{"field": "tag", "op": "has", "value": "vip"}]}
            },
        )

    def _consent(self, workspace, admin):
        """Marketing opt-ins with evidence for some contacts, and one STOP, so the consent
        registry has something to show."""
        from consent.services.records import consent_change
        from cpaas.tenancy import Actor

        now = timezone.now()
        notice = "Yes, send me offers from Demo Bank by SMS. Reply STOP to opt out."
        for contact in Contact.objects.filter(workspace=workspace).order_by("pk")[:24]:
            consent_change(
                contact=contact,
                channel_kind="sms",
                purpose="marketing",
                status="opted_in",
                actor=Actor.system("demo sign-up form"),
                method="web_form",
                reason="Ticked the offers box when opening the account",
                evidence={
                    "notice_text": notice,
                    "notice_version": "2026-01",
                    "url": "https://demo.example/join",
                    "language": "en",
                },
                at=now,
                occurred_at=now - dt.timedelta(days=30),
            )
        last = Contact.objects.filter(workspace=workspace).order_by("pk")[23]
        consent_change(
            contact=last,
            channel_kind="sms",
            purpose="marketing",
            status="opted_out",
            actor=Actor.for_user(admin),
            method="agent_verbal",
            reason="Asked on the phone to stop offers",
            at=now,
        )
