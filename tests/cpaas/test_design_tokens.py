"""The design system's colour tokens (static/css/app.css, docs/ui.md): every text colour is
readable on the backgrounds it is used on (WCAG 2 contrast >= 4.5:1, computed here from the
tokens themselves), and each badge tone is its own colour, so Live, Draft, blocked, deny,
allowed and no opt-in never look alike again."""

import itertools
import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "app.css"


def tokens() -> dict[str, str]:
    root = re.search(r":root\s*{(.*?)}", CSS.read_text(), re.S).group(1)
    return {k: v.lower() for k, v in re.findall(r"--([a-z0-9-]+):\s*(#[0-9a-fA-F]{6})\b", root)}


def luminance(hex_: str) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_contrast_is_computed_as_wcag_says():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # the classic near miss


TONES = ["info", "live", "draft", "paused", "archived", "allowed", "blocked", "deny", "noopt"]
TEXT_ON = {
    # text colour: the backgrounds it is drawn on
    "ink": ["card", "bg"],
    "muted": ["card", "bg"],
    "brand": ["card", "bg"],
    "danger": ["card", "bg"],
    "ok": ["card", "bg"],
    "warn": ["card", "bg"],
    "brand-ink": ["brand"],
    "nav-ink": ["nav-bg", "nav-active"],
}


def test_every_text_token_reads_at_4_5_to_1_on_its_backgrounds():
    t = tokens()
    low = []
    for fg, bgs in TEXT_ON.items():
        for bg in bgs:
            if contrast(t[fg], t[bg]) < 4.5:
                low.append((fg, bg, round(contrast(t[fg], t[bg]), 2)))
    for tone in TONES:
        ratio = contrast(t[f"tone-{tone}-fg"], t[f"tone-{tone}-bg"])
        if ratio < 4.5:
            low.append((f"tone-{tone}", round(ratio, 2)))
    assert not low


def test_the_focus_ring_shows_on_the_dark_navigation_and_on_white():
    t = tokens()
    assert contrast(t["focus-ring"], t["nav-bg"]) >= 3  # WCAG 1.4.11: non-text contrast
    assert contrast(t["brand"], t["card"]) >= 3


def test_each_badge_tone_is_its_own_colour():
    t = tokens()

    def distance(a: str, b: str) -> float:
        ra, ga, ba = (int(a[i : i + 2], 16) for i in (1, 3, 5))
        rb, gb, bb = (int(b[i : i + 2], 16) for i in (1, 3, 5))
        return ((ra - rb) ** 2 + (ga - gb) ** 2 + (ba - bb) ** 2) ** 0.5

    for a, b in itertools.combinations(TONES, 2):
        bg = distance(t[f"tone-{a}-bg"], t[f"tone-{b}-bg"])
        fg = distance(t[f"tone-{a}-fg"], t[f"tone-{b}-fg"])
        assert bg + fg > 40, (a, b, bg, fg)


def test_badge_classes_use_the_tones():
    css = CSS.read_text()
    for cls, tone in [("status-live", "live"), ("status-draft", "draft"), ("blocked", "blocked"),
                      ("deny", "deny"), ("allowed", "allowed"), ("no-optin", "noopt")]:  # fmt: skip
        rule = re.search(rf"[^}}]*\.badge\.{cls}\b[^{{]*{{([^}}]*)}}", css)
        assert rule and f"var(--tone-{tone}-bg)" in rule.group(1), cls
