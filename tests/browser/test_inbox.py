"""The agent inbox in a real browser against the app as `make run` serves it (daphne, the task
worker, the dispatcher and the engine as separate processes): a message from a new contact
typed in the phone simulator appears live on an open inbox; the agent's reply reaches the phone,
and its delivery state, recorded by the dispatcher process, updates live; a blocked reply says
why before it is sent; a closed WhatsApp window asks for a template; two agents on one
conversation see each other (collision warning) and each other's replies; a dropped socket
resyncs what it missed."""

import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

from channels_app.models import Message
from contacts.models import Contact
from cpaas.tenancy import Actor
from tests.browser.screenshots import docs_screenshot
from tests.factories import ContactFactory, MembershipFactory, UserFactory
from tests.inbox import ui

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def open_page(server, browser):
    """open_page(user, path) -> a page in a browser context of its own (two agents at once)."""
    contexts = []

    def _open(user, path):
        client = Client()
        client.force_login(user)
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(context)
        context.add_cookies(
            [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": server.url}]
        )
        page = context.new_page()
        page.goto(server.url + path)
        return page

    yield _open
    # Leave each page first and wait for its "left" presence post: one still in flight when the
    # test database is truncated deadlocks with it on PostgreSQL.
    for context in contexts:
        for page in context.pages:
            if page.locator("#thread [data-conversation]").count():
                try:
                    with page.expect_response(lambda r: r.url.endswith("/presence/"), timeout=5000):
                        page.goto("about:blank")
                except PlaywrightTimeout:
                    pass
        context.close()


def connected(page):
    expect(page.locator("html[data-live=connected]")).to_have_count(1, timeout=10000)
    expect(page.locator("#live-state")).to_contain_text("Live")


def test_a_new_contact_writes_in_the_simulator_and_the_agents_reply_reaches_the_phone(
    server, open_page, workspace, admin_user, agent
):
    ui.queue(workspace, "support", agent)  # where a conversation the contact starts goes
    # given the agent's inbox open, live, and empty
    inbox = open_page(agent, "/inbox/")
    connected(inbox)
    expect(inbox.locator("#conv-list")).to_contain_text("No conversations")

    # when a new contact writes from the phone simulator (another person, another browser)
    phone = open_page(admin_user, "/simulator/")
    phone.get_by_label("Name").fill("Nia")
    phone.get_by_label("Phone").fill("07911 123777")
    phone.get_by_role("button", name="Create and play").click()
    connected_sim = phone.locator("html[data-live=connected]")
    expect(connected_sim).to_have_count(1, timeout=10000)
    phone.get_by_label("Reply as Nia on SMS").fill("Hello, I cannot pay this month")
    phone.locator("#phone-sms").get_by_role("button", name="Send").click()

    # then the conversation appears on the open inbox without a reload, unread
    row = inbox.locator("#conv-list .conv-row").first
    expect(row).to_contain_text("Nia", timeout=10000)
    expect(row).to_have_class("conv-row unread")
    docs_screenshot(inbox, "inbox-list.png")

    # when the agent opens it (j) and replies (r)
    inbox.keyboard.press("j")
    expect(inbox.locator("#entries")).to_contain_text("Hello, I cannot pay this month")
    expect(inbox.locator("#compose-channel")).to_have_value("sms")  # the customer's last channel
    inbox.keyboard.press("r")
    expect(inbox.locator("#compose-text")).to_be_focused()
    inbox.keyboard.type("Thanks Nia, we can set up a payment plan.")
    expect(inbox.locator("#compose-verdict")).to_contain_text("Goes now on sms")
    inbox.get_by_role("button", name="Send", exact=True).click()

    # then the reply is in the thread, and its state follows the dispatcher and the receipts
    reply = inbox.locator(".entry.msg-out").last
    expect(reply).to_contain_text("we can set up a payment plan")
    expect(reply.locator(".msg-state")).to_have_attribute("data-status", "read", timeout=15000)
    expect(inbox.locator("#compose-text")).to_have_value("")
    # the list was fetched again on the events: the open conversation stays selected and read
    expect(inbox.locator("#conv-list .conv-row.selected")).to_have_count(1)
    expect(inbox.locator("#conv-list .conv-row.unread")).to_have_count(0)
    expect(inbox.locator("#conv-list #conv-list")).to_have_count(0)
    expect(inbox).to_have_url(re.compile(r"/inbox/c/\d+/$"))  # live refreshes keep the address
    docs_screenshot(inbox, "inbox-thread.png")
    # and it reached the contact's phone
    expect(phone.locator("#bubbles-sms .from-business")).to_contain_text(
        "we can set up a payment plan", timeout=10000
    )
    sent = Message.objects.get(direction="out")
    assert sent.sent_by == "person" and sent.origin == "agent"
    assert sent.contact == Contact.objects.get(first_name="Nia")
    server.assert_alive()


def test_a_blocked_reply_says_why_before_it_is_sent(server, open_page, workspace, agent):
    from consent.services.suppression import suppression_add

    q = ui.queue(workspace, "collections", agent)
    contact = ContactFactory(workspace=workspace, first_name="Omar", phone="+447911123778")
    c = ui.conversation(workspace, q, contact=contact, text="stop texting me")
    suppression_add(
        workspace=workspace, actor=Actor.system(), channel_kind="sms", address=contact.phone,
        reason="complaint", note="asked on the phone", at=timezone.now(),
    )  # fmt: skip
    page = open_page(agent, f"/inbox/c/{c.number}/")
    connected(page)
    # the verdict is there before a word is typed, and again as the agent types
    verdict = page.locator("#compose-verdict")
    expect(verdict).to_have_attribute("data-outcome", "deny")
    page.locator("#compose-text").fill("Just one more thing")
    expect(verdict).to_contain_text("Will not be sent")
    expect(verdict).to_contain_text("uppress")  # the registry's reason, in words
    docs_screenshot(page.locator("#compose"), "inbox-blocked.png")
    assert not Message.objects.filter(direction="out").exists()  # asking sent nothing


def test_a_closed_whatsapp_window_asks_for_a_template(server, open_page, workspace, agent):
    q = ui.queue(workspace, "collections", agent)
    contact = ContactFactory(workspace=workspace, first_name="Ama", phone="+447911123779")
    two_days_ago = timezone.now() - dt.timedelta(days=2)
    c = ui.conversation(workspace, q, contact=contact, text="any news?", kind="whatsapp", now=two_days_ago)
    page = open_page(agent, f"/inbox/c/{c.number}/")
    connected(page)
    expect(page.locator("#compose-channel")).to_have_value("whatsapp")
    # free text cannot go: the text area is off and the template picker is offered
    expect(page.locator("#compose-verdict")).to_contain_text("WhatsApp window closed")
    expect(page.locator("#compose-text")).to_be_disabled()
    picker = page.locator("#template-picker")
    expect(picker).to_be_visible()
    # switching to SMS gives free text back (the verdict is asked again), and back again
    page.locator("#compose-channel").select_option("sms")
    expect(page.locator("#compose-text")).to_be_enabled()
    expect(picker).to_be_hidden()
    expect(page.locator("#compose-media")).to_be_visible()  # SMS carries media here (MMS)
    page.locator("#compose-channel").select_option("whatsapp")
    expect(page.locator("#compose-text")).to_be_disabled()
    expect(picker).to_be_visible()
    page.get_by_label("Template", exact=True).select_option("payment_reminder")
    expect(picker.get_by_role("textbox", name="Name ({{1}})")).to_have_value("Ama")  # merge field filled in
    picker.get_by_role("textbox", name="Amount ({{2}})").fill("£120")
    picker.get_by_role("textbox", name="Due date ({{3}})").fill("12 December")
    docs_screenshot(page.locator("#compose"), "inbox-template.png")
    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator(".entry.msg-out").last).to_contain_text("a reminder that £120 is due on 12 December")
    sent = Message.objects.get(direction="out")
    assert sent.kind == "whatsapp" and sent.content["template"]["name"] == "payment_reminder"
    assert sent.status != Message.Status.BLOCKED


def test_two_agents_on_one_conversation(server, open_page, workspace, agent):
    ana = UserFactory(username="ana", first_name="Ana", last_name="Silva")
    MembershipFactory(workspace=workspace, user=ana, role="agent")
    q = ui.queue(workspace, "collections", agent, ana)
    c = ui.conversation(workspace, q, text="Can someone call me?")
    mine = open_page(agent, f"/inbox/c/{c.number}/")
    connected(mine)
    hers = open_page(ana, f"/inbox/c/{c.number}/")
    connected(hers)

    # each sees the other there before sending
    expect(mine.locator("#collision")).to_contain_text("Ana Silva is viewing", timeout=10000)
    expect(hers.locator("#collision")).to_contain_text("gina-agent is viewing", timeout=10000)
    hers.locator("#compose-text").fill("I will call you at 3pm")
    expect(mine.locator("#collision")).to_contain_text("Ana Silva is typing", timeout=10000)
    docs_screenshot(mine, "inbox-collision.png")

    # Ana sends: the other agent sees her reply live, and who replied
    hers.get_by_role("button", name="Send", exact=True).click()
    expect(mine.locator("#entries")).to_contain_text("I will call you at 3pm", timeout=10000)
    expect(mine.locator("#collision")).to_contain_text("Ana Silva replied")

    # the other agent claims it: Ana sees the assignment change live, in the header and the list
    mine.get_by_role("button", name="Claim").click()
    expect(hers.locator("#thread-header")).to_contain_text("Assigned to gina-agent", timeout=10000)
    expect(hers.locator(f"#conv-{c.number}")).to_contain_text("gina-agent")
    server.assert_alive()


def test_a_dropped_socket_resyncs_what_it_missed(server, open_page, workspace, agent, admin_user):
    q = ui.queue(workspace, "support", agent)
    contact = ContactFactory(workspace=workspace, first_name="Lee", last_name="Park", phone="+447911123780")
    c = ui.conversation(workspace, q, contact=contact, text="first message")
    page = open_page(agent, f"/inbox/c/{c.number}/")
    connected(page)
    phone = open_page(admin_user, f"/simulator/?contact={contact.pk}&kind=sms")
    expect(phone.locator("html[data-live=connected]")).to_have_count(1, timeout=10000)

    # when the inbox's socket drops (closed from the page, kept down for a while)
    page.evaluate("document.dispatchEvent(new CustomEvent('live:drop', {detail: {pauseMs: 5000}}))")
    expect(page.locator("html[data-live=closed]")).to_have_count(1)
    expect(page.locator("#live-state")).to_contain_text("Reconnecting")
    # and the contact writes meanwhile (its event is published while nobody listens)
    phone.get_by_label("Reply as Lee Park on SMS").fill("are you still there?")
    phone.locator("#phone-sms").get_by_role("button", name="Send").click()
    expect(phone.locator("#bubbles-sms .from-contact").last).to_contain_text("are you still there?")
    expect(page.locator("html[data-live=closed]")).to_have_count(1)

    # then after the reconnect the page fetched what it missed
    connected(page)
    expect(page.locator("#entries")).to_contain_text("are you still there?", timeout=10000)
    server.assert_alive()


def test_keyboard_help_and_resolve(server, open_page, workspace, agent):
    q = ui.queue(workspace, "collections", agent)
    c = ui.conversation(workspace, q, text="Paid it today", assignee=agent)
    page = open_page(agent, f"/inbox/c/{c.number}/")
    connected(page)
    page.keyboard.press("?")
    expect(page.locator("#shortcuts-help")).to_be_visible()
    docs_screenshot(page, "inbox-shortcuts.png")
    page.keyboard.press("Escape")
    page.keyboard.press("a")
    expect(page.locator("#assign-dialog")).to_be_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("/")
    expect(page.locator("#inbox-search")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#contact-panel #resolve-dialog")).to_have_count(1)  # the panel has loaded
    page.keyboard.press("e")  # opens the contact panel's resolve form, with the outcome
    panel = page.locator("#contact-panel #resolve-dialog")
    expect(panel.get_by_label("Outcome")).to_be_focused()
    panel.get_by_label("Outcome").select_option("paid")
    panel.get_by_role("button", name="Resolve").click()
    expect(page.locator("#thread-header")).to_contain_text("Resolved", timeout=10000)
    c.refresh_from_db()
    assert c.status == "resolved" and c.disposition == "paid"
