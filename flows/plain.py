"""How easy an English text is to read: Flesch reading ease (0-100, higher is easier).

Parents read these on a phone, often tired, some in a second language. The NHS aims for a reading
age of about 9-11, roughly a score of 70 or more ("fairly easy"). Syllables are counted with the
usual vowel-group heuristic, good enough to flag a hard sentence, not to grade prose finely.
"""

from __future__ import annotations

import re

PLAIN_ENOUGH = 60.0  # below this, `flows validate` warns


def _syllables(word: str) -> int:
    word = word.lower()
    groups = re.findall(r"[aeiouy]+", word)
    count = len(groups)
    if word.endswith("e") and not word.endswith(("le", "ee")) and count > 1:
        count -= 1  # a silent final e: "make", "give"
    return max(count, 1)


def reading_ease(text: str) -> float:
    """Flesch reading ease of ``text``, kept within 0-100 (very short plain sentences score
    above 100 by the formula); 100 for a text with no words."""
    words = re.findall(r"[A-Za-z]+(?:'[a-z]+)?", text)
    if not words:
        return 100.0
    sentences = max(len(re.findall(r"[.!?]+(?:\s|$)", text)), 1)
    syllables = sum(_syllables(w) for w in words)
    score = 206.835 - 1.015 * (len(words) / sentences) - 84.6 * (syllables / len(words))
    return min(max(score, 0.0), 100.0)


def describe(score: float) -> str:
    for floor, label in ((90, "very easy"), (80, "easy"), (70, "fairly easy"), (60, "plain"),
                         (50, "fairly hard"), (30, "hard")):  # fmt: skip
        if score >= floor:
            return label
    return "very hard"
