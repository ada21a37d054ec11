"""check(): every rule, their order, the WhatsApp window edges, frequency-cap boundaries, bad
input, and check_many's bounded number of queries."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from consent import services
from consent.models import SendRecord
from consent.services import Decision, check, check_many
from contacts.models import Contact
from cpaas.tenancy import Actor
from tests.consent.conftest import NOON, change, opt_in
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

NIGHT = dt.datetime(2026, 5, 4, 22, 30, tzinfo=dt.UTC)  # 23:30 in London: quiet hours
H = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def given(contact, ops, *, channel, purpose, at):
    """Put the contact in a situation: ops are small words (see the table)."""
    for op in ops:
        if op == "suppressed":
            services.suppression_add(
                workspace=contact.workspace,
                actor=Actor.system("test"),
                channel_kind=channel,
                address=contact.phone if channel != "email" else contact.email,
                reason="complaint",
                note="Complained",
                at=at - DAY,
            )
        elif op == "opted_in":
            opt_in(contact, channel, purpose, at=at - 10 * DAY)
        elif op == "expired":
            opt_in(contact, channel, purpose, at=at - 10 * DAY, expires_at=at - DAY)
        elif op == "pending":
            change(contact, "pending", channel, purpose, at=at - DAY, method="web_form",
                   evidence={"notice_version": "v1"})  # fmt: skip
        elif op in ("opted_out", "record_suppressed"):
            change(contact, op.replace("record_", ""), channel, purpose, at=at - DAY)
        elif op.startswith("inbound"):
            ago = {"inbound_recent": H, "inbound_old": 2 * DAY}[op]
            services.inbound_recorded(contact=contact, channel_kind=channel, at=at - ago)
        elif op == "capped":
            for n in range(3):
                services.send_recorded(
                    contact=contact, channel_kind=channel, purpose=purpose, at=at - (n + 1) * DAY
                )
        elif op == "vulnerable":
            Contact.objects.filter(pk=contact.pk).update(is_vulnerable=True)
            contact.is_vulnerable = True
        elif op == "no_address":
            Contact.objects.filter(pk=contact.pk).update(phone=None)
            contact.phone = None
        else:
            raise AssertionError(op)


# (situation, channel, purpose, at, expected outcome, expected rule)
RULES = [
    # each rule alone
    ([], "sms", "marketing", NOON, "deny", "consent.missing"),
    (["opted_in"], "sms", "marketing", NOON, "allow", "consent.opted_in"),
    ([], "sms", "transactional", NOON, "allow", "basis.contract"),
    ([], "email", "surveys", NOON, "allow", "basis.legitimate_interest"),
    ([], "voice", "collections", NOON, "allow", "basis.legal_obligation"),
    (["no_address"], "sms", "transactional", NOON, "deny", "address.missing"),
    (["suppressed"], "sms", "transactional", NOON, "deny", "suppression"),
    (["suppressed"], "sms", "otp", NOON, "deny", "suppression"),
    (["opted_out"], "sms", "marketing", NOON, "deny", "consent.opted_out"),
    (["opted_out"], "sms", "transactional", NOON, "deny", "consent.opted_out"),
    (["record_suppressed"], "sms", "transactional", NOON, "deny", "consent.suppressed"),
    (["pending"], "sms", "marketing", NOON, "deny", "consent.pending"),
    (["expired"], "sms", "marketing", NOON, "deny", "consent.expired"),
    ([], "whatsapp", "transactional", NOON, "deny", "whatsapp.window"),
    (["inbound_old"], "whatsapp", "transactional", NOON, "deny", "whatsapp.window"),
    (["inbound_recent"], "whatsapp", "transactional", NOON, "allow", "basis.contract"),
    (["opted_in"], "sms", "marketing", NIGHT, "defer", "quiet_hours"),
    ([], "voice", "collections", NIGHT, "defer", "quiet_hours"),
    ([], "sms", "otp", NIGHT, "allow", "basis.contract"),  # OTP is never deferred
    ([], "sms", "transactional", NIGHT, "allow", "basis.contract"),
    (["opted_in", "capped"], "sms", "marketing", NOON, "defer", "frequency_cap"),
    (["opted_in", "vulnerable"], "sms", "marketing", NOON, "deny", "vulnerability"),
    (["vulnerable"], "voice", "collections", NOON, "deny", "vulnerability"),
    (["vulnerable"], "sms", "transactional", NOON, "allow", "basis.contract"),
    # the order: the first rule that does not allow decides
    (["suppressed", "opted_out", "vulnerable"], "sms", "marketing", NIGHT, "deny", "suppression"),
    (["vulnerable"], "sms", "marketing", NIGHT, "deny", "consent.missing"),
    (["opted_in", "vulnerable"], "whatsapp", "marketing", NIGHT, "deny", "whatsapp.window"),
    (
        ["opted_in", "inbound_recent", "capped", "vulnerable"],
        "whatsapp",
        "marketing",
        NIGHT,
        "defer",
        "quiet_hours",
    ),
    (["opted_in", "capped", "vulnerable"], "sms", "marketing", NOON, "defer", "frequency_cap"),
]


@pytest.mark.parametrize(("ops", "channel", "purpose", "at", "outcome", "rule"), RULES, ids=lambda v: str(v))
def test_rules_and_their_order(contact, ops, channel, purpose, at, outcome, rule):
    given(contact, ops, channel=channel, purpose=purpose, at=at)
    decision = check(Contact.objects.get(pk=contact.pk), channel, purpose, at)
    assert (decision.outcome, decision.rule) == (outcome, rule), decision.reason
    assert decision.reason  # a person can read why
    assert (decision.defer_until is not None) == (outcome == "defer")
    if outcome == "defer":
        assert decision.defer_until > at


def test_the_reasons_say_what_a_person_needs(contact):
    assert "needs explicit consent" in check(contact, "sms", "marketing", NOON).reason
    decision = check(contact, "sms", "surveys", NIGHT)
    assert decision.reason == (
        "Quiet hours for surveys (21:00-08:00 in Europe/London); the next allowed time is 2026-05-05 08:00 BST."
    )


def test_a_template_may_go_outside_the_whatsapp_window(contact):
    assert check(contact, "whatsapp", "transactional", NOON).rule == "whatsapp.window"
    assert check(contact, "whatsapp", "transactional", NOON, is_template=True).outcome == "allow"


@pytest.mark.parametrize(
    ("after_inbound", "outcome"),
    [
        (dt.timedelta(hours=23, minutes=59), "allow"),
        (dt.timedelta(hours=24) - dt.timedelta(seconds=1), "allow"),
        (dt.timedelta(hours=24), "deny"),  # the window is [last inbound, +24 h)
        (dt.timedelta(hours=24, minutes=1), "deny"),
    ],
)
def test_whatsapp_window_edges(contact, after_inbound, outcome):
    last = NOON - dt.timedelta(days=1)
    services.inbound_recorded(contact=contact, channel_kind="whatsapp", at=last)
    decision = check(contact, "whatsapp", "transactional", last + after_inbound)
    assert decision.outcome == outcome
    if outcome == "deny":
        assert decision.rule == "whatsapp.window" and "approved template" in decision.reason


def test_an_older_inbound_does_not_move_the_window_back(contact):
    services.inbound_recorded(contact=contact, channel_kind="whatsapp", at=NOON)
    services.inbound_recorded(contact=contact, channel_kind="whatsapp", at=NOON - 2 * DAY)
    assert check(contact, "whatsapp", "transactional", NOON + 23 * H).outcome == "allow"


def test_inbound_on_another_channel_does_not_open_the_whatsapp_window(contact):
    services.inbound_recorded(contact=contact, channel_kind="sms", at=NOON - H)
    assert check(contact, "whatsapp", "transactional", NOON).rule == "whatsapp.window"


# --- frequency caps -----------------------------------------------------------------------------


def _sends(contact, ages, channel="sms", purpose="marketing"):
    for age in ages:
        services.send_recorded(contact=contact, channel_kind=channel, purpose=purpose, at=NOON - age)


@pytest.mark.parametrize(
    ("ages", "outcome"),
    [
        ([DAY, 2 * DAY], "allow"),  # 2 of 3
        ([DAY, 2 * DAY, 3 * DAY], "defer"),  # 3 of 3
        ([DAY, 2 * DAY, 7 * DAY], "allow"),  # exactly 7 days ago: out of the window
        ([DAY, 2 * DAY, 7 * DAY - dt.timedelta(minutes=1)], "defer"),  # a minute inside it
    ],
)
def test_marketing_cap_boundaries(contact, ages, outcome):
    opt_in(contact, at=NOON - 30 * DAY)
    _sends(contact, ages)
    assert check(contact, "sms", "marketing", NOON).outcome == outcome


def test_cap_defers_until_the_oldest_counted_send_leaves_the_window(contact):
    opt_in(contact, at=NOON - 30 * DAY)
    _sends(contact, [DAY, 2 * DAY, 3 * DAY + 2 * H])  # oldest: Apr 30 10:00 UTC
    decision = check(contact, "sms", "marketing", NOON)
    assert decision.rule == "frequency_cap"
    assert decision.defer_until == NOON - 3 * DAY - 2 * H + 7 * DAY
    assert "3 marketing message(s) on all channels in the last 7 days (the cap is 3)" in decision.reason


def test_marketing_cap_counts_every_channel_together_but_only_marketing(contact):
    opt_in(contact, at=NOON - 30 * DAY)
    _sends(contact, [DAY], channel="email")
    _sends(contact, [DAY], channel="whatsapp")
    _sends(contact, [DAY, 2 * DAY], channel="sms", purpose="transactional")
    assert check(contact, "sms", "marketing", NOON).outcome == "allow"
    _sends(contact, [2 * DAY], channel="sms")
    assert check(contact, "sms", "marketing", NOON).rule == "frequency_cap"


def test_collections_calls_capped_at_seven_in_seven_days(contact):
    _sends(
        contact, [dt.timedelta(hours=20 * n + 1) for n in range(6)], channel="voice", purpose="collections"
    )
    assert check(contact, "voice", "collections", NOON).outcome == "allow"
    _sends(contact, [dt.timedelta(hours=150)], channel="voice", purpose="collections")
    assert check(contact, "voice", "collections", NOON).rule == "frequency_cap"
    assert check(contact, "sms", "collections", NOON).outcome == "allow"  # texts are not calls


def test_a_cap_defer_that_lands_in_quiet_hours_moves_to_their_end(contact):
    opt_in(contact, at=NOON - 30 * DAY)
    oldest = dt.datetime(2026, 4, 28, 22, 0, tzinfo=dt.UTC)  # + 7 days = 23:00 BST on 5 May
    _sends(contact, [NOON - oldest, DAY, 2 * DAY])
    decision = check(contact, "sms", "marketing", NOON)
    assert decision.rule == "frequency_cap"
    assert decision.defer_until == dt.datetime(2026, 5, 6, 7, 0, tzinfo=dt.UTC)  # 08:00 BST


def test_the_same_message_ref_counts_once(contact):
    opt_in(contact, at=NOON - 30 * DAY)
    for _ in range(3):
        services.send_recorded(
            contact=contact, channel_kind="sms", purpose="marketing", at=NOON - H, message_ref="m-1"
        )
    assert SendRecord.objects.count() == 1
    assert check(contact, "sms", "marketing", NOON).outcome == "allow"


def test_the_batch_ledger_counts_like_single_sends(contact):
    opt_in(contact, at=NOON - 30 * DAY)
    sends = [
        {
            "contact_id": contact.pk,
            "channel_kind": "sms",
            "purpose": "marketing",
            "at": NOON - n * H,
            "message_ref": f"m{n}",
        }
        for n in (1, 2, 3, 3)  # m3 twice: counted once
    ]
    services.sends_recorded(workspace_id=contact.workspace_id, sends=sends[:2])
    assert check(contact, "sms", "marketing", NOON).outcome == "allow"
    services.sends_recorded(workspace_id=contact.workspace_id, sends=sends[2:])
    assert SendRecord.objects.count() == 3
    assert check(contact, "sms", "marketing", NOON).rule == "frequency_cap"


# --- bad input and details ------------------------------------------------------------------------


def test_unknown_channel_or_purpose_is_a_clear_error(contact):
    with pytest.raises(ValidationError) as error:
        check(contact, "pigeon", "marketing", NOON)
    assert "Unknown channel 'pigeon'" in str(error.value)
    with pytest.raises(ValidationError) as error:
        check(contact, "sms", "lottery", NOON)
    assert "Unknown purpose 'lottery'" in str(error.value) and "marketing" in str(error.value)


def test_a_naive_time_is_refused(contact):
    with pytest.raises(ValidationError):
        check(contact, "sms", "transactional", dt.datetime(2026, 5, 4, 12, 0))


def test_a_contact_without_time_zone_uses_the_workspace_s(workspace):
    workspace.timezone = "America/New_York"
    workspace.save()
    # no zone and no phone number to infer one from (a number's zone comes first: test_time_zones)
    contact = ContactFactory(workspace=workspace, timezone="", phone=None, email="nyc@example.com")
    # 02:30 UTC is 22:30 in New York (quiet) but 03:30 in London
    decision = check(contact, "email", "collections", dt.datetime(2026, 5, 5, 2, 30, tzinfo=dt.UTC))
    assert decision.rule == "quiet_hours" and "America/New_York" in decision.reason
    assert decision.defer_until == dt.datetime(2026, 5, 5, 12, 0, tzinfo=dt.UTC)  # 08:00 EDT


def test_a_sender_scoped_record_overrides_the_channel_wide_one(contact):
    opt_in(contact, at=NOON - DAY)
    change(contact, "opted_out", sender_scope="BRAND-B", at=NOON - H)
    assert check(contact, "sms", "marketing", NOON).outcome == "allow"
    assert check(contact, "sms", "marketing", NOON, sender="BRAND-B").rule == "consent.opted_out"
    assert check(contact, "sms", "marketing", NOON, sender="BRAND-C").outcome == "allow"


def test_an_agent_may_reach_a_vulnerable_contact(contact):
    given(contact, ["vulnerable"], channel="voice", purpose="collections", at=NOON)
    assert check(contact, "voice", "collections", NOON).rule == "vulnerability"
    assert check(contact, "voice", "collections", NOON, automated=False).outcome == "allow"


def test_decisions_can_be_stored_with_the_message(contact):
    decision = check(contact, "sms", "marketing", NIGHT)
    stored = decision.as_json()
    assert Decision.from_json(stored) == decision
    deferred = check(contact, "sms", "transactional", NIGHT)
    assert Decision.from_json(deferred.as_json()) == deferred


# --- the batch form ------------------------------------------------------------------------------


def test_check_many_decides_like_check(workspace):
    contacts = [ContactFactory(workspace=workspace, timezone="Europe/London") for _ in range(6)]
    opt_in(contacts[0])
    opt_in(contacts[1])
    _sends(contacts[1], [DAY, 2 * DAY, 3 * DAY])
    change(contacts[2], "opted_out")
    services.suppression_add(
        workspace=workspace, actor=Actor.system("t"), channel_kind="", address=contacts[3].phone,
        reason="admin", note="n", at=NOON,
    )  # fmt: skip
    Contact.objects.filter(pk=contacts[4].pk).update(phone=None)
    contacts = list(Contact.objects.filter(pk__in=[c.pk for c in contacts]))
    batch = check_many(contacts, "sms", "marketing", NOON)
    assert {pk: d.rule for pk, d in batch.items()} == {
        c.pk: check(c, "sms", "marketing", NOON).rule for c in contacts
    }
    assert sorted(d.rule for d in batch.values()) == sorted(
        [
            "consent.opted_in",
            "frequency_cap",
            "consent.opted_out",
            "suppression",
            "address.missing",
            "consent.missing",
        ]
    )


def test_check_many_runs_a_bounded_number_of_queries_for_10000_contacts(
    workspace, django_assert_max_num_queries
):
    Contact.objects.bulk_create(
        [
            Contact(workspace=workspace, first_name=f"P{n}", phone=f"+4479{n:08d}", timezone="Europe/London")
            for n in range(10_000)
        ],
        batch_size=2000,
    )
    contacts = list(Contact.objects.filter(workspace=workspace).select_related("workspace"))
    for c in contacts[:50]:
        opt_in(c, at=NOON - 10 * DAY)
    for c in contacts[:5]:
        _sends(c, [DAY, 2 * DAY, 3 * DAY])
    for c in contacts[50:55]:
        services.suppression_add(
            workspace=workspace, actor=Actor.system("t"), channel_kind="sms", address=c.phone,
            reason="admin", note="n", at=NOON,
        )  # fmt: skip
    with django_assert_max_num_queries(8):
        decisions = check_many(contacts, "sms", "marketing", NOON)
    assert len(decisions) == 10_000
    rules = [d.rule for d in decisions.values()]
    assert rules.count("consent.opted_in") == 45
    assert rules.count("frequency_cap") == 5
    assert rules.count("suppression") == 5
    assert rules.count("consent.missing") == 10_000 - 55
    with django_assert_max_num_queries(8):
        whatsapp = check_many(contacts, "whatsapp", "transactional", NOON)
    assert sum(d.rule == "whatsapp.window" for d in whatsapp.values()) == 10_000


def test_check_many_refuses_contacts_of_two_workspaces(workspace, other_workspace):
    with pytest.raises(ValueError):
        check_many(
            [ContactFactory(workspace=workspace), ContactFactory(workspace=other_workspace)],
            "sms",
            "otp",
            NOON,
        )
