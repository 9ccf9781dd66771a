"""Choosing a language: the numbered menu, replies to it, and cautious detection."""

from __future__ import annotations

import pytest

from bot import languages

ALL = ("en", "pl", "ur", "bn", "ro", "ar")


def test_the_menu_numbers_each_language_in_its_own_name() -> None:
    lines = languages.menu(ALL).splitlines()
    assert lines[1:] == ["1. English", "2. Polski", "3. اردو", "4. বাংলা", "5. Română", "6. العربية"]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("2", "pl"), (" 4 ", "bn"), ("৪", "bn"), ("٣", "ur"), ("۳", "ur"),  # Bengali, Arabic-Indic digits
        ("Polski", "pl"), ("urdu", "ur"), ("বাংলা", "bn"), ("romana", "ro"), ("English.", "en"),
        ("7", None), ("0", None), ("hello", None), ("2 please", None), ("", None),
    ],
)  # fmt: skip
def test_a_reply_to_the_menu_picks_by_number_or_name(reply: str, expected: str | None) -> None:
    assert languages.choice(reply, ALL) == expected


@pytest.mark.parametrize(
    "text", ["language", "LANGUAGE", "Język", "jezyk", "زبان", "ভাষা", "limba", "اللغة"]
)
def test_asking_for_the_menu_in_any_language(text: str) -> None:
    assert languages.wants_menu(text)
    assert not languages.wants_menu("what language do you speak at home")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dzień dobry, mam pytanie", "pl"),
        ("czesc tak jestem", "pl"),
        ("Bună ziua, copilul meu", "ro"),
        ("আমার বাচ্চা ভালো আছে", "bn"),
        ("میرا بچہ ٹھیک ہے", "ur"),
        ("مرحبا، طفلي بخير والحمد لله", "ar"),
        ("السلام علیکم", "ur"),  # Urdu keyboards write ی and ک; Arabic ones ي and ك
        ("السلام عليكم ورحمة الله", "ar"),
        ("hi there, my baby is fine", "en"),
        ("hi", None),  # too little to tell: the parent gets the menu or the default
        ("ok", None),
        ("1", None),
        ("👍", None),
        ("سلام", None),  # Arabic script, but Urdu or Arabic? Not clear
    ],
)
def test_detection_decides_only_when_clear(text: str, expected: str | None) -> None:
    assert languages.detect(text, ALL) == expected


def test_detection_never_picks_a_language_the_flow_does_not_offer() -> None:
    assert languages.detect("Dzień dobry, mam pytanie", ("en",)) is None


@pytest.mark.parametrize("text", ["język", "zmien jezyk", "Polski", "romana", "bhasha", "3", "৩"])
def test_language_words_are_recognised_before_redaction_could_hide_them(text: str) -> None:
    # Under English rules the redactor takes "język" or "bhasha" for a name; such a message is
    # kept as it is instead (it holds nothing personal).
    assert languages.is_language_word(text)
    assert not languages.is_language_word("my daughter zofia")
    assert not languages.is_language_word("jezyk polski jest trudny")
