"""Small helpers for the consent templates."""

from django import template

register = template.Library()

# label and badge tone (static/css/app.css, docs/ui.md): each state its own colour
STATE = {
    "opted_in": ("Opted in", "allowed"),
    "pending": ("Pending", "pending"),
    "opted_out": ("Opted out", "deny"),
    "suppressed": ("Suppressed", "blocked"),
    "no_consent": ("No opt-in", "no-optin"),
    "basis": ("Allowed (basis)", "allowed"),
}


@register.filter
def get_item(mapping, key):
    return (mapping or {}).get(key)


@register.filter
def state_label(state: str) -> str:
    return STATE.get(state, (state or "—", ""))[0]


@register.filter
def state_css(state: str) -> str:
    return STATE.get(state, ("", ""))[1]


@register.filter
def basis_label(value: str) -> str:
    from consent.models import LawfulBasis

    return LawfulBasis(value).label if value in LawfulBasis.values else value


@register.inclusion_tag("consent/_badges.html", takes_context=True)
def consent_badges(context, contact):
    """One badge per channel the contact can be reached on (the contact page shows them)."""
    from consent.selectors import channel_badges

    return {
        "contact": contact,
        "badges": channel_badges(workspace=contact.workspace, contact=contact),
        "can": context.get("can"),
    }
