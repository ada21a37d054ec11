"""Template helpers of the design system (docs/ui.md), loaded in every template (a builtin):
`{% icon "mail" %}` draws a Lucide icon from the vendored sprite, decorative unless it is given
a label (`{% icon "mail" label="Email" %}`); `{% channel_icon kind %}` the icon of a channel."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from cpaas import icons

register = template.Library()


@register.simple_tag
def icon(name: str, label: str = "", css: str = "") -> str:
    a11y = format_html('role="img" aria-label="{}"', label) if label else mark_safe('aria-hidden="true"')
    return format_html(
        '<svg class="icon {}" {} focusable="false"><use href="{}#{}"></use></svg>',
        css, a11y, icons.sprite_url(), name,
    )  # fmt: skip


@register.simple_tag
def channel_icon(kind: str, label: str = "") -> str:
    return icon(icons.channel_icon(kind), label=label)
