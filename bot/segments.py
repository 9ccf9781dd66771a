"""SMS segment counting: GSM-7 fits 160 characters (153 per part), one other character forces UCS-2
(70, or 67 per part). Parents on SMS pay attention to long, split messages, so we measure every text."""

from __future__ import annotations

_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENDED = set("^{}\\[~]|€\f")  # each costs two septets


def segments(text: str) -> tuple[int, str]:
    """Return (number of SMS segments, "GSM-7" or "UCS-2") for ``text``."""
    if all(ch in _GSM7_BASIC or ch in _GSM7_EXTENDED for ch in text):
        septets = sum(2 if ch in _GSM7_EXTENDED else 1 for ch in text)
        return (1 if septets <= 160 else -(-septets // 153)), "GSM-7"
    units = len(text.encode("utf-16-le")) // 2
    return (1 if units <= 70 else -(-units // 67)), "UCS-2"


def ucs2_characters(text: str) -> list[str]:
    """The characters of ``text`` that GSM-7 cannot carry (each forces the whole SMS to UCS-2)."""
    return [ch for ch in text if ch not in _GSM7_BASIC and ch not in _GSM7_EXTENDED]
