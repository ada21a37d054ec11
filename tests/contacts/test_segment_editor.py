"""The segment editor's rules (issue 16 item 6): every rule kind has its value field (a tag's
name typed), a new form shows no error before anything is typed, saving still checks it all."""

import pytest
from django.urls import reverse

from tests.factories import AttributeDefinitionFactory, ContactFactory, TagFactory

pytestmark = pytest.mark.django_db


def test_a_new_segment_form_shows_a_typable_tag_name_and_no_error(marketer_client):
    html = marketer_client.get(reverse("segment_create")).content.decode()
    assert 'aria-label="Rule 1 tag name"' in html and 'name="rule_value"' in html
    assert (
        'class="error"' not in html
        and "form-errors" not in html.split('id="rules"')[1].split("Save segment")[0]
    )


@pytest.mark.parametrize(
    "field, op, value, shown",
    [
        ("tag", "has", "vip", "Rule 1 tag name"),
        ("event", "performed", "signup", "Rule 1 event name"),
        ("attribute:plan", "eq", "gold", "Rule 1 value"),
        ("language", "eq", "fr", "Rule 1 value"),
    ],
)
def test_every_rule_kind_has_its_value_field(marketer_client, workspace, field, op, value, shown):
    AttributeDefinitionFactory(workspace=workspace, key="plan", type="text")
    html = marketer_client.post(reverse("segment_preview"), {"match": "all", "rule_field": field, "rule_op": op,
                                                              "rule_value": value, "rule_days": "30"}).content.decode()  # fmt: skip
    assert f'aria-label="{shown}"' in html and f'value="{value}"' in html


def test_a_valueless_condition_has_no_value_field(marketer_client, workspace):
    AttributeDefinitionFactory(workspace=workspace, key="plan", type="text")
    html = marketer_client.post(reverse("segment_preview"), {"match": "all", "rule_field": "attribute:plan",
                                                              "rule_op": "is_set", "rule_value": "", "rule_days": ""}).content.decode()  # fmt: skip
    assert 'aria-label="Rule 1 value"' not in html


def test_a_rule_being_added_counts_nothing_yet_and_saving_names_it(marketer_client, workspace):
    vip = TagFactory(workspace=workspace, name="vip")
    ContactFactory(workspace=workspace).tags.add(vip)
    ContactFactory(workspace=workspace)
    form = {"match": "all", "rule_field": ["tag", "tag"], "rule_op": ["has", "has"], "rule_value": ["vip", ""],
            "rule_days": ["", ""]}  # fmt: skip
    html = marketer_client.post(reverse("segment_preview"), form).content.decode()
    assert 'id="segment-count">1<' in html  # the blank second rule waits; the first still shows
    assert html.count('name="rule_field"') == 2
    saved = marketer_client.post(reverse("segment_create"), {**form, "name": "VIP"})
    assert saved.status_code == 400 and "Rule 2" in saved.content.decode()
