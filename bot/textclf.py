"""A small text classifier for short messages: hashed n-gram features, logistic regression.

Used for the safeguarding model's second layer and for coding answers to themes and sentiment
(``bot.insight``). Pure Python and deterministic: the same training data gives the same weights on
every machine, it trains in a few seconds when first needed, and nothing is downloaded.

Each label is an independent yes/no (one-vs-rest), so a message can carry several themes; the
probability of "yes" is the confidence. Training is AdaGrad on the logistic loss with L2, over a
fixed shuffle of the examples.
"""

from __future__ import annotations

import math
import random
import re
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["MultiLabelClassifier", "features", "normalise"]

_BUCKETS = 1 << 18  # hashed feature space: collisions are rare at our vocabulary size
_TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# Texting spellings mapped to the words the training data mostly uses.
_TEXTING = {
    "u": "you", "ur": "your", "r": "are", "im": "i'm", "ive": "i've", "dont": "don't",
    "cant": "can't", "wont": "won't", "didnt": "didn't", "doesnt": "doesn't", "isnt": "isn't",
    "wasnt": "wasn't", "havent": "haven't", "couldnt": "couldn't", "wouldnt": "wouldn't",
    "shes": "she's", "hes": "he's", "theyre": "they're", "cos": "because", "coz": "because",
    "bc": "because", "tbh": "to be honest", "pls": "please", "plz": "please", "thx": "thanks",
    "abt": "about", "bout": "about", "wk": "week", "wks": "weeks", "hrs": "hours",
    "mins": "minutes", "yr": "year", "yrs": "years", "hv": "health visitor",
    "hvs": "health visitors", "dr": "doctor", "docs": "doctors", "appt": "appointment",
    "appts": "appointments", "n": "and", "&": "and", "nothin": "nothing", "rly": "really",
}  # fmt: skip


def normalise(text: str) -> str:
    """Lowercase, accents and curly quotes gone, texting spellings expanded."""
    text = unicodedata.normalize("NFKD", text.lower().replace("’", "'").replace("‘", "'"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    words = [_TEXTING.get(w, w) for w in re.findall(r"[a-z0-9']+|&", text)]
    return " ".join(words)


def features(text: str) -> list[int]:
    """Hashed features: words, word pairs, and 4-letter pieces of words (typos share most)."""
    words = _TOKEN_RE.findall(normalise(text))
    grams = [f"w:{w}" for w in words]
    grams += [f"b:{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    for word in words:
        padded = f"<{word}>"
        grams += [f"c:{padded[i : i + 4]}" for i in range(max(1, len(padded) - 3))]
    return sorted({zlib.crc32(g.encode()) % _BUCKETS for g in grams})


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float


class MultiLabelClassifier:
    """One logistic regression per label over shared hashed features."""

    def __init__(self, labels: Sequence[str]) -> None:
        self.labels = tuple(labels)
        self._weights: dict[str, dict[int, float]] = {label: {} for label in self.labels}
        self._bias: dict[str, float] = dict.fromkeys(self.labels, 0.0)

    def fit(
        self,
        examples: Iterable[tuple[str, Iterable[str]]],
        *,
        epochs: int = 12,
        rate: float = 0.5,
        l2: float = 1e-5,
        seed: int = 7,
    ) -> MultiLabelClassifier:
        """Train on (text, labels) pairs. Deterministic for the same data and seed."""
        data = [(features(text), frozenset(labels)) for text, labels in examples]
        order = list(range(len(data)))
        shuffle = random.Random(seed)
        for label in self.labels:
            weights: dict[int, float] = {}
            squares: dict[int, float] = {}
            bias, bias_squares = 0.0, 1e-8
            for _ in range(epochs):
                shuffle.shuffle(order)
                for i in order:
                    feats, gold = data[i]
                    z = bias + sum(weights.get(f, 0.0) for f in feats)
                    error = _sigmoid(z) - (1.0 if label in gold else 0.0)
                    for f in feats:
                        w = weights.get(f, 0.0)
                        g = error + l2 * w
                        s = squares.get(f, 1e-8) + g * g
                        squares[f] = s
                        weights[f] = w - rate * g / math.sqrt(s)
                    bias_squares += error * error
                    bias -= rate * error / math.sqrt(bias_squares)
            self._weights[label] = weights
            self._bias[label] = bias
        return self

    def to_json(self) -> dict[str, Any]:
        """The trained weights, small enough to cache (tiny weights dropped, rounded)."""
        return {
            "labels": list(self.labels),
            "bias": {label: round(self._bias[label], 6) for label in self.labels},
            "weights": {
                label: {
                    str(f): round(w, 5) for f, w in self._weights[label].items() if abs(w) >= 1e-4
                }
                for label in self.labels
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MultiLabelClassifier:
        model = cls(data["labels"])
        for label in model.labels:
            model._bias[label] = float(data["bias"][label])
            model._weights[label] = {int(f): float(w) for f, w in data["weights"][label].items()}
        return model

    def scores(self, text: str) -> dict[str, float]:
        """The probability of each label."""
        feats = features(text)
        return {
            label: _sigmoid(
                self._bias[label] + sum(self._weights[label].get(f, 0.0) for f in feats)
            )
            for label in self.labels
        }

    def predict(self, text: str, threshold: float = 0.5) -> list[Prediction]:
        """Labels whose probability reaches ``threshold``, most likely first."""
        ranked = sorted(self.scores(text).items(), key=lambda item: -item[1])
        return [Prediction(label, p) for label, p in ranked if p >= threshold]
