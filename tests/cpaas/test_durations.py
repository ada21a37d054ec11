"""Durations typed and shown as people write them (issue 16 item 8): one parser and formatter."""

import pytest

from cpaas.durations import duration_format, duration_parse


@pytest.mark.parametrize(
    "typed, seconds, shown",
    [
        ("7 days", 604800, "7 days"),
        ("2 h 30 min", 9000, "2 h 30 min"),
        ("2h30m", 9000, "2 h 30 min"),
        ("1 week", 604800, "7 days"),
        ("1.5 hours", 5400, "1 h 30 min"),
        ("1 day and 3 hours", 97200, "1 day 3 h"),
        ("45 s", 45, "45 s"),
        ("604800", 604800, "7 days"),  # a bare number is seconds, as the field held before
        ("1 DAY", 86400, "1 day"),
    ],
)
def test_typed_durations_read_and_show_back(typed, seconds, shown):
    assert duration_parse(typed) == seconds
    assert duration_format(seconds) == shown
    assert duration_parse(duration_format(seconds)) == seconds  # what is shown reads back


@pytest.mark.parametrize(
    "typed, says",
    [
        ("7 dayz", "'dayz' is not a unit of time"),
        ("soon", "'soon' is not a duration"),
        ("2 h 2 h", "names the same unit twice"),
        ("0.5 s", "not a whole number of seconds"),
        ("h", "'h' is not a duration"),
    ],
)
def test_a_duration_that_cannot_be_read_says_why(typed, says):
    with pytest.raises(ValueError) as exc:
        duration_parse(typed)
    assert says in str(exc.value) and "7 days, 2 h 30 min" in str(exc.value)


def test_empty_is_no_duration():
    assert duration_parse("  ") is None and duration_format(None) == ""
