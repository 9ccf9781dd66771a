"""A first, minimal safeguarding check on the raw text, in memory, before anything is stored.

Recall first: a missed disclosure is far worse than an unneeded signposting message. Issue D
replaces this with a curated, layered pattern set plus an NLU signal, and per-category replies.
"""

from __future__ import annotations

import re

_PATTERNS: dict[str, tuple[str, ...]] = {
    "self_harm": (
        r"\b(kill|hurt|harm)(ing)? my ?self\b",
        r"\bsuicid",
        r"\bend (it all|my life)\b",
        r"\bbetter off without me\b",
        r"\bdon'?t want to (be here|live|go on)\b",
        r"\bno (point|reason) (in )?(living|going on)\b",
        r"\bwant to die\b",
    ),
    "child_at_risk": (
        r"\b(hit|hits|hitting|beat|beats|beating|shake|shook|shaking) (my |the |our )?(baby|child|son|daughter|kid)",
        r"\b(he|she|they) (hurts?|hits?|touch(es|ed)?) (my |the |our )?(baby|child|son|daughter|kids?)\b",
        r"\b(abuse[ds]?|abusing)\b",
        r"\bneglect",
    ),
    "domestic_abuse": (
        r"\b(partner|husband|wife|boyfriend|girlfriend|ex) (hits|hit|beats|hurts|threatens|chokes?)\b",
        r"\bscared (of|to go home)\b",
        r"\bdomestic (violence|abuse)\b",
    ),
    "medical_emergency": (
        r"\bnot breathing\b",
        r"\b(can'?t|cannot|struggling to) breathe?\b",
        r"\bunresponsive\b",
        r"\bfloppy\b",
        r"\b(fitting|seizure|convulsion)",
        r"\brash (that )?(does ?n'?t|won'?t) fade\b",
        r"\bswallowed (some |my |the )?(pills|tablets|medicine|bleach|chemicals|battery|batteries)\b",
    ),
}
_COMPILED = {
    cat: re.compile("|".join(f"(?:{p})" for p in pats), re.I) for cat, pats in _PATTERNS.items()
}


def check(text: str) -> str | None:
    """The first safeguarding category the raw text matches, or None."""
    for category, pattern in _COMPILED.items():
        if pattern.search(text):
            return category
    return None
