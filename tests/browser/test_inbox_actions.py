# ruff: noqa: F811  (the fixtures imported from other test modules are parameters here)
"""The thread's actions in a real browser (inbox/action_views.py), against the app as `make run`
serves it: an agent writes a private note mentioning another agent and transfers the
conversation to them with a note, all from the keyboard, and the other agent's open page shows
both live; a conversation a journey handed off goes back to the journey, which continues."""

import time

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from channels_app.models import Message
from inbox.models import Conversation
from journeys.models import Enrollment
from tests.browser.test_csp import _watch
from tests.browser.test_inbox import connected, open_page  # noqa: F401  (fixture)
from tests.factories import ContactFactory
from tests.inbox import ui
from tests.inbox.conftest import actor, make_agent  # noqa: F401  (fixture)
from tests.inbox.test_conversations import _handoff_journey
from tests.journeys.conftest import engine, fire, publish  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_note_mentions_an_agent_and_a_transfer_reaches_them_live(server, open_page, workspace, agent):
    olga = make_agent(workspace, "olga")
    q = ui.queue(workspace, "collections", agent, olga)
    c = ui.conversation(workspace, q, text="I lost my job last week", assignee=agent)
    mine = open_page(agent, f"/inbox/c/{c.number}/")
    theirs = open_page(olga, f"/inbox/c/{c.number}/")
    violations = [_watch(mine), _watch(theirs)]  # the forms, swaps and dialogs: CSP-clean
    connected(mine)
    connected(theirs)

    # a private note, from the keyboard: n, type, Ctrl+Enter
    mine.keyboard.press("n")
    expect(mine.locator("#note-body")).to_be_focused()
    expect(mine.locator("#compose")).to_be_hidden()
    mine.keyboard.type("@olga hardship case, can you call her?")
    mine.keyboard.press("Control+Enter")
    expect(mine.locator("#entries .entry.note")).to_contain_text("hardship case")
    expect(mine.locator("#note-body")).to_have_value("")
    # olga sees it live, marked for her, and is told
    note = theirs.locator("#entries .entry.note")
    expect(note).to_contain_text("@olga hardship case", timeout=10000)
    expect(note).to_contain_text("Mentions you")
    expect(theirs.locator("#toasts")).to_contain_text("mentioned you in #", timeout=10000)

    # an empty note is refused next to its field, nothing added
    mine.locator("#note-add").click()
    expect(mine.locator("#note-body-error")).to_have_text("Write the note.")
    expect(mine.locator("#entries .entry.note")).to_have_count(1)

    # transfer to olga with a note: a, choose, Transfer
    mine.locator("#note-body").press("Escape")
    mine.keyboard.press("a")
    dialog = mine.locator("#assign-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Agent").select_option(label="olga")
    dialog.get_by_label("Note for them (optional)").fill("She prefers a call after 5")
    dialog.get_by_role("button", name="Transfer").click()
    expect(mine.locator("#assign-dialog")).to_be_hidden()
    expect(mine.locator("#assignee")).to_have_text("Assigned to olga", timeout=10000)
    # olga's page: the header and the transfer's note, live
    expect(theirs.locator("#assignee")).to_have_text("Assigned to olga", timeout=10000)
    expect(theirs.locator("#entries")).to_contain_text("She prefers a call after 5", timeout=10000)
    # and the status dialog: pending, seen by olga live
    mine.keyboard.press("s")
    status = mine.locator("#status-dialog")
    status.get_by_label("Status").select_option("pending")
    status.get_by_role("button", name="Set status").click()
    expect(theirs.locator("#thread-header .badge").first).to_have_text("Pending", timeout=10000)
    assert violations == [[], []]
    server.assert_alive()


def test_a_handed_off_conversation_goes_back_to_the_journey(
    server,
    open_page,
    workspace,
    agent,
    publish,
    fire,
    engine,
):
    contact = ContactFactory(workspace=workspace, first_name="Ada", phone="+447911123456")
    _handoff_journey(publish)
    fire(contact, "payment_failed", now=timezone.now())
    engine(timezone.now())
    c = Conversation.objects.get(contact=contact)
    c.queue.memberships.create(user=agent)
    page = open_page(agent, f"/inbox/c/{c.number}/")
    connected(page)
    expect(page.locator("#entries")).to_contain_text("Ada missed a payment")

    page.get_by_role("button", name="Return to journey…").click()
    dialog = page.locator("#return-dialog")
    dialog.get_by_label("Note (optional)").fill("Agreed a new date")
    dialog.get_by_role("button", name="Return to the journey").click()
    expect(page.locator("#thread-header .badge").first).to_have_text("Resolved", timeout=10000)
    expect(page.locator("#entries")).to_contain_text("Agreed a new date")
    # the engine process resumes the hand-off's waiting exit: the journey's next step sends
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if Enrollment.objects.get(contact=contact).status == "completed":
            break
        time.sleep(0.3)
    assert Enrollment.objects.get(contact=contact).status == "completed"
    assert Message.objects.filter(contact=contact, direction="out", text="Thanks Ada").exists()
    page.reload()
    expect(page.locator("#entries")).to_contain_text("Thanks Ada")
    expect(page.get_by_role("button", name="Return to journey…")).to_have_count(0)
    server.assert_alive()
