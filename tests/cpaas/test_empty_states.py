"""Empty states say what the place is for and offer the next step as a primary action; the
favicon; the long consent policies page has an index of its sections (issue 16 item 19)."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

pytestmark = pytest.mark.django_db


def empty_state(html: str) -> str:
    m = re.search(r'<div class="empty-state" data-empty>(.*?)</div>', html, re.S)
    assert m, "no empty state"
    return m.group(1)


@pytest.mark.parametrize(
    ("page", "title", "action"),
    [
        ("contact_list", "No contacts yet", "contact_create"),
        ("segment_list", "No segments yet", "segment_create"),
        ("journey_list", "No journeys yet", "editor_index"),
        ("experiment_list", "No experiments yet", "journey_list"),
        ("message_list", "No messages yet", "simulator"),
        ("inbox", "No conversations", "simulator"),
    ],
)
def test_an_empty_list_explains_itself_and_offers_the_next_step(admin_client, page, title, action):
    box = empty_state(admin_client.get(reverse(page)).content.decode())
    assert title in box
    assert re.search(r'<p class="muted">[^<]{40,}</p>', box), "a sentence on what to do"
    assert f'class="button primary" href="{reverse(action)}"' in box


def test_a_filtered_list_with_no_match_says_so_without_the_welcome(admin_client):
    html = admin_client.get(reverse("contact_list"), {"q": "nobody-at-all"}).content.decode()
    assert "No contact matches these filters." in html and "data-empty" not in html


def test_a_viewer_is_not_offered_an_action_they_cannot_take(viewer):
    from tests.conftest import client_for

    html = client_for(viewer).get(reverse("segment_list")).content.decode()
    assert "No segments yet" in empty_state(html) and "button primary" not in empty_state(html)


def test_every_page_links_the_favicon_and_it_is_served(admin_client):
    html = admin_client.get(reverse("journey_list")).content.decode()
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in html
    assert finders.find("favicon.svg").endswith("static/favicon.svg")


def test_the_policies_page_has_an_index_of_its_sections(admin_client):
    html = admin_client.get(reverse("consent_policies")).content.decode()
    index = re.search(
        r'<nav class="card page-index" aria-label="On this page">(.*?)</nav>', html, re.S
    ).group(1)
    targets = re.findall(r'href="#([a-z]+)"', index)
    assert targets == ["purposes", "caps", "keywords", "replies", "quiet", "try"]
    for t in targets:
        assert f'<section class="card" id="{t}">' in html
