"""contact_clean: every writer's rules, with messages that say what is wrong and where."""

import pytest
from django.core.exceptions import ValidationError

from contacts.validation import coerce_attribute, contact_clean, normalize_phone
from tests.factories import AttributeDefinitionFactory, WorkspaceFactory


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("+44 7911 123456", "GB", "+447911123456"),
        ("07911 123456", "GB", "+447911123456"),
        ("0044 7911 123456", "US", "+447911123456"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("+1 415-555-2671", "GB", "+14155552671"),
    ],
)
def test_phone_numbers_become_e164(raw, country, expected):
    assert normalize_phone(raw, country) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("+44 7700", "too short"),
        ("hello", "not a phone number"),
        ("+44 7911 123456 12345", "too long"),
        ("+999 123456789", "not a phone number"),
    ],
)
def test_invalid_phone_numbers_say_why(raw, reason):
    with pytest.raises(ValueError, match=reason):
        normalize_phone(raw, "GB")


@pytest.mark.django_db
def test_every_bad_field_is_named():
    workspace = WorkspaceFactory()
    with pytest.raises(ValidationError) as exc:
        contact_clean(
            workspace=workspace,
            data={
                "phone": "12",
                "email": "nope",
                "timezone": "Mars/Olympus",
                "preferred_channel": "fax",
                "language": "english!",
                "is_vulnerable": "maybe",
            },
        )
    errors = exc.value.message_dict
    assert set(errors) == {"phone", "email", "timezone", "preferred_channel", "language", "is_vulnerable"}
    assert "Mars/Olympus" in errors["timezone"][0] and "IANA" in errors["timezone"][0]
    assert "fax" in errors["preferred_channel"][0]


@pytest.mark.django_db
def test_a_contact_needs_an_address():
    with pytest.raises(ValidationError) as exc:
        contact_clean(workspace=WorkspaceFactory(), data={"first_name": "Ann"})
    assert "at least a phone number" in exc.value.message_dict["phone"][0]


@pytest.mark.django_db
def test_attributes_are_typed_by_the_workspace_schema():
    workspace = WorkspaceFactory()
    AttributeDefinitionFactory(workspace=workspace, key="due_date", type="date")
    AttributeDefinitionFactory(workspace=workspace, key="balance", type="number")
    AttributeDefinitionFactory(workspace=workspace, key="autopay", type="boolean")
    clean = contact_clean(
        workspace=workspace,
        data={
            "phone": "+447911123456",
            "attributes": {"due_date": "2026-12-01", "balance": "1,200.50", "autopay": "yes"},
        },
    )
    assert clean["attributes"] == {"due_date": "2026-12-01", "balance": 1200.5, "autopay": True}

    with pytest.raises(ValidationError) as exc:
        contact_clean(
            workspace=workspace,
            data={
                "phone": "+447911123456",
                "attributes": {"due_date": "tomorrow", "balance": "lots", "shoe": 9},
            },
        )
    errors = exc.value.message_dict
    assert "YYYY-MM-DD" in errors["attributes.due_date"][0]
    assert "not a number" in errors["attributes.balance"][0]
    assert "Unknown attribute 'shoe'" in errors["attributes.shoe"][0]


def test_attribute_coercion_edges():
    assert coerce_attribute("", "number") is None
    assert coerce_attribute("42", "number") == 42
    assert coerce_attribute("no", "boolean") is False
    with pytest.raises(ValueError):
        coerce_attribute("NaN", "number")
    with pytest.raises(ValueError):
        coerce_attribute(True, "number")


@pytest.mark.django_db
def test_tags_accept_a_comma_separated_string_and_dedupe():
    clean = contact_clean(
        workspace=WorkspaceFactory(), data={"email": "a@example.com", "tags": "vip, late , vip"}
    )
    assert clean["tags"] == ["late", "vip"]
