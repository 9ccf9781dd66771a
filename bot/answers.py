"""Reading a parent's answer to one question: a number or a label for choices, yes/no for consent.

Pure functions; the action endpoint calls them and turns the result into Rasa events.
"""

from __future__ import annotations

import re
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
_PUNCT = re.compile(r"[^\w\s/']+")


@dataclass(frozen=True)
class Reading:
    """An accepted value, or the fixed message key explaining why it was not accepted."""

    value: str | None
    error: str | None = None


def _norm(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


def read_answer(question: Question, text: str, lang: str) -> Reading:
    """Interpret ``text`` as an answer to ``question`` in language ``lang``."""
    norm = _norm(text)
    if question.optional and (norm in _SKIP or text == SKIPPED):
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
        if norm in _YES or first in {"yes", "yeah", "yep", "y", "ok", "okay", "sure"}:
            return Reading("yes")
        if norm in _NO or first in {"no", "nope", "nah", "n"}:
            return Reading("no")
        return Reading(None, "invalid_yes_no")
    if question.type == "choice":
        if norm.isascii() and norm.isdecimal() and 1 <= int(norm) <= len(question.options):
            return Reading(question.options[int(norm) - 1].id)
        words = f" {norm} "
        for option in question.options:
            label = _norm(option.label.get(lang) or option.label["en"])
            # Whole words only: "grandad" is not "dad", "not the mum" is not "mum".
            if (
                norm
                and not norm.startswith(("not ", "no "))
                and (
                    norm == label
                    or norm == option.id.replace("_", " ")
                    or (
                        len(norm) >= 3
                        and label.startswith(norm)
                        and label[len(norm) :][:1] in ("", " ")
                    )
                    or f" {label} " in words
                )
            ):
                return Reading(option.id)
        return Reading(None, "invalid_choice")
    if not norm and not text.strip():
        return Reading(None, "media")
    return Reading(text.strip())
