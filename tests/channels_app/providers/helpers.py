"""What every provider's tests share: channels pointed at a fake, a send on the fixed clock,
webhook posts, and the checks that are the same rule for every provider (an ambiguous answer
from a provider without idempotency is `unknown` and never sent again; receipts in any order,
late or twice, leave the furthest status and a true history)."""

from __future__ import annotations

import itertools
import json

from channels_app.models import Channel, Message
from channels_app.services.channels import channel_create
from channels_app.services.messages import message_send
from cpaas.tenancy import Actor

from ..conftest import at, drain

S = Message.Status
FAULTS = {"slow": 3.0, "reset": 0, "drip": 0.05}  # fault -> fault_s (drip: per byte)


def provider_channels(workspace, provider: str, kinds, *, address, credentials, settings) -> dict:
    """One channel per kind on `provider`; the workspace's sandbox channels of those kinds are
    disabled so sends go to the provider. `address` is a string or {kind: address}."""
    kinds = list(kinds)
    Channel.objects.filter(workspace=workspace, kind__in=kinds, provider="sandbox").update(status="disabled")
    return {
        kind: channel_create(
            workspace=workspace,
            actor=Actor.system("test"),
            kind=kind,
            provider=provider,
            name=f"{provider} {kind}",
            address=address[kind] if isinstance(address, dict) else address,
            credentials=dict(credentials),
            rate_limit_per_second=100,
            settings=dict(settings),
        )
        for kind in kinds
    }


def open_window(contact, *kinds: str) -> None:
    """The contact wrote in a minute before the fixed clock: free-form messages may go on
    session channels (WhatsApp's 24-hour window)."""
    import datetime as dt

    from consent import services

    for kind in kinds or ("whatsapp",):
        services.inbound_recorded(contact=contact, channel_kind=kind, at=at(0) - dt.timedelta(minutes=1))


def send(workspace, contact, **kw) -> Message:
    kw.setdefault("channel", "sms")
    kw.setdefault("content", {"text": "Your parcel arrives today."})
    return message_send(workspace=workspace, contact=contact, now=kw.pop("now", at(0)), **kw)


def fresh(message) -> Message:
    return Message.objects.get(pk=message.pk)


def post(client, channel, kind: str, body: bytes | dict, headers: dict | None = None, query: str = ""):
    """POST a webhook body (JSON) to the channel's inbound or status URL."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    path = f"/webhooks/{channel.provider}/{channel.webhook_token}/{kind}/" + (f"?{query}" if query else "")
    return client.post(path, data=raw, content_type="application/json", headers=headers or {})


def nothing_stored() -> bool:
    from contacts.models import Contact

    return not Message.objects.filter(direction="in").exists() and not Contact.objects.exists()


def check_ambiguous_answer_is_unknown(workspace, contact, fake, fault: str, *, channel="sms", content=None):
    """The provider takes each message but the answer goes wrong: each call ends by its total
    deadline, the message is `unknown` with the reason, and the provider got exactly one request
    per message whatever runs later (retries, recoveries, sweeps). Call under
    override_settings(CHANNELS_SEND_DEADLINE_S=0.5)."""
    fake.fault, fake.fault_s = fault, FAULTS[fault]
    messages = [
        send(
            workspace,
            contact,
            channel=channel,
            idempotency_key=f"k{i}",
            **({"content": content} if content else {}),
        )
        for i in range(2)
    ]
    drain(0)
    assert fake.answered == 0, "the dispatcher waited for a whole answer"
    for message in messages:
        m = fresh(message)
        assert m.status == S.UNKNOWN, (m.status, m.error_code, m.error_reason)
        assert "not sent again" in m.error_reason
        assert not m.status_events.filter(status=S.SENT).exists()
    fake.fault = ""
    for second in (10, 60, 600, 3600):
        drain(second)
    assert len(fake.sends()) == len(messages)
    assert {fresh(m).status for m in messages} == {S.UNKNOWN}
    return messages


def check_receipts_in_every_order(send_one, receipt, statuses: list[str], final: str):
    """For every order of `statuses` (each delivered twice, the second time late): the message
    ends at `final`, each receipt is in the history once per delivery, and only forward moves
    were applied. `send_one()` returns a sent message; `receipt(message, status)` posts one."""
    rank = {S.SENT: 1, S.DELIVERED: 2, S.READ: 3}
    for order in itertools.permutations(statuses):
        message = send_one()
        for status in (*order, *order):  # every receipt again after all of them: duplicates
            assert receipt(message, status).status_code == 200
        m = fresh(message)
        assert m.status == final, (order, m.status)
        events = list(
            m.status_events.filter(source="webhook").order_by("pk").values_list("status", "applied")
        )
        assert len(events) == 2 * len(order), (order, events)
        applied = [s for s, ok in events if ok]
        assert applied == sorted(applied, key=lambda s: rank.get(s, 9)), (order, events)
        assert len(applied) == len(set(applied)), (order, events)


ODD_VALUES = (None, 7, "x", [], {}, [{"a": 1}], True)


def odd_variants(body):
    """The body again with one value at a time (at any depth) replaced by a value of another type:
    what a changed or broken provider might send."""
    if isinstance(body, dict):
        items = list(body.items())
        for key, value in items:
            for odd in ODD_VALUES:
                if type(odd) is not type(value):
                    yield {**body, key: odd}
            for variant in odd_variants(value):
                yield {**body, key: variant}
    elif isinstance(body, list):
        for i, value in enumerate(body):
            for variant in odd_variants(value):
                yield [*body[:i], variant, *body[i + 1 :]]


def check_odd_shapes_never_crash(post_one, body):
    """Every odd variant of a webhook body is answered 200 (read) or 400 (refused, logged), never
    a server error: `post_one(body)` posts it authenticated and returns the response."""
    seen = 0
    for variant in odd_variants(body):
        response = post_one(variant)
        assert response.status_code in (200, 400), (response.status_code, variant)
        seen += 1
    assert seen > 10


def check_odd_answers_never_crash(workspace, contact, fake, status: int, body, *, channel="sms"):
    """The provider answers `status` with every odd variant of `body`: each message ends sent,
    failed, queued for a retry or unknown, with a reason when it is not sent; nothing raises."""
    variants = list(odd_variants(body))
    for i, variant in enumerate(variants):
        fake.answer_next(status, variant)
        message = send(workspace, contact, channel=channel, idempotency_key=f"odd{status}-{i}")
        drain(0)
        m = fresh(message)
        assert m.status in (S.SENT, S.FAILED, S.QUEUED, S.UNKNOWN), (m.status, variant)
        assert m.status == S.SENT or m.error_reason, variant
    assert len(variants) > 5
