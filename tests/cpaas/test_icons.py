"""Icons are Lucide SVG symbols from the vendored sprite, never emoji (issue 16 item 12): emoji
render as empty boxes on machines without an emoji font."""

import re
from pathlib import Path

import pytest
from django.template import Context, Template

from cpaas import icons
from journeys.nodes import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u23e9-\u23fa\u231a\u231b]")


def symbols() -> set[str]:
    return set(re.findall(r'<symbol id="([^"]+)"', (ROOT / "static" / icons.SPRITE).read_text()))


def test_the_sprite_is_vendored_with_its_licence():
    assert (ROOT / "static/vendor/lucide/LICENSE").read_text().startswith("ISC License")
    assert len(symbols()) > 1000


def test_every_node_type_and_channel_has_an_icon_of_its_own_in_the_sprite():
    have = symbols()
    node_icons = {t: n.icon for t, n in REGISTRY.items()}
    assert set(node_icons.values()) <= have, set(node_icons.values()) - have
    assert len(set(node_icons.values())) == len(node_icons)  # one per node type
    assert set(icons.CHANNEL_ICONS.values()) <= have
    assert len(set(icons.CHANNEL_ICONS.values())) == len(icons.CHANNEL_ICONS)


def test_no_emoji_in_templates_scripts_or_node_definitions():
    files = [*ROOT.glob("templates/**/*.html"), *ROOT.glob("static/js/**/*.js"), *ROOT.glob("static/css/*.css"),
             *ROOT.glob("journeys/nodes/*.py")]  # fmt: skip
    found = [(str(f.relative_to(ROOT)), m.group()) for f in files for m in EMOJI.finditer(f.read_text())]
    assert not found


def test_the_icon_tag_draws_a_decorative_or_labelled_svg():
    html = Template('{% icon "mail" %} {% icon "phone" label="Call" %} {% channel_icon "whatsapp" %}').render(
        Context()
    )
    assert (
        '<svg class="icon " aria-hidden="true" focusable="false"><use href="/static/vendor/lucide/sprite.svg#mail">'
        in html
    )
    assert 'role="img" aria-label="Call"' in html
    assert "sprite.svg#message-circle" in html


@pytest.mark.django_db
def test_channel_pages_show_each_channels_icon(admin_client, workspace):
    from django.urls import reverse

    # the page makes the workspace's sandbox channels (SMS, WhatsApp, email, ...)
    html = admin_client.get(reverse("channel_list")).content.decode()
    for kind in ("sms", "whatsapp", "email"):
        assert f"sprite.svg#{icons.CHANNEL_ICONS[kind]}" in html, kind
