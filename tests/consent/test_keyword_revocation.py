"""Opt-outs as people write them (issue 11 items 6 and 7): the FCC's words with spaces, hyphens,
invisible characters, quotes and emoji; button replies; short messages that plainly revoke
consent, honoured by default with the matched rule as evidence; unclear ones to a person. And
START/YES confirm only what they lifted."""

import datetime as dt

import pytest
from django.urls import reverse

from consent import selectors
from consent.models import ConsentEvent, KeywordReview, Suppression
from consent.services import check, inbound_keyword, keyword_match
from tests.consent.conftest import NOON, change

pytestmark = pytest.mark.django_db


def _match(workspace, text, language="", fuzzy=False):
    keywords, _replies, _fuzzy = selectors.keywords_for(workspace=workspace)
    found = keyword_match(text, language=language, keywords=keywords, fuzzy=fuzzy)
    return found.action if found else None


@pytest.mark.parametrize(
    "text",
    [
        "opt out",
        "opt-out",
        "OPT OUT",
        "Opt\u2011Out",  # a non-breaking hyphen
        "ST\u200bOP",  # a zero-width space inside
        "\u200bSTOP\u200d",
        "\ufeffstop",
        "🛑 STOP 🛑",
        "STOP 👍",
        '"STOP"',
        "“Stop”",
        "«ARRÊT»",
        "'unsubscribe'",
        "S.T.O.P",
        "Ｓｔｏｐ",  # full-width letters
        "QUIT",
        "end",
        "Revoke",
        "cancel",
        "stopall",
        "stop please",
        "Stop, please!",
        "unsubscribe me",
        "stop sending me messages",
        "STOP texting me now",
        "please opt me out",
        "remove me from this list",
        "no more texts please",
        "do not text me",
        "don't text me anymore stop",
        "cancel my subscription",
        "arrêt s'il vous plaît",
        "baja por favor",
        "no me envíen más mensajes",
    ],
)
def test_plain_revocations_are_opt_outs_by_default(workspace, text):
    assert _match(workspace, text) == "stop"


@pytest.mark.parametrize(
    "text",
    [
        "cancel my order",
        "I can't stop laughing at this offer",
        "when does the sale end?",
        "Can I quit the gym plan and keep the app",
    ],
)
def test_messages_that_only_hold_a_stop_word_go_to_a_person(workspace, text):
    assert _match(workspace, text) == "review"
    assert _match(workspace, text, fuzzy=True) == "stop"  # fuzzy mode errs on the side of the opt-out


@pytest.mark.parametrize("text", ["hello", "stopping by later", "Yes I will pay friday", "", "🙂"])
def test_other_messages_are_not_keywords(workspace, text):
    assert (
        _match(workspace, text) in (None, "start")
        if text.startswith("Yes")
        else _match(workspace, text) is None
    )


def test_a_plain_revocation_suppresses_and_records_the_matched_rule(contact):
    result = inbound_keyword(
        contact=contact,
        channel_kind="sms",
        text="Stop sending me messages please",
        at=NOON,
        inbound_message_id="m1",
    )
    assert result.action == "stop" and "unsubscribed" in result.reply
    assert check(contact, "sms", "transactional", NOON).rule == "suppression"
    event = ConsentEvent.objects.filter(contact_id=contact.pk, channel_kind="sms").first()
    assert "matched: stop word STOP with SENDING ME MESSAGES PLEASE" in event.reason


def test_a_whatsapp_button_whose_payload_is_stop_opts_out(contact):
    result = inbound_keyword(
        contact=contact,
        channel_kind="whatsapp",
        text="No thanks",
        payload="STOP",
        at=NOON,
        inbound_message_id="b1",
    )
    assert result.action == "stop"
    assert check(contact, "whatsapp", "transactional", NOON, is_template=True).rule == "suppression"
    assert "button payload" in ConsentEvent.objects.filter(channel_kind="whatsapp").first().reason


def test_a_button_reply_reaching_the_inbound_pipeline_opts_out(contact):
    from channels_app.models import Channel
    from channels_app.providers.base import Inbound
    from channels_app.services.inbound import inbound_receive

    channel = Channel.objects.get(workspace=contact.workspace, kind="whatsapp")
    inbound_receive(
        channel=channel,
        inbound=Inbound(
            provider_message_id="wamid.1", from_address=contact.phone, to_address=channel.address,
            text="Unsubscribe from offers", button_id="STOP",
        ),
        now=NOON,
    )  # fmt: skip
    assert Suppression.objects.filter(workspace=contact.workspace, channel_kind="whatsapp").exists()


def test_an_unclear_message_waits_on_the_review_list_and_a_person_decides(contact, client, admin_user):
    result = inbound_keyword(
        contact=contact, channel_kind="sms", text="cancel my order", at=NOON, inbound_message_id="r1"
    )
    assert result.action == "none" and result.review
    assert check(contact, "sms", "transactional", NOON).outcome == "allow"  # nothing changed yet
    review = KeywordReview.objects.get(contact=contact)
    client.force_login(admin_user)
    page = client.get(reverse("consent_reviews"))
    assert "cancel my order" in page.content.decode()
    client.post(reverse("consent_review_decide", args=[review.pk]), {"decision": "opt_out"})
    assert check(contact, "sms", "transactional", NOON + dt.timedelta(minutes=1)).rule == "suppression"
    review.refresh_from_db()
    assert review.decision == "opted_out" and review.decided_by_label == admin_user.get_username()
    event = ConsentEvent.objects.filter(contact_id=contact.pk, channel_kind="sms").first()
    assert "reviewed by" in event.reason and "cancel my order" in event.reason
    page = client.get(reverse("consent_reviews"))
    assert "Nothing to review." in page.content.decode()


def test_dismissing_a_review_changes_no_consent(contact, client, admin_user):
    inbound_keyword(contact=contact, channel_kind="sms", text="when does the sale end?", at=NOON)
    review = KeywordReview.objects.get(contact=contact)
    client.force_login(admin_user)
    client.post(reverse("consent_review_decide", args=[review.pk]), {"decision": "dismiss"})
    assert check(contact, "sms", "transactional", NOON).outcome == "allow"
    assert KeywordReview.objects.get(pk=review.pk).decision == "dismissed"


# --- item 7: confirm only what was lifted ------------------------------------------------------


@pytest.mark.parametrize("word", ["YES", "START", "unstop"])
def test_yes_or_start_from_someone_never_opted_out_is_not_answered(contact, word):
    result = inbound_keyword(contact=contact, channel_kind="sms", text=word, at=NOON, inbound_message_id="y1")
    assert (result.action, result.reply) == ("none", "")
    assert not ConsentEvent.objects.filter(contact_id=contact.pk).exists()


def test_start_after_stop_confirms(contact):
    inbound_keyword(contact=contact, channel_kind="sms", text="STOP", at=NOON)
    result = inbound_keyword(
        contact=contact, channel_kind="sms", text="START", at=NOON + dt.timedelta(hours=1)
    )
    assert result.action == "start" and "subscribed again" in result.reply


def test_yes_confirming_a_double_opt_in_is_answered(contact):
    change(
        contact,
        "pending",
        method="web_form",
        evidence={"notice_version": "v3"},
        at=NOON - dt.timedelta(hours=1),
    )
    result = inbound_keyword(
        contact=contact, channel_kind="sms", text="YES", at=NOON, inbound_message_id="y2"
    )
    assert result.action == "start" and result.reply


# --- item 7: the HELP reply names the brand and a support contact (CTIA) -----------------------


def test_the_default_help_reply_names_the_brand_and_a_way_to_get_help(contact):
    reply = inbound_keyword(contact=contact, channel_kind="sms", text="HELP", at=NOON).reply
    assert reply.startswith("Workspace A: for help contact a reply to this message.")
    assert "Msg & data rates may apply" in reply and "STOP" in reply


def test_the_brand_and_support_contact_are_workspace_settings_in_every_language(contact, actor):
    from consent import services

    services.policy_update(
        workspace=contact.workspace, actor=actor, quiet_start=dt.time(21), quiet_end=dt.time(8),
        fuzzy_keywords=False, brand_name="Acme Bank", support_contact="0800 123 456",
    )  # fmt: skip
    en = inbound_keyword(contact=contact, channel_kind="sms", text="HELP", at=NOON).reply
    fr = inbound_keyword(contact=contact, channel_kind="sms", text="AIDE", language="fr", at=NOON).reply
    es = inbound_keyword(contact=contact, channel_kind="sms", text="AYUDA", language="es", at=NOON).reply
    assert en.startswith("Acme Bank: for help contact 0800 123 456.")
    assert fr.startswith("Acme Bank : aide au 0800 123 456.")
    assert es.startswith("Acme Bank: ayuda en 0800 123 456.")


def test_the_policies_page_sets_the_brand_and_support_contact(admin_client, workspace):
    response = admin_client.post(
        reverse("consent_policies"),
        {
            "quiet_start": "21:00",
            "quiet_end": "08:00",
            "brand_name": "Acme",
            "support_contact": "help@acme.test",
        },
    )
    assert response.status_code in (200, 302)
    assert selectors.reply_fields_for(workspace=workspace)["support"] == "help@acme.test"
