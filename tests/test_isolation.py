"""Workspace isolation and roles, over every named URL.

Every URL name the project defines must be listed here: OBJECT_URLS (it names an object of a
workspace: another workspace's user or token gets 404), WORKSPACE_URLS (it works on the
request's own workspace, so there is nothing of another workspace to reach), or PUBLIC. A new
URL that is not listed fails `test_every_url_is_classified`, so future endpoints are covered.
"""

from dataclasses import dataclass, field

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import client_for
from tests.factories import AttributeDefinitionFactory, ContactFactory, EventFactory


@dataclass
class Objects:
    """One object of each kind in workspace A, built on demand."""

    workspace: object
    user: object
    _cache: dict = field(default_factory=dict)

    def get(self, name, build):
        if name not in self._cache:
            self._cache[name] = build(self)
        return self._cache[name]

    @property
    def contact(self):
        return self.get("contact", lambda o: ContactFactory(workspace=o.workspace))

    @property
    def event(self):
        return self.get("event", lambda o: EventFactory(contact=o.contact))

    @property
    def segment(self):
        from contacts.models import Segment

        return self.get(
            "segment",
            lambda o: Segment.objects.create(workspace=o.workspace, name="S", definition={"rules": []}),
        )

    @property
    def membership(self):
        return self.get("membership", lambda o: o.user.memberships.get(workspace=o.workspace))

    @property
    def token(self):
        from cpaas.services import api_token_create
        from cpaas.tenancy import Actor

        return self.get(
            "token",
            lambda o: api_token_create(workspace=o.workspace, actor=Actor.for_user(o.user), name="A")[0],
        )

    @property
    def invitation(self):
        from django.utils import timezone

        from cpaas.services import invitation_create
        from cpaas.tenancy import Actor

        return self.get(
            "invitation",
            lambda o: invitation_create(
                workspace=o.workspace,
                actor=Actor.for_user(o.user),
                email="i@example.com",
                role="agent",
                now=timezone.now(),
            )[0],
        )

    @property
    def attribute(self):
        return self.get("attribute", lambda o: AttributeDefinitionFactory(workspace=o.workspace))

    @property
    def contact_import(self):
        from contacts.models import ContactImport

        return self.get(
            "import",
            lambda o: ContactImport.objects.create(
                workspace=o.workspace,
                created_by=o.user,
                filename="a.csv",
                content=b"phone\n+447911123456\n",
                headers=["phone"],
            ),
        )

    @property
    def consent_purpose(self):
        from consent.models import Purpose

        return self.get(
            "consent_purpose",
            lambda o: Purpose.objects.create(
                workspace=o.workspace, key="appointments", label="Appointments", rule="unless_opted_out",
                default_basis="contract",
            ),
        )  # fmt: skip

    @property
    def consent_cap(self):
        from consent.services import policy_ensure

        policy_ensure(workspace=self.workspace)  # writes out the default caps and keywords
        return self.workspace.frequency_caps.get(purpose="marketing")

    @property
    def consent_keyword(self):
        self.consent_cap  # noqa: B018 (the defaults, written out)
        return self.workspace.consent_keywords.get(word="QUIT")

    @property
    def keyword_review(self):
        from django.utils import timezone

        from consent.models import KeywordReview

        return self.get(
            "keyword_review",
            lambda o: KeywordReview.objects.create(
                workspace=o.workspace, contact=o.contact, channel_kind="sms", text="cancel my order",
                rule="stop word CANCEL", created_at=timezone.now(),
            ),
        )  # fmt: skip

    @property
    def suppression(self):
        from consent.services import suppression_add
        from cpaas.tenancy import Actor

        return self.get(
            "suppression",
            lambda o: suppression_add(
                workspace=o.workspace, actor=Actor.for_user(o.user), channel_kind="sms", address="+447911000999",
                reason="admin", note="complaint", at=__import__("django.utils.timezone").utils.timezone.now(),
            ),
        )  # fmt: skip

    @property
    def consent_import(self):
        from consent.models import ConsentImport

        return self.get(
            "consent_import",
            lambda o: ConsentImport.objects.create(
                workspace=o.workspace, created_by=o.user, filename="c.csv",
                content=b"phone,channel,purpose,status\n+447911000998,sms,marketing,opted_out\n",
                headers=["phone", "channel", "purpose", "status"], total_rows=1,
            ),
        )  # fmt: skip

    @property
    def channel(self):
        from channels_app.models import Channel

        return self.get(
            "channel", lambda o: Channel.objects.filter(workspace=o.workspace).order_by("pk").first()
        )

    @property
    def message(self):
        from channels_app.services.messages import message_send

        return self.get(
            "message",
            lambda o: message_send(
                workspace=o.workspace, contact=o.contact, channel="sms", content={"text": "Hi"}
            ),
        )

    @property
    def verification(self):
        import datetime as dt

        from django.utils import timezone

        from channels_app.services.verify import verification_start

        # started a minute ago: a resend is past the cooldown
        minute_ago = timezone.now() - dt.timedelta(minutes=1)
        return self.get(
            "verification",
            lambda o: verification_start(workspace=o.workspace, contact=o.contact, now=minute_ago),
        )

    @property
    def journey(self):
        from cpaas.tenancy import Actor
        from journeys.services import journey_create, journey_publish

        def build(o):
            journey = journey_create(workspace=o.workspace, actor=Actor.for_user(o.user), name="Isolated")
            journey_publish(journey=journey, actor=Actor.for_user(o.user), note="v1")
            return journey

        return self.get("journey", build)

    @property
    def enrollment(self):
        from django.utils import timezone

        from journeys.engine.enroll import enroll_one

        def build(o):
            o.journey.refresh_from_db()
            return enroll_one(journey=o.journey, contact_id=o.contact.pk, now=timezone.now())

        return self.get("enrollment", build)

    @property
    def experiment(self):
        from cpaas.tenancy import Actor
        from experiments.models import Experiment
        from journeys.services import journey_create, journey_publish

        def build(o):
            variants = [{"exit": "a", "weight": 50, "control": True}, {"exit": "b", "weight": 50}]
            graph = {"schema": 1, "start": "trigger", "nodes": {
                "trigger": {"type": "trigger.manual", "config": {}, "exits": {"next": "ab"}},
                "ab": {"type": "split.ab", "config": {"variants": variants}, "exits": {"a": "end", "b": "end"}},
                "end": {"type": "exit", "config": {}, "exits": {}}}}  # fmt: skip
            actor = Actor.for_user(o.user)
            journey = journey_create(workspace=o.workspace, actor=actor, name="With a test", graph=graph)
            journey_publish(journey=journey, actor=actor)
            return Experiment.objects.get(journey_id=journey.pk)

        return self.get("experiment", build)

    @property
    def audience_run(self):
        from cpaas.tenancy import Actor
        from journeys.services import journey_start

        return self.get(
            "audience_run",
            lambda o: journey_start(
                journey=o.journey, actor=Actor.for_user(o.user), contact_ids=[o.contact.pk]
            ),
        )

    @property
    def panel_conversation(self):
        from django.utils import timezone

        from inbox.models import Conversation, Queue

        def build(o):
            queue = Queue.objects.create(workspace=o.workspace, name="panel-isolation")
            now = timezone.now()
            return Conversation.objects.create(
                workspace=o.workspace,
                number=4242,
                contact=o.contact,
                queue=queue,
                opened_at=now,
                created_at=now,
            )

        return self.get("panel_conversation", build)

    @property
    def canned_reply(self):
        from inbox.models import CannedReply

        return self.get(
            "canned_reply",
            lambda o: CannedReply.objects.create(workspace=o.workspace, shortcut="hi", body="Hi"),
        )

    @property
    def inbox_conversation(self):
        from tests.inbox import ui

        return self.get(
            "inbox_conversation",
            lambda o: ui.conversation(o.workspace, ui.queue(o.workspace, "isolated", o.user), text="hello"),
        )

    @property
    def inbox_message(self):
        from channels_app.models import Message

        return self.get(
            "inbox_message",
            lambda o: Message.objects.filter(contact=o.inbox_conversation.contact).first(),
        )


# url name -> (method, kwargs for workspace A's object). Method is what the URL answers to.
OBJECT_URLS = {
    "contact_detail": ("get", lambda o: {"pk": o.contact.pk}),
    "contact_edit": ("get", lambda o: {"pk": o.contact.pk}),
    "contact_delete": ("post", lambda o: {"pk": o.contact.pk}),
    "contact_event_add": ("post", lambda o: {"pk": o.contact.pk}),
    "segment_edit": ("get", lambda o: {"pk": o.segment.pk}),
    "segment_delete": ("post", lambda o: {"pk": o.segment.pk}),
    "membership_edit": ("get", lambda o: {"pk": o.membership.pk}),
    "membership_unlock": ("post", lambda o: {"pk": o.membership.pk}),
    "invitation_revoke": ("post", lambda o: {"pk": o.invitation.pk}),
    "token_revoke": ("post", lambda o: {"pk": o.token.pk}),
    "api_contact_detail": ("get", lambda o: {"contact_id": o.contact.pk}),
    "api_contact_events": ("get", lambda o: {"contact_id": o.contact.pk}),
    "api_contact_by_external_id": (
        "get",
        lambda o: {
            "external_id": o.get(
                "external_contact", lambda o: ContactFactory(workspace=o.workspace, external_id="ext-a")
            ).external_id
        },
    ),
    "import_detail": ("get", lambda o: {"pk": o.contact_import.pk}),
    "import_mapping": ("get", lambda o: {"pk": o.contact_import.pk}),
    "import_errors_csv": ("get", lambda o: {"pk": o.contact_import.pk}),
    "import_retry": ("post", lambda o: {"pk": o.contact_import.pk}),
    "consent_contact": ("get", lambda o: {"pk": o.contact.pk}),
    "consent_change": ("get", lambda o: {"pk": o.contact.pk}),
    "consent_contact_check": ("get", lambda o: {"pk": o.contact.pk}),
    "consent_contact_audit_csv": ("get", lambda o: {"pk": o.contact.pk}),
    "consent_contact_export": ("get", lambda o: {"pk": o.contact.pk}),
    "consent_contact_erase": ("get", lambda o: {"pk": o.contact.pk}),
    "consent_purpose_edit": ("get", lambda o: {"key": o.consent_purpose.key}),
    "consent_purpose_delete": ("post", lambda o: {"key": o.consent_purpose.key}),
    "consent_cap_delete": ("post", lambda o: {"pk": o.consent_cap.pk}),
    "consent_keyword_delete": ("post", lambda o: {"pk": o.consent_keyword.pk}),
    "consent_suppression_lift": ("get", lambda o: {"pk": o.suppression.pk}),
    "consent_review_decide": ("post", lambda o: {"pk": o.keyword_review.pk}),
    "consent_import_detail": ("get", lambda o: {"pk": o.consent_import.pk}),
    "consent_import_start": ("post", lambda o: {"pk": o.consent_import.pk}),
    "consent_import_errors_csv": ("get", lambda o: {"pk": o.consent_import.pk}),
    "api_consent_contact": ("get", lambda o: {"contact_id": o.contact.pk}),
    "api_consent_contact_export": ("get", lambda o: {"contact_id": o.contact.pk}),
    "message_detail": ("get", lambda o: {"pk": o.message.pk}),
    "channel_edit": ("get", lambda o: {"pk": o.channel.pk}),
    "channel_test": ("post", lambda o: {"pk": o.channel.pk}),
    "channel_toggle": ("post", lambda o: {"pk": o.channel.pk}),
    "channel_templates_sync": ("post", lambda o: {"pk": o.channel.pk}),
    "verification_detail": ("get", lambda o: {"pk": o.verification.pk}),
    "api_message_detail": ("get", lambda o: {"message_id": o.message.pk}),
    "api_verification_detail": ("get", lambda o: {"verification_id": o.verification.pk}),
    "api_verification_check": ("post", lambda o: {"verification_id": o.verification.pk}),
    "api_verification_resend": ("post", lambda o: {"verification_id": o.verification.pk}),
    "editor": ("get", lambda o: {"pk": o.journey.pk}),
    "editor_save": ("post", lambda o: {"pk": o.journey.pk}),
    "editor_purpose": ("post", lambda o: {"pk": o.journey.pk}),
    "editor_node_form": ("post", lambda o: {"pk": o.journey.pk}),
    "editor_publish": ("post", lambda o: {"pk": o.journey.pk}),
    "editor_versions": ("get", lambda o: {"pk": o.journey.pk}),
    "editor_version": ("get", lambda o: {"pk": o.journey.pk, "number": 1}),
    "editor_restore": ("post", lambda o: {"pk": o.journey.pk, "number": 1}),
    "editor_counts": ("get", lambda o: {"pk": o.journey.pk}),
    "editor_contacts": ("get", lambda o: {"pk": o.journey.pk}),
    "editor_test_start": ("get", lambda o: {"pk": o.journey.pk}),
    "editor_test_contacts": ("get", lambda o: {"pk": o.journey.pk}),
    "editor_test_contact_new": ("post", lambda o: {"pk": o.journey.pk}),
    "journey_detail": ("get", lambda o: {"pk": o.journey.pk}),
    "journey_action": ("post", lambda o: {"pk": o.journey.pk}),
    "journey_start": ("post", lambda o: {"pk": o.journey.pk}),
    "journey_contact_search": ("get", lambda o: {"pk": o.journey.pk}),
    "enrollment_cancel": ("post", lambda o: {"pk": o.enrollment.pk}),
    "api_journey_detail": ("get", lambda o: {"journey_id": o.journey.pk}),
    "api_journey_draft": ("get", lambda o: {"journey_id": o.journey.pk}),
    "api_journey_publish": ("post", lambda o: {"journey_id": o.journey.pk}),
    "api_journey_status": ("post", lambda o: {"journey_id": o.journey.pk}),
    "api_journey_versions": ("get", lambda o: {"journey_id": o.journey.pk}),
    "api_journey_start": ("post", lambda o: {"journey_id": o.journey.pk}),
    "api_journey_run": ("get", lambda o: {"journey_id": o.journey.pk, "run_id": o.audience_run.pk}),
    "api_journey_counters": ("get", lambda o: {"journey_id": o.journey.pk}),
    "api_journey_enrollments": ("get", lambda o: {"journey_id": o.journey.pk}),
    "api_enrollment_detail": ("get", lambda o: {"enrollment_id": o.enrollment.pk}),
    "api_enrollment_cancel": ("post", lambda o: {"enrollment_id": o.enrollment.pk}),
    "inbox_contact_panel": ("get", lambda o: {"number": o.panel_conversation.number}),
    "inbox_contact_edit": ("post", lambda o: {"number": o.panel_conversation.number}),
    "inbox_contact_vulnerability": ("post", lambda o: {"number": o.panel_conversation.number}),
    "inbox_promise_record": ("post", lambda o: {"number": o.panel_conversation.number}),
    "api_conversation_detail": ("get", lambda o: {"number": o.panel_conversation.number}),
    "api_conversation_assign": ("post", lambda o: {"number": o.panel_conversation.number}),
    "api_conversation_claim": ("post", lambda o: {"number": o.panel_conversation.number}),
    "api_conversation_transfer": ("post", lambda o: {"number": o.panel_conversation.number}),
    "api_conversation_status": ("post", lambda o: {"number": o.panel_conversation.number}),
    "api_conversation_resolve": ("post", lambda o: {"number": o.panel_conversation.number}),
    "api_conversation_return": ("post", lambda o: {"number": o.panel_conversation.number}),
    "api_conversation_reply": ("post", lambda o: {"number": o.panel_conversation.number}),
    "api_conversation_reply_preview": ("post", lambda o: {"number": o.panel_conversation.number}),
    "api_conversation_notes": ("get", lambda o: {"number": o.panel_conversation.number}),
    "inbox_panel_resolve": ("post", lambda o: {"number": o.panel_conversation.number}),
    "inbox_queue_edit": ("get", lambda o: {"pk": o.panel_conversation.queue_id}),
    "inbox_queue_delete": ("post", lambda o: {"pk": o.panel_conversation.queue_id}),
    "inbox_canned_edit": ("get", lambda o: {"pk": o.canned_reply.pk}),
    "inbox_canned_delete": ("post", lambda o: {"pk": o.canned_reply.pk}),
    "inbox_conversation": ("get", lambda o: {"number": o.inbox_conversation.number}),
    "inbox_changes": ("get", lambda o: {"number": o.inbox_conversation.number}),
    "inbox_presence": ("post", lambda o: {"number": o.inbox_conversation.number}),
    "inbox_preview": ("get", lambda o: {"number": o.inbox_conversation.number}),
    "inbox_canned": ("get", lambda o: {"number": o.inbox_conversation.number}),
    "inbox_reply": ("post", lambda o: {"number": o.inbox_conversation.number}),
    "inbox_assign": ("post", lambda o: {"number": o.inbox_conversation.number}),
    "inbox_note": ("post", lambda o: {"number": o.inbox_conversation.number}),
    "inbox_transfer": ("post", lambda o: {"number": o.inbox_conversation.number}),
    "inbox_status": ("post", lambda o: {"number": o.inbox_conversation.number}),
    "inbox_priority": ("post", lambda o: {"number": o.inbox_conversation.number}),
    "inbox_return": ("post", lambda o: {"number": o.inbox_conversation.number}),
    "inbox_retry": ("post", lambda o: {"message_id": o.inbox_message.pk}),
    "api_experiment_detail": ("get", lambda o: {"experiment_id": o.experiment.pk}),
    "api_experiment_results": ("get", lambda o: {"experiment_id": o.experiment.pk}),
    "api_experiment_winner": ("post", lambda o: {"experiment_id": o.experiment.pk}),
    "api_experiment_stop": ("post", lambda o: {"experiment_id": o.experiment.pk}),
    "api_experiment_decisions": ("get", lambda o: {"experiment_id": o.experiment.pk}),
    "api_experiment_assignments_csv": ("get", lambda o: {"experiment_id": o.experiment.pk}),
    "experiment_detail": ("get", lambda o: {"pk": o.experiment.pk}),
    "experiment_action": ("post", lambda o: {"pk": o.experiment.pk}),
    "experiment_refresh": ("post", lambda o: {"pk": o.experiment.pk}),
    "editor_experiment": ("get", lambda o: {"pk": o.journey.pk}),
    "analytics_journey": ("get", lambda o: {"pk": o.journey.pk}),
    "api_journey_funnel": ("get", lambda o: {"journey_id": o.journey.pk}),
}

# Pages and endpoints on the request's own workspace (lists, forms to create, exports).
WORKSPACE_URLS = {
    "home",
    "analytics_health",
    "api_analytics_dashboard",
    "api_analytics_health",
    "no_workspace",
    "workspace_switch",
    "settings",
    "workspace_edit",
    "user_list",
    "invitation_create",
    "token_list",
    "audit_list",
    "contact_list",
    "contact_create",
    "contact_export",
    "segment_list",
    "segment_create",
    "segment_preview",
    "attribute_list",
    "import_list",
    "import_create",
    "api_contact_list",
    "api_event_list",
    "api_event_batch",
    "api_contact_batch",
    "consent_home",
    "consent_events",
    "consent_registry_csv",
    "consent_policies",
    "consent_purpose_create",
    "consent_cap_save",
    "consent_keyword_add",
    "consent_keyword_try",
    "consent_reply_save",
    "consent_suppressions",
    "consent_reviews",
    "consent_import_list",
    "consent_import_create",
    "api_consent_events",
    "api_consent_keyword_simulate",
    "api_consent_check",
    "api_consent_suppressions",
    "message_list",
    "simulator",
    "simulator_contact_create",
    "simulator_reply",
    "simulator_read",
    "simulator_send",
    "channel_list",
    "channel_create",
    "channel_check",  # a `channel` it names is found in the workspace (tests/channels_app/test_channel_setup.py)
    "verification_list",
    "verification_settings",
    "api_message_list",
    "api_message_batch",
    "api_channel_list",
    "api_verification_start",
    "api_verification_settings",
    "editor_index",
    "journey_list",
    "api_journey_list",
    "api_journey_catalogue",
    "api_experiment_list",
    "editor_sms",
    "api_conversation_list",
    "inbox_availability",
    "inbox_supervisor",
    "inbox_settings",
    "inbox_queue_create",
    "inbox_canned_create",
    "inbox",
    "experiment_list",
    "analytics_kpi",
    "analytics_settings",
    "analytics_settings_change",
    "api_analytics_kpi",
}

# invitation_accept: whoever holds the link's random token (tests/cpaas/test_invitations.py).
# email_unsubscribe: whoever holds an email's signed List-Unsubscribe token, which acts on that
# email's contact only (test_an_unsubscribe_token_acts_on_its_own_workspace_only below, and
# tests/channels_app/providers/email/test_unsubscribe.py).
PUBLIC_URLS = {
    "invitation_accept",
    "email_unsubscribe",
    "login",
    "logout",
    "api_schema",
    "api_docs",
    "webhook_inbound",
    "webhook_status",
    "webhook_events",  # the channel's random token and the provider's signature
    "healthz",  # up / ready, nothing sensitive (tests/cpaas/test_health.py)
    "readyz",
    "metrics",  # a bearer token from settings, or this host only (tests/cpaas/test_metrics.py)
}
# Third-party URL names that come with included apps.
IGNORED_URLS = {"api-root"}


def _url_names(patterns=None, prefix=""):
    patterns = get_resolver().url_patterns if patterns is None else patterns
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = f"{p.namespace}:" if p.namespace else prefix
            yield from _url_names(p.url_patterns, ns)
        elif isinstance(p, URLPattern) and p.name:
            yield prefix + p.name


def test_every_url_is_classified():
    names = set(_url_names())
    known = set(OBJECT_URLS) | WORKSPACE_URLS | PUBLIC_URLS | IGNORED_URLS
    # the Django admin: staff only, not a workspace's pages (tests/cpaas/test_admin.py)
    unclassified = sorted(n for n in names - known if not n.startswith("admin:"))
    assert not unclassified, (
        f"Classify these URLs in tests/test_isolation.py (OBJECT_URLS / WORKSPACE_URLS / PUBLIC): {unclassified}"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(OBJECT_URLS))
def test_another_workspace_gets_404(name, workspace, admin_user, other_admin):
    # given an object of workspace A
    objects = Objects(workspace=workspace, user=admin_user)
    method, kwargs = OBJECT_URLS[name]
    url = reverse(name, kwargs=kwargs(objects))
    # when the admin of workspace B asks for it
    response = getattr(client_for(other_admin), method)(url)
    # then it does not exist for them
    assert response.status_code == 404, f"{name} answered {response.status_code} to another workspace"


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(OBJECT_URLS))
def test_owner_workspace_reaches_it(name, workspace, admin_user):
    """The same URL answers its own workspace's admin (so the 404 above means isolation)."""
    objects = Objects(workspace=workspace, user=admin_user)
    method, kwargs = OBJECT_URLS[name]
    url = reverse(name, kwargs=kwargs(objects))
    response = getattr(client_for(admin_user), method)(url)
    assert response.status_code in (200, 302, 400), f"{name} answered {response.status_code}"


# (url name, method, role without the permission)
FORBIDDEN = [
    ("contact_create", "get", "viewer"),
    ("contact_create", "post", "agent"),
    ("contact_edit", "get", "viewer"),
    ("contact_delete", "post", "agent"),
    ("contact_event_add", "post", "viewer"),
    ("contact_export", "get", "agent"),
    ("segment_delete", "post", "viewer"),
    ("segment_edit", "post", "agent"),
    ("attribute_list", "post", "marketer"),
    ("settings", "get", "marketer"),
    ("workspace_edit", "get", "marketer"),
    ("user_list", "get", "agent"),
    ("invitation_create", "post", "marketer"),
    ("invitation_revoke", "post", "agent"),
    ("membership_edit", "get", "viewer"),
    ("membership_unlock", "post", "marketer"),
    ("token_list", "get", "marketer"),
    ("token_revoke", "post", "marketer"),
    ("audit_list", "get", "marketer"),
    ("import_create", "get", "viewer"),
    ("import_list", "get", "agent"),
    ("import_mapping", "post", "viewer"),
    ("import_detail", "get", "agent"),
    ("import_retry", "post", "viewer"),
    ("api_contact_list", "post", "viewer"),
    ("api_contact_detail", "patch", "agent"),
    ("api_event_batch", "post", "viewer"),
    ("api_contact_batch", "post", "viewer"),
    ("consent_change", "get", "marketer"),
    ("consent_change", "post", "viewer"),
    ("consent_contact_erase", "get", "marketer"),
    ("consent_contact_erase", "post", "agent"),
    ("consent_contact_export", "get", "marketer"),
    ("consent_contact_audit_csv", "get", "agent"),
    ("consent_registry_csv", "get", "viewer"),
    ("consent_policies", "post", "marketer"),
    ("consent_purpose_create", "get", "marketer"),
    ("consent_purpose_edit", "post", "viewer"),
    ("consent_cap_save", "post", "marketer"),
    ("consent_cap_delete", "post", "agent"),
    ("consent_keyword_add", "post", "viewer"),
    ("consent_keyword_delete", "post", "marketer"),
    ("consent_reply_save", "post", "agent"),
    ("consent_suppressions", "post", "marketer"),
    ("consent_suppression_lift", "post", "viewer"),
    ("consent_review_decide", "post", "marketer"),
    ("consent_import_list", "get", "marketer"),
    ("consent_import_create", "post", "viewer"),
    ("consent_import_start", "post", "agent"),
    ("api_consent_contact", "post", "viewer"),
    ("api_consent_contact_export", "get", "marketer"),
    ("api_consent_keyword_simulate", "post", "agent"),
    ("api_consent_suppressions", "post", "marketer"),
    ("simulator", "get", "agent"),
    ("simulator_reply", "post", "viewer"),
    ("simulator_send", "post", "viewer"),
    ("simulator_read", "post", "agent"),
    ("channel_list", "get", "marketer"),
    ("channel_create", "post", "marketer"),
    ("channel_check", "post", "marketer"),
    ("channel_edit", "get", "marketer"),
    ("channel_toggle", "post", "agent"),
    ("channel_templates_sync", "post", "agent"),
    ("channel_test", "post", "viewer"),
    ("verification_list", "post", "agent"),
    ("verification_detail", "post", "viewer"),
    ("verification_settings", "get", "marketer"),
    ("verification_settings", "post", "marketer"),
    ("api_message_list", "post", "viewer"),
    ("api_message_batch", "post", "viewer"),
    ("api_verification_start", "post", "agent"),
    ("api_verification_check", "post", "viewer"),
    ("api_verification_resend", "post", "agent"),
    ("api_verification_settings", "patch", "marketer"),
    ("editor_index", "get", "agent"),
    ("editor_index", "post", "viewer"),
    ("editor", "get", "agent"),
    ("editor_save", "post", "viewer"),
    ("editor_purpose", "post", "viewer"),
    ("editor_node_form", "post", "agent"),
    ("editor_publish", "post", "viewer"),
    ("editor_restore", "post", "viewer"),
    ("editor_versions", "get", "agent"),
    ("editor_test_start", "post", "viewer"),
    ("editor_test_contacts", "get", "viewer"),
    ("editor_test_contact_new", "post", "viewer"),
    ("journey_list", "get", "agent"),
    ("journey_detail", "get", "agent"),
    ("journey_action", "post", "viewer"),
    ("journey_start", "post", "viewer"),
    ("journey_contact_search", "get", "viewer"),
    ("enrollment_cancel", "post", "agent"),
    ("api_journey_list", "post", "viewer"),
    ("api_journey_detail", "patch", "viewer"),
    ("api_journey_draft", "put", "viewer"),
    ("api_journey_publish", "post", "viewer"),
    ("api_journey_status", "post", "agent"),
    ("api_journey_start", "post", "viewer"),
    ("api_journey_counters", "get", "agent"),
    ("api_enrollment_cancel", "post", "viewer"),
    ("inbox_contact_panel", "get", "marketer"),
    ("inbox_contact_edit", "post", "viewer"),
    ("inbox_contact_vulnerability", "post", "marketer"),
    ("inbox_promise_record", "post", "viewer"),
    ("api_conversation_list", "get", "marketer"),
    ("inbox_availability", "post", "viewer"),
    ("api_conversation_detail", "get", "viewer"),
    ("api_conversation_assign", "post", "viewer"),
    ("api_conversation_claim", "post", "marketer"),
    ("api_conversation_transfer", "post", "marketer"),
    ("api_conversation_status", "post", "viewer"),
    ("api_conversation_resolve", "post", "marketer"),
    ("api_conversation_return", "post", "viewer"),
    ("api_conversation_reply", "post", "marketer"),
    ("api_conversation_reply_preview", "post", "viewer"),
    ("api_conversation_notes", "post", "marketer"),
    ("inbox_panel_resolve", "post", "marketer"),
    ("inbox_supervisor", "get", "agent"),
    ("inbox_settings", "get", "agent"),
    ("inbox_settings", "post", "marketer"),
    ("inbox_queue_create", "post", "agent"),
    ("inbox_queue_edit", "post", "agent"),
    ("inbox_queue_delete", "post", "agent"),
    ("inbox_canned_create", "get", "agent"),
    ("inbox_canned_edit", "post", "agent"),
    ("inbox_canned_delete", "post", "viewer"),
    ("inbox", "get", "marketer"),
    ("inbox_conversation", "get", "viewer"),
    ("inbox_changes", "get", "marketer"),
    ("inbox_presence", "post", "viewer"),
    ("inbox_preview", "get", "marketer"),
    ("inbox_canned", "get", "viewer"),
    ("inbox_reply", "post", "marketer"),
    ("inbox_assign", "post", "viewer"),
    ("inbox_note", "post", "viewer"),
    ("inbox_transfer", "post", "marketer"),
    ("inbox_status", "post", "viewer"),
    ("inbox_priority", "post", "marketer"),
    ("inbox_return", "post", "viewer"),
    ("inbox_retry", "post", "marketer"),
    ("api_experiment_list", "get", "agent"),
    ("api_experiment_detail", "get", "agent"),
    ("api_experiment_detail", "patch", "viewer"),
    ("api_experiment_results", "get", "agent"),
    ("api_experiment_winner", "post", "viewer"),
    ("api_experiment_stop", "post", "viewer"),
    ("api_experiment_decisions", "get", "agent"),
    ("api_experiment_assignments_csv", "get", "agent"),
    ("experiment_list", "get", "agent"),
    ("experiment_detail", "get", "agent"),
    ("experiment_detail", "post", "viewer"),
    ("experiment_action", "post", "viewer"),
    ("experiment_refresh", "post", "agent"),
    ("editor_experiment", "get", "agent"),
    ("editor_experiment", "post", "viewer"),
    ("analytics_journey", "get", "agent"),
    ("api_journey_funnel", "get", "agent"),
    ("analytics_settings", "get", "marketer"),
    ("analytics_settings_change", "post", "marketer"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "method", "role"), FORBIDDEN)
def test_role_without_permission_gets_403(name, method, role, workspace, admin_user, request):
    user = request.getfixturevalue({"viewer": "viewer", "agent": "agent", "marketer": "marketer"}[role])
    objects = Objects(workspace=workspace, user=admin_user)
    kwargs = OBJECT_URLS[name][1](objects) if name in OBJECT_URLS else {}
    response = getattr(client_for(user), method)(reverse(name, kwargs=kwargs))
    assert response.status_code == 403, f"{role} got {response.status_code} on {method.upper()} {name}"


@pytest.mark.django_db
def test_anonymous_is_sent_to_login(client):
    response = client.get(reverse("contact_list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_contact_list_never_shows_another_workspace(workspace, other_workspace, other_admin):
    ContactFactory(workspace=workspace, first_name="Secret-A")
    ContactFactory(workspace=other_workspace, first_name="Visible-B")
    body = client_for(other_admin).get(reverse("contact_list")).content.decode()
    assert "Visible-B" in body and "Secret-A" not in body


@pytest.mark.django_db
def test_switching_to_a_workspace_you_are_not_in_is_404(workspace, other_admin):
    response = client_for(other_admin).post(reverse("workspace_switch"), {"workspace": workspace.pk})
    assert response.status_code == 404


@pytest.mark.django_db
def test_deactivated_member_loses_the_workspace(workspace, admin_user, marketer):
    from cpaas.models import Membership

    Membership.objects.filter(user=marketer).update(is_active=False)
    response = client_for(marketer).get(reverse("contact_list"))
    assert response.status_code == 302 and response["Location"] == reverse("no_workspace")


@pytest.mark.django_db
def test_batch_writers_touch_only_their_own_workspace(workspace, other_workspace, api, other_api):
    """The events and contacts batch endpoints find contacts only in the token's workspace: the
    same external id or phone in another workspace is another person, never read or changed."""
    from contacts.models import Contact, Event

    theirs = ContactFactory(workspace=workspace, external_id="crm-1", phone="+447911123456", first_name="Ann")
    response = other_api.post(
        "/api/v1/contacts/batch/",
        {"contacts": [{"external_id": "crm-1", "first_name": "Mallory"}, {"phone": "+447911123456"}]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert [r["status"] for r in response.json()["results"]] == ["created", "created"]
    response = other_api.post(
        "/api/v1/events/batch/",
        {"events": [{"contact": {"external_id": "crm-1"}, "name": "signup"},
                    {"contact": {"phone": "+447911123456"}, "name": "signup"}]},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200, response.json()
    assert theirs.pk not in {r["contact_id"] for r in response.json()["results"]}
    response = other_api.post(
        "/api/v1/events/batch/", {"events": [{"contact": {"id": theirs.pk}, "name": "signup"}]}, format="json"
    )
    assert response.status_code == 400
    theirs.refresh_from_db()
    assert theirs.first_name == "Ann"
    assert not Event.objects.filter(workspace=workspace).exists()
    assert Contact.objects.filter(workspace=workspace).count() == 1


@pytest.mark.django_db
def test_an_unsubscribe_token_acts_on_its_own_workspace_only(client, workspace, other_workspace):
    """The public unsubscribe URL: B's token opts out B's contact, never A's (same address, same
    message number in the token's other fields); a token re-pointed at A is refused."""
    import datetime as dt

    from django.core import signing

    from channels_app import unsubscribe
    from channels_app.services.messages import message_send
    from consent.models import ConsentEvent

    now = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
    ours = ContactFactory(workspace=workspace, email="same@example.com")
    theirs = ContactFactory(workspace=other_workspace, email="same@example.com")
    our_mail = message_send(
        workspace=workspace, contact=ours, channel="email", content={"text": "a"}, purpose="surveys", now=now
    )
    their_mail = message_send(workspace=other_workspace, contact=theirs, channel="email", content={"text": "b"}, purpose="surveys", now=now)  # fmt: skip
    assert (
        client.post(reverse("email_unsubscribe", args=[unsubscribe.token_for(their_mail)])).status_code == 200
    )
    assert ConsentEvent.objects.filter(contact=theirs, new_status="opted_out").count() == 1
    # their token's fields re-pointed at our workspace or our message: signed by nobody we trust
    payload = signing.loads(unsubscribe.token_for(their_mail), salt=unsubscribe.SALT)
    for changed in ({**payload, "w": workspace.pk}, {**payload, "m": our_mail.pk}):
        token = signing.dumps(changed, salt=unsubscribe.SALT, key="an-attacker-key", compress=True)
        assert client.post(reverse("email_unsubscribe", args=[token])).status_code == 404
    assert not ConsentEvent.objects.filter(contact=ours, new_status="opted_out").exists()
