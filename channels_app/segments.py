"""How many SMS segments a text costs: GSM-7 when every character is in the GSM 03.38 alphabet
(extension characters such as € and { take two septets), UCS-2 otherwise (UTF-16 code units, so
an emoji takes two). A single SMS holds 160 septets / 70 units; a concatenated one 153 / 67 per
part, and a part never splits an escape pair or a surrogate pair (as carriers and Twilio do)."""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str  # "gsm7" | "ucs2"
    segments: int
    units: int  # septets (gsm7) or UTF-16 code units (ucs2)
    characters: int

    @property
    def per_segment(self) -> int:
        if self.encoding == "gsm7":
            return GSM7_SINGLE if self.segments <= 1 else GSM7_PART
        return UCS2_SINGLE if self.segments <= 1 else UCS2_PART


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _unit_widths(text: str, encoding: str) -> list[int]:
    if encoding == "gsm7":
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]  # astral characters are surrogate pairs


def _parts(widths: list[int], size: int) -> int:
    parts, used = 1, 0
    for width in widths:
        if used + width > size:  # the pair moves whole to the next part
            parts, used = parts + 1, 0
        used += width
    return parts


def count_segments(text: str) -> SegmentInfo:
    encoding = "gsm7" if is_gsm7(text) else "ucs2"
    widths = _unit_widths(text, encoding)
    units = sum(widths)
    single, part = (GSM7_SINGLE, GSM7_PART) if encoding == "gsm7" else (UCS2_SINGLE, UCS2_PART)
    if units == 0:
        segments = 0
    elif units <= single:
        segments = 1
    else:
        segments = _parts(widths, part)
    return SegmentInfo(encoding=encoding, segments=segments, units=units, characters=len(text))
