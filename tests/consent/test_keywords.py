"""Inbound keywords: matching (exact and fuzzy), languages and replies, and what STOP, START
and HELP change."""

import datetime as dt

import pytest

from consent import selectors, services
from consent.models import ConsentEvent, ConsentRecord, Suppression
from consent.services import check, inbound_keyword, keyword_match
from cpaas.models import AuditEntry
from cpaas.tenancy import Actor
from tests.consent.conftest import NOON, change, opt_in

pytestmark = pytest.mark.django_db


def _match(workspace, text, language="", fuzzy=False):
    keywords, _replies, _fuzzy = selectors.keywords_for(workspace=workspace)
    found = keyword_match(text, language=language, keywords=keywords, fuzzy=fuzzy)
    return (found.action, found.word) if found else None


@pytest.mark.parametrize(
    ("text", "language", "fuzzy", "expected"),
    [
        ("stop", "", False, ("stop", "STOP")),
        (" Stop ", "", False, ("stop", "STOP")),
        ("STOP\n", "", False, ("stop", "STOP")),
        ("Stop.", "", False, ("stop", "STOP")),  # surrounding punctuation is not a word
        ("STOP please", "", False, ("stop", "STOP")),  # a plain revocation, honoured by default
        ("STOP please", "", True, ("stop", "STOP")),
        ("please don't text me, stop", "", True, ("stop", "STOP")),
        ("stopp", "", False, None),
        ("STPO", "", True, ("stop", "STOP")),  # one typo, fuzzy only
        ("unsubscribe", "", False, ("stop", "UNSUBSCRIBE")),
        ("OptOut", "", False, ("stop", "OPTOUT")),
        ("stopall", "", False, ("stop", "STOPALL")),
        ("Start", "", False, ("start", "START")),
        ("yes", "en", False, ("start", "YES")),
        ("help", "", False, ("help", "HELP")),
        ("info", "", False, ("help", "INFO")),
        ("arrêt", "fr", False, ("stop", "ARRET")),  # accents ignored
        ("ARRET", "en", False, ("stop", "ARRET")),  # opt-outs count in every language
        ("baja", "es", False, ("stop", "BAJA")),
        ("alta", "es", False, ("start", "ALTA")),
        ("alta", "en", False, None),  # START words only in their language
        ("ayuda", "es-MX", False, ("help", "AYUDA")),
        ("hello", "", True, None),
        ("", "", True, None),
        ("stop and start", "", True, ("stop", "STOP")),  # fuzzy: an opt-out wins
    ],
)
def test_keyword_matching(workspace, text, language, fuzzy, expected):
    assert _match(workspace, text, language, fuzzy) == expected


def test_stop_suppresses_the_channel_for_every_purpose_and_replies(contact):
    opt_in(contact)
    result = inbound_keyword(
        contact=contact, channel_kind="sms", text=" Stop ", at=NOON, inbound_message_id="in-1"
    )
    assert result.action == "stop" and result.handled
    assert result.reply == (
        "Workspace A: you are unsubscribed and will get no more messages on this channel. Reply START to subscribe again."
    )
    assert set(
        ConsentRecord.objects.filter(contact=contact, channel_kind="sms").values_list("status", flat=True)
    ) == {"suppressed"}
    assert result.events == 5  # transactional, otp, collections, marketing, surveys
    event = ConsentEvent.objects.filter(contact=contact, purpose="marketing").first()
    assert (event.method, event.actor_type, event.inbound_message_id) == ("keyword", "keyword", "in-1")
    assert event.previous_status == "opted_in" and 'Replied "Stop"' in event.reason
    assert check(contact, "sms", "otp", NOON).rule == "suppression"
    assert check(contact, "email", "transactional", NOON).outcome == "allow"  # other channels untouched
    assert AuditEntry.objects.filter(action="consent.keyword.stop").count() == 1


def test_the_same_inbound_message_twice_changes_nothing(contact):
    inbound_keyword(contact=contact, channel_kind="sms", text="STOP", at=NOON, inbound_message_id="in-1")
    again = inbound_keyword(
        contact=contact, channel_kind="sms", text="STOP", at=NOON, inbound_message_id="in-1"
    )
    assert again.duplicate and again.action == "stop" and again.events == 0
    assert ConsentEvent.objects.count() == 5


def test_start_restores_what_stop_changed(contact):
    opt_in(contact, purpose="marketing", at=NOON - dt.timedelta(days=3))
    change(contact, "opted_out", purpose="surveys", at=NOON - dt.timedelta(days=2))
    inbound_keyword(contact=contact, channel_kind="sms", text="STOP", at=NOON)
    result = inbound_keyword(
        contact=contact, channel_kind="sms", text="start", at=NOON + dt.timedelta(hours=1)
    )
    assert result.action == "start" and result.reply.startswith("Workspace A: you are subscribed again")
    states = dict(
        ConsentRecord.objects.filter(contact=contact, channel_kind="sms").values_list("purpose", "status")
    )
    assert states["marketing"] == "opted_in"  # as before STOP
    assert states["surveys"] == "opted_out"  # as before STOP
    assert states["transactional"] == "opted_in"
    assert not Suppression.objects.exists()
    assert check(contact, "sms", "marketing", NOON + dt.timedelta(hours=2)).outcome == "allow"


def test_start_is_not_a_marketing_opt_in(contact):
    inbound_keyword(contact=contact, channel_kind="sms", text="STOP", at=NOON)
    inbound_keyword(contact=contact, channel_kind="sms", text="UNSTOP", at=NOON + dt.timedelta(minutes=5))
    assert check(contact, "sms", "marketing", NOON + dt.timedelta(hours=1)).outcome == "deny"
    assert check(contact, "sms", "transactional", NOON + dt.timedelta(hours=1)).outcome == "allow"


def test_yes_confirms_a_pending_double_opt_in(contact):
    change(
        contact,
        "pending",
        method="web_form",
        evidence={"notice_version": "v3"},
        at=NOON - dt.timedelta(hours=1),
    )
    assert check(contact, "sms", "marketing", NOON).rule == "consent.pending"
    inbound_keyword(contact=contact, channel_kind="sms", text="YES", at=NOON, inbound_message_id="in-9")
    record = ConsentRecord.objects.get(contact=contact, purpose="marketing")
    assert record.status == "opted_in"
    assert record.captured_at == NOON - dt.timedelta(hours=1) and record.confirmed_at == NOON
    assert check(contact, "sms", "marketing", NOON).outcome == "allow"


def test_start_does_not_lift_an_admin_suppression(contact):
    services.suppression_add(
        workspace=contact.workspace, actor=Actor.system("t"), channel_kind="", address=contact.phone,
        reason="complaint", note="Complaint to the regulator", at=NOON,
    )  # fmt: skip
    result = inbound_keyword(contact=contact, channel_kind="sms", text="START", at=NOON)
    assert result.events == 0 and "for help contact" in result.reply  # the help text, not "subscribed again"
    assert check(contact, "sms", "transactional", NOON).rule == "suppression"


def test_help_changes_nothing(contact):
    result = inbound_keyword(contact=contact, channel_kind="sms", text="HELP", at=NOON)
    assert result.action == "help" and "Reply STOP to unsubscribe" in result.reply
    assert not ConsentEvent.objects.exists()


def test_not_a_keyword_passes_through(contact):
    result = inbound_keyword(contact=contact, channel_kind="sms", text="See you on Friday", at=NOON)
    assert (result.action, result.handled, result.reply) == ("none", False, "")
    assert not ConsentEvent.objects.exists()


@pytest.mark.parametrize(
    ("text", "language", "reply"),
    [
        ("ARRET", "fr", "Workspace A : vous êtes désabonné"),
        ("arrêt", "", "Workspace A : vous êtes désabonné"),  # the keyword's language picks the reply
        ("BAJA", "es", "Workspace A: se ha dado de baja"),
        ("STOP", "es", "Workspace A: se ha dado de baja"),  # the contact's language
        ("STOP", "de", "Workspace A: you are unsubscribed"),  # no German reply: the fallback
        ("AYUDA", "es", "Workspace A: ayuda en"),
    ],
)
def test_replies_per_language(contact, text, language, reply):
    result = inbound_keyword(contact=contact, channel_kind="sms", text=text, language=language, at=NOON)
    assert result.reply.startswith(reply)


def test_the_contact_s_language_is_used_when_the_message_has_none(contact):
    contact.language = "fr"
    assert inbound_keyword(contact=contact, channel_kind="sms", text="STOP", at=NOON).reply.startswith(
        "Workspace A : vous"
    )


def test_workspace_keywords_and_replies_and_fuzzy_mode(contact, actor):
    workspace = contact.workspace
    services.keyword_add(workspace=workspace, actor=actor, word="Basta", language="it", action="stop")
    services.reply_save(
        workspace=workspace, actor=actor, action="stop", language="it", text="{workspace}: ok, basta."
    )
    result = inbound_keyword(contact=contact, channel_kind="sms", text="basta!", at=NOON)
    assert (result.action, result.keyword, result.reply) == ("stop", "BASTA", "Workspace A: ok, basta.")
    assert (
        inbound_keyword(contact=contact, channel_kind="email", text="cancel my order", at=NOON).action
        == "none"
    )
    services.policy_update(
        workspace=workspace, actor=actor, quiet_start=dt.time(21), quiet_end=dt.time(8), fuzzy_keywords=True
    )
    fuzzy = inbound_keyword(contact=contact, channel_kind="email", text="cancel my order", at=NOON)
    assert fuzzy.action == "stop" and fuzzy.fuzzy
    assert "(fuzzy match)" in ConsentEvent.objects.filter(channel_kind="email").first().reason


def test_stop_cannot_be_removed_but_other_keywords_can(workspace, actor):
    from django.core.exceptions import ValidationError

    services.policy_ensure(workspace=workspace)
    with pytest.raises(ValidationError):
        services.keyword_delete(keyword=workspace.consent_keywords.get(word="STOP"), actor=actor)
    services.keyword_delete(keyword=workspace.consent_keywords.get(word="QUIT"), actor=actor)
    assert _match(workspace, "quit") is None


def test_a_keyword_of_two_words_is_refused(workspace, actor):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as error:
        services.keyword_add(workspace=workspace, actor=actor, word="stop it", language="", action="stop")
    assert "word" in error.value.message_dict
