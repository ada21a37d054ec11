"""bus.notify: a notice that is not a contact Event reaches the subscribers of its name only,
never the `ANY` subscribers (the journey engine handles every Event and would take a notice for
one)."""

from cpaas import bus


def test_a_notice_reaches_its_subscribers_and_not_those_of_every_event():
    heard, everything = [], []

    def on_notice(notice):
        heard.append((notice.name, notice.workspace_id, notice.contact_ids))

    def on_any(event):
        everything.append(event)

    bus.subscribe("test.notice")(on_notice)
    bus.subscribe(bus.ANY)(on_any)
    try:
        bus.notify("test.notice", workspace_id=3, contact_ids=[1, 2])
        bus.notify("test.other", workspace_id=3)
    finally:
        bus.unsubscribe("test.notice", on_notice)
        bus.unsubscribe(bus.ANY, on_any)
    assert heard == [("test.notice", 3, [1, 2])]
    assert everything == []
