"""SMS segment counts as carriers bill them: GSM-7 vs UCS-2, extension characters, emoji."""

import pytest

from channels_app.segments import count_segments


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "units"),
    [
        ("", "gsm7", 0, 0),
        ("Hello", "gsm7", 1, 5),
        ("a" * 160, "gsm7", 1, 160),
        ("a" * 161, "gsm7", 2, 161),
        ("a" * 306, "gsm7", 2, 306),
        ("a" * 307, "gsm7", 3, 307),
        ("Price: 10€", "gsm7", 1, 11),  # € is an extension character: two septets
        ("{" * 80, "gsm7", 1, 160),
        ("{" * 81, "gsm7", 2, 162),
        ("Café à l'été", "gsm7", 1, 12),  # é and à are in the GSM alphabet
        ("Crème brûlée", "ucs2", 1, 12),  # û is not
        ("Ça va? ñ ü Ä", "gsm7", 1, 12),
        ("Привет", "ucs2", 1, 6),
        ("a" * 70 + "ж", "ucs2", 2, 71),
        ("ж" * 70, "ucs2", 1, 70),
        ("ж" * 134, "ucs2", 2, 134),
        ("ж" * 135, "ucs2", 3, 135),
        ("Thanks 👍", "ucs2", 1, 9),  # an emoji is a surrogate pair: two units
        ("👍" * 35, "ucs2", 1, 70),
        ("👍" * 36, "ucs2", 2, 72),
    ],
)
def test_segment_counts(text, encoding, segments, units):
    info = count_segments(text)
    assert (info.encoding, info.segments, info.units) == (encoding, segments, units)


def test_an_escape_pair_is_never_split_across_parts():
    # 152 plain septets then '€' (2 septets) would straddle the 153-septet boundary
    info = count_segments("a" * 152 + "€" + "a" * 10)
    assert info.encoding == "gsm7"
    assert info.units == 164
    assert info.segments == 2  # part 1: 152 (+1 unused), part 2: € + 10


def test_a_surrogate_pair_is_never_split_across_parts():
    # 66 units then an emoji (2 units) cannot fit in a 67-unit part
    info = count_segments("ж" * 66 + "👍" + "ж" * 66)
    assert info.units == 134
    assert info.segments == 3  # 66 | 👍 + 65 | 1 — the pair moves whole


def test_one_emoji_turns_a_whole_message_into_ucs2():
    plain = count_segments("a" * 100)
    with_emoji = count_segments("a" * 100 + "🙂")
    assert (plain.encoding, plain.segments) == ("gsm7", 1)
    assert (with_emoji.encoding, with_emoji.segments) == ("ucs2", 2)
    assert with_emoji.per_segment == 67
