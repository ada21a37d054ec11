"""The contact page's journeys section (an inclusion tag, so the contacts app needs no import
of journeys)."""

from django import template

register = template.Library()


@register.inclusion_tag("journeys/_contact_journeys.html", takes_context=True)
def contact_journeys(context, contact):
    from journeys.selectors import contact_journeys as select

    return {
        "items": select(workspace=contact.workspace, contact=contact),
        "contact": contact,
        "can": context.get("can"),
    }


@register.filter
def get_item(mapping, key):
    return (mapping or {}).get(key)
