"""The languages a parent can choose, the numbered menu that works on any phone, and telling a
language from a first message when that is safe.

Detection is deliberately cautious: a script only one of our languages uses (Bengali), letters
only Urdu uses among the Arabic-script ones, letters only Polish or Romanian use, or words that
only one of them uses. A short "hi" or "ok" decides nothing: then the parent gets the menu.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

# Menu order: English first, then the languages most spoken by parents the seeds describe.
NAMES = {
    "en": "English",
    "pl": "Polski",
    "ur": "اردو",
    "bn": "বাংলা",
    "ro": "Română",
    "ar": "العربية",
}
# Names a parent might type to pick one, in English and in the language itself (romanised too).
_TYPED_NAMES = {
    "en": ("english", "eng", "angielski", "engleza", "انگریزی", "ইংরেজি", "الإنجليزية", "انجليزي"),
    "pl": ("polski", "polish", "po polsku", "polska", "polonez", "poloneza"),
    "ur": ("urdu", "اردو", "اُردو"),
    "bn": ("bengali", "bangla", "বাংলা", "bangali", "sylheti"),
    "ro": ("romana", "română", "romanian", "limba romana", "romaneste", "româneşte", "românește"),
    "ar": ("arabic", "العربية", "عربي", "arabi", "3arabi"),
}
# Asking to change language, in any of them: answered with the menu at any point.
_CHANGE = {
    "language", "languages", "change language", "lang", "jezyk", "język", "zmien jezyk",
    "zmień język", "zaban", "zuban", "زبان", "زبان تبدیل کریں", "bhasha", "ভাষা", "ভাষা পরিবর্তন",
    "limba", "schimba limba", "schimbă limba", "اللغة", "لغة", "تغيير اللغة",
}  # fmt: skip

# Letters Urdu writes and Arabic does not: Urdu keyboards give ی ک ہ where Arabic ones give ي ك ه.
_URDU_LETTERS = set("ٹڈڑںےھۓہیکگپچژ")
_POLISH_LETTERS = set("ąćęłńśźżĄĆĘŁŃŚŹŻ")
_ROMANIAN_LETTERS = set("ăâîșşțţĂÂÎȘŞȚŢ")
_WORDS = {
    "pl": {"dzien", "dzień", "dobry", "czesc", "cześć", "tak", "nie", "dziekuje", "dziękuję",
           "jestem", "moje", "dziecko", "prosze", "proszę", "witam"},
    "ro": {"buna", "bună", "ziua", "salut", "multumesc", "mulțumesc", "copilul", "sunt",
           "vreau", "nu", "da", "foarte", "pentru"},
    "en": {"hello", "hi", "hey", "the", "and", "my", "is", "was", "thanks", "thank", "you",
           "yes", "baby", "child", "health", "visitor", "please", "morning", "evening"},
}  # fmt: skip


def _plain(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).casefold().split()).strip(" .!?،۔")


@functools.cache
def _requests() -> frozenset[str]:
    """Every way we know of asking for the menu: the list above and the translators' drafts."""
    path = Path(__file__).parent / "wordlists" / "language_requests.txt"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    return frozenset({_plain(t) for t in _CHANGE} | {_plain(t) for t in lines if t and t[0] != "#"})


def wants_menu(text: str) -> bool:
    """True if the message asks to change language ("language", "język", "زبان"...)."""
    return _plain(text) in _requests()


def is_language_word(text: str) -> bool:
    """True if the whole message is a request for the menu or a language's name or number: it
    holds nothing personal, so the redactor need not (and must not) mistake "język" for a name."""
    return wants_menu(text) or choice(text, tuple(NAMES)) is not None


def menu(available: tuple[str, ...]) -> str:
    """The numbered menu, each language in its own name: works by number on any phone."""
    lines = ["Choose your language. Reply with a number:"]
    lines += [f"{n}. {NAMES[code]}" for n, code in enumerate(available, 1)]
    return "\n".join(lines)


def choice(text: str, available: tuple[str, ...]) -> str | None:
    """The language a reply to the menu picks: its number (Arabic-Indic and Bengali digits too)
    or its name; None if it picks none."""
    plain = _plain(text)
    digits = "".join(
        str(unicodedata.digit(ch)) for ch in plain if unicodedata.digit(ch, None) is not None
    )
    if digits and len(digits) == len(plain.replace(" ", "")):
        n = int(digits)
        return available[n - 1] if 1 <= n <= len(available) else None
    for code in available:
        if plain in _TYPED_NAMES.get(code, ()) or plain == NAMES[code].casefold():
            return code
    return None


def detect(text: str, available: tuple[str, ...]) -> str | None:
    """The language of a first message when it is clear; None when it is not."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return None
    found: str | None = None
    scripts = {unicodedata.name(ch, "").split(" ")[0] for ch in letters}
    if "BENGALI" in scripts:
        found = "bn"
    elif "ARABIC" in scripts:
        if _URDU_LETTERS & set(text):
            found = "ur"
        elif len(letters) >= 8:  # a word or two could be either; a sentence is Arabic
            found = "ar"
    elif _POLISH_LETTERS & set(text):
        found = "pl"
    elif _ROMANIAN_LETTERS & set(text):
        found = "ro"
    else:
        words = set(re.findall(r"[a-zăâîșşțţąćęłńśźż]+", _plain(text)))
        hits = {code: len(words & vocabulary) for code, vocabulary in _WORDS.items()}
        best = max(hits, key=lambda code: hits[code])
        others = sorted(hits.values())[-2]
        if hits[best] >= 2 and others == 0:
            found = best
    return found if found in available else None
