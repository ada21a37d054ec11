"""Journey templates: ready, valid graphs for the journeys the seeds describe (filled below)."""

TEMPLATES: dict = {}


def template_graph(key: str, *, workspace=None) -> dict:
    from django.core.exceptions import ValidationError

    if key not in TEMPLATES:
        raise ValidationError({"template": [f"Unknown template '{key}'."]})
    return TEMPLATES[key]()
