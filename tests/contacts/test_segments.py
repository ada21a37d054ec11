"""Segments: rules over attributes, tags, events and fields, checked and counted."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from contacts.selectors import contact_list, segment_count
from contacts.services import segment_save, tags_ensure
from cpaas.tenancy import Actor
from tests.factories import AttributeDefinitionFactory, ContactFactory, EventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(workspace):
    AttributeDefinitionFactory(workspace=workspace, key="balance", type="number")
    AttributeDefinitionFactory(workspace=workspace, key="due_date", type="date")
    AttributeDefinitionFactory(workspace=workspace, key="plan", type="text")
    AttributeDefinitionFactory(workspace=workspace, key="autopay", type="boolean")
    vip = tags_ensure(workspace=workspace, names=["vip"])[0]
    ann = ContactFactory(
        workspace=workspace,
        first_name="Ann",
        language="fr",
        attributes={"balance": 500, "due_date": "2026-11-01", "plan": "gold", "autopay": True},
    )
    ann.tags.add(vip)
    bob = ContactFactory(
        workspace=workspace,
        first_name="Bob",
        language="en",
        attributes={"balance": 0, "due_date": "2026-12-15", "plan": "basic"},
    )
    cat = ContactFactory(workspace=workspace, first_name="Cat", language="en", attributes={})
    EventFactory(contact=bob, name="signup", occurred_at=timezone.now() - dt.timedelta(days=2))
    EventFactory(contact=cat, name="signup", occurred_at=timezone.now() - dt.timedelta(days=60))
    return {"ann": ann, "bob": bob, "cat": cat}


def names(workspace, definition):
    from contacts.models import Contact
    from contacts.segments import segment_definition_clean, segment_filter

    clean = segment_definition_clean(workspace=workspace, definition=definition)
    return sorted(
        c.first_name
        for c in segment_filter(
            Contact.objects.filter(workspace=workspace), workspace=workspace, definition=clean
        )
    )


@pytest.mark.parametrize(
    ("rules", "match", "expected"),
    [
        ([{"field": "attribute", "key": "balance", "op": "gt", "value": "0"}], "all", ["Ann"]),
        ([{"field": "attribute", "key": "balance", "op": "lte", "value": 0}], "all", ["Bob"]),
        ([{"field": "attribute", "key": "due_date", "op": "lt", "value": "2026-12-01"}], "all", ["Ann"]),
        ([{"field": "attribute", "key": "plan", "op": "neq", "value": "gold"}], "all", ["Bob", "Cat"]),
        ([{"field": "attribute", "key": "plan", "op": "is_not_set"}], "all", ["Cat"]),
        ([{"field": "attribute", "key": "autopay", "op": "is_true"}], "all", ["Ann"]),
        ([{"field": "attribute", "key": "autopay", "op": "is_false"}], "all", ["Bob", "Cat"]),
        ([{"field": "tag", "op": "has", "value": "vip"}], "all", ["Ann"]),
        ([{"field": "tag", "op": "not_has", "value": "vip"}], "all", ["Bob", "Cat"]),
        ([{"field": "event", "op": "performed", "value": "signup"}], "all", ["Bob", "Cat"]),
        ([{"field": "event", "op": "performed", "value": "signup", "within_days": 7}], "all", ["Bob"]),
        ([{"field": "event", "op": "not_performed", "value": "signup"}], "all", ["Ann"]),
        (
            [
                {"field": "language", "op": "eq", "value": "en"},
                {"field": "event", "op": "performed", "value": "signup", "within_days": 30},
            ],
            "all",
            ["Bob"],
        ),
        (
            [
                {"field": "language", "op": "eq", "value": "fr"},
                {"field": "attribute", "key": "plan", "op": "eq", "value": "basic"},
            ],
            "any",
            ["Ann", "Bob"],
        ),
        ([], "all", ["Ann", "Bob", "Cat"]),
    ],
)
def test_rules_select_the_right_contacts(workspace, people, rules, match, expected):
    assert names(workspace, {"match": match, "rules": rules}) == expected


def test_relative_date_rules_use_today_in_the_workspace_zone(workspace):
    from contacts.models import Contact
    from contacts.segments import segment_definition_clean, segment_filter

    AttributeDefinitionFactory(workspace=workspace, key="due_date", type="date")
    for name, due in [
        ("Past", "2026-11-20"),
        ("Today", "2026-11-22"),
        ("Soon", "2026-11-25"),
        ("Later", "2026-12-30"),
    ]:
        ContactFactory(workspace=workspace, first_name=name, attributes={"due_date": due})
    now = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)

    def pick(op, value=None):
        clean = segment_definition_clean(
            workspace=workspace,
            definition={"rules": [{"field": "attribute", "key": "due_date", "op": op, "value": value}]},
        )
        qs = segment_filter(
            Contact.objects.filter(workspace=workspace), workspace=workspace, definition=clean, now=now
        )
        return sorted(c.first_name for c in qs)

    assert pick("in_past") == ["Past"]
    assert pick("in_future") == ["Later", "Soon"]
    assert pick("within_next_days", "3") == ["Soon", "Today"]
    assert pick("within_last_days", 2) == ["Past", "Today"]
    # 23:30 UTC on the 21st is already the 22nd in Tokyo: "today" follows the workspace's zone
    workspace.timezone = "Asia/Tokyo"
    workspace.save()
    now = dt.datetime(2026, 11, 21, 23, 30, tzinfo=dt.UTC)
    assert pick("in_past") == ["Past"]


def test_bad_rules_are_reported_by_number(workspace, people):
    with pytest.raises(ValidationError) as exc:
        segment_save(
            workspace=workspace,
            actor=Actor.system(),
            name="Bad",
            definition={
                "match": "all",
                "rules": [
                    {"field": "tag", "op": "has", "value": "vip"},
                    {"field": "attribute", "key": "balance", "op": "contains", "value": "1"},
                    {"field": "attribute", "key": "shoe", "op": "eq", "value": "9"},
                    {"field": "event", "op": "performed", "value": "x", "within_days": "soon"},
                ],
            },
        )
    messages = exc.value.message_dict["definition"]
    assert messages == [
        "Rule 2: 'contains' does not apply to a number attribute.",
        "Rule 3: unknown attribute 'shoe'.",
        "Rule 4: 'within_days' must be a whole number of days.",
    ]


def test_segment_filter_on_the_contact_list_and_live_count(workspace, people):
    segment = segment_save(
        workspace=workspace,
        actor=Actor.system(),
        name="Owes",
        definition={"rules": [{"field": "attribute", "key": "balance", "op": "gt", "value": 0}]},
    )
    assert [c.first_name for c in contact_list(workspace=workspace, filters={"segment": segment.pk})] == [
        "Ann"
    ]
    assert segment_count(workspace=workspace, definition=segment.definition) == 1


def test_duplicate_segment_names_are_refused(workspace, people):
    segment_save(workspace=workspace, actor=Actor.system(), name="VIP", definition={"rules": []})
    with pytest.raises(ValidationError) as exc:
        segment_save(workspace=workspace, actor=Actor.system(), name="VIP", definition={"rules": []})
    assert "already exists" in exc.value.message_dict["name"][0]


def test_search_by_name_phone_and_id(workspace):
    ContactFactory(workspace=workspace, first_name="Zoe", phone="+447911123555", external_id="ACC-77")
    ContactFactory(workspace=workspace, first_name="Yan", phone="+447911123666")
    for q in ("zoe", "123555", "acc-77", "07911 123555"):
        found = [c.first_name for c in contact_list(workspace=workspace, filters={"q": q})]
        assert found == ["Zoe"], q
