"""Reading a parent's answer to one question: a number or a label for choices, yes/no for consent.

Pure functions; the action endpoint calls them and turns the result into Rasa events.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from flows.spec import Question

SKIPPED = "skipped"
_YES = {
    "yes",
    "y",
    "yeah",
    "yea",
    "yep",
    "yup",
    "ya",
    "ye",
    "ok",
    "okay",
    "k",
    "sure",
    "fine",
    "1",
    "go on",
    "go ahead",
    "happy to",
    "yes please",
    "of course",
    "alright",
    "definitely",
    "tak",
    "haan",
}
_NO = {
    "no",
    "n",
    "nope",
    "nah",
    "no thanks",
    "no thank you",
    "2",
    "rather not",
    "not really",
    "nie",
}
_SKIP = {
    "skip",
    "pass",
    "prefer not to say",
    "rather not say",
    "n/a",
    "na",
    "none of your business",
}
# Yes, no and skip in the other languages (drafts, like their translations), romanised too; the
# English words work in every language, as the questions say.
_BY_LANGUAGE: dict[str, tuple[set[str], set[str], set[str]]] = {
    "pl": ({"tak", "tak jest", "jasne", "oczywiscie", "oczywiście", "ok tak"},
           {"nie", "nie dziekuje", "nie dziękuję"}, {"pomin", "pomiń"}),
    "ro": ({"da", "sigur", "da sigur", "bine"}, {"nu", "nu multumesc", "nu mulțumesc"},
           {"omite", "sari", "sări"}),
    "ur": ({"ہاں", "جی", "جی ہاں", "haan", "han", "haa", "ji", "haan ji", "han ji", "jee"},
           {"نہیں", "nahi", "nahin", "nai", "nhi", "nahi ji"}, {"چھوڑیں", "chhoro", "chorain"}),
    "bn": ({"হ্যাঁ", "হাঁ", "ji", "ha", "haa", "hya", "hae"}, {"না", "na", "naa", "nah"},
           {"বাদ দিন", "bad din"}),
    "ar": ({"نعم", "ايوه", "أيوه", "اي", "na3am", "naam", "aywa"}, {"لا", "la", "la2"},
           {"تخطي", "تخطى"}),
}  # fmt: skip


@dataclass(frozen=True)
class Reading:
    """An accepted value, or the fixed message key explaining why it was not accepted."""

    value: str | None
    error: str | None = None


def _norm(text: str) -> str:
    """Lower case, punctuation, symbols and control characters as spaces, spaces collapsed. Vowel
    signs and other marks stay: Bengali and Urdu words are spelled with them."""
    kept = (
        " " if unicodedata.category(ch)[0] in "PSC" and ch not in "/'" else ch
        for ch in unicodedata.normalize("NFC", text.lower())
    )
    return " ".join("".join(kept).split())


def _number(norm: str) -> int | None:
    """A reply that is only a number, in any digits (٣, ۳ and ৩ are 3)."""
    if not norm or any(unicodedata.digit(ch, None) is None for ch in norm):
        return None
    return int("".join(str(unicodedata.digit(ch)) for ch in norm))


def _label_fits(norm: str, words: str, label: str) -> bool:
    """The reply is the label, its first words (three letters or more), or has it as words."""
    return (
        norm == label
        or (len(norm) >= 3 and label.startswith(norm) and label[len(norm) :][:1] in ("", " "))
        or f" {label} " in words
    )


def read_answer(question: Question, text: str, lang: str) -> Reading:
    """Interpret ``text`` as an answer to ``question`` in language ``lang``."""
    norm = _norm(text)
    yes, no, skip = _BY_LANGUAGE.get(lang, (set(), set(), set()))
    if question.optional and (norm in _SKIP or norm in skip or text == SKIPPED):
        return Reading(SKIPPED)
    # Rasa re-validates answers already given when a paused form resumes: keep stored values as they are.
    if question.type == "consent" and text in ("yes", "no"):
        return Reading(text)
    if question.type == "choice" and any(text == option.id for option in question.options):
        return Reading(text)
    if question.type == "consent":
        if norm.startswith(("no problem", "no worries", "no probs", "no bother")):
            return Reading("yes")  # British for "of course"
        first = norm.split(" ")[0] if norm else ""
        if (
            norm in _YES
            or norm in yes
            or first in {"yes", "yeah", "yep", "y", "ok", "okay", "sure"}
        ):
            return Reading("yes")
        if norm in _NO or norm in no or first in {"no", "nope", "nah", "n"}:
            return Reading("no")
        return Reading(None, "invalid_yes_no")
    if question.type == "choice":
        number = _number(norm)
        if number is not None and 1 <= number <= len(question.options):
            return Reading(question.options[number - 1].id)
        words = f" {norm} "
        for option in question.options:
            # The label in their language, or in English: "health visitor" is what many parents
            # call the service whatever language they chat in.
            labels = {
                _norm(option.label.get(lang) or option.label["en"]),
                _norm(option.label["en"]),
            }
            # Whole words only: "grandad" is not "dad", "not the mum" is not "mum".
            if (
                norm
                and not norm.startswith(("not ", "no "))
                and (
                    norm == option.id.replace("_", " ")
                    or any(_label_fits(norm, words, label) for label in labels)
                )
            ):
                return Reading(option.id)
        return Reading(None, "invalid_choice")
    if not norm and not text.strip():
        return Reading(None, "media")
    return Reading(text.strip())
