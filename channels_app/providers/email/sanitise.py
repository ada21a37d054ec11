"""Email bodies made safe with nh3 (the Rust `ammonia` sanitiser): what a journey or an API
caller writes is mail we send under the workspace's name, and the message log shows it.

- HTML keeps ammonia's allow-list (formatting, links, images, tables); scripts, styles, event
  handlers, `javascript:` URLs and comments go. Links get `rel="noopener noreferrer"`.
- The text part is the HTML's text (tags dropped, entities decoded), or the text given, with
  control characters other than newlines and tabs removed.
"""

from __future__ import annotations

import html as htmllib
import re

import nh3

_TAG = re.compile(r"<[a-zA-Z/!][^>]*>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BLOCK_END = re.compile(r"(?i)<br\s*/?>|</(p|div|h[1-6]|li|tr|table|blockquote)>")
_BLANKS = re.compile(r"\n{3,}")


def looks_like_html(text: str) -> bool:
    return bool(_TAG.search(text or ""))


def clean_html(raw: str) -> str:
    return nh3.clean(raw or "", link_rel="noopener noreferrer", strip_comments=True)


def text_of(raw_html: str) -> str:
    """The readable text of an HTML body, for the text/plain part."""
    spaced = _BLOCK_END.sub(lambda m: m.group(0) + "\n", raw_html or "")
    # clean_content_tags drops what is inside <script>/<style> too, not just the tags
    stripped = nh3.clean(spaced, tags=set(), clean_content_tags={"script", "style"}, strip_comments=True)
    return _BLANKS.sub("\n\n", clean_text(htmllib.unescape(stripped))).strip()


def clean_text(raw: str) -> str:
    return _CONTROL.sub("", (raw or "").replace("\r\n", "\n"))


def bodies(*, body: str, html: str = "") -> tuple[str, str]:
    """(text, html) to send: an HTML body (given as `html`, or a `body` with markup) is cleaned
    and its text derived; a text body goes as text only."""
    if not html and looks_like_html(body):
        html, body = body, ""
    if html:
        safe = clean_html(html)
        return (clean_text(body) if body.strip() else text_of(safe)), safe
    return clean_text(body), ""
