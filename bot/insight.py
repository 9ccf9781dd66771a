"""Insight models: risk (safeguarding's second layer), the seven themes, and sentiment.

Trained from the project's hand-written examples in ``nlu/insight/`` (never from the evaluation
sets in ``eval/insight/``) the first time they are needed in a process, then kept. Training is
deterministic and takes a few seconds (``bot.textclf``).

The seven themes are the ones parents raised in the engagement that ParentVoice grew from
(../shared/seeds): signposting; clarity about the system; communication and the parent as expert;
consistency of provision; co-ordination of services and information; consistency of information;
timely support.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.safeguarding import CATEGORIES, DISCLOSURE_INTENT_PREFIX, DISCLOSURE_INTENTS
from bot.textclf import MultiLabelClassifier
from flows.spec import THEMES

__all__ = ["SENTIMENTS", "THEMES", "Coding", "InsightModels", "models"]

DATA_DIR = Path(__file__).resolve().parents[1] / "nlu" / "insight"
RASA_NLU = Path(__file__).resolve().parents[1] / "nlu" / "data" / "nlu.yml"
SENTIMENTS = ("positive", "negative", "mixed", "neutral")
THEME_THRESHOLD = 0.4  # a theme is coded from this probability; chosen on the dev split


@dataclass(frozen=True)
class Coding:
    """The themes (with confidence) and sentiment of one free-text answer."""

    themes: tuple[tuple[str, float], ...]
    sentiment: str
    sentiment_confidence: float


def _rasa_examples() -> list[str]:
    """The example messages of the chat's own NLU data (nlu/data/nlu.yml)."""
    data = yaml.safe_load(RASA_NLU.read_text(encoding="utf-8"))
    texts = []
    for block in data.get("nlu", []):
        for line in str(block.get("examples", "")).splitlines():
            line = line.strip()
            if line.startswith("- "):
                texts.append(line[2:].strip())
    return texts


def _examples(*names: str) -> list[dict[str, Any]]:
    examples: list[dict[str, Any]] = []
    for name in names:
        path = DATA_DIR / name
        if path.exists():
            examples.extend(yaml.safe_load(path.read_text(encoding="utf-8"))["examples"])
    return examples


def feedback_examples() -> list[dict[str, Any]]:
    """The theme and sentiment training examples, in the order training reads them."""
    return _examples(*FEEDBACK_FILES)


RISK_FILES = ("risk.yml", "risk_more.yml", "risk_extra.yml", "risk_answers.yml")
FEEDBACK_FILES = ("themes.yml", "themes_more.yml")
# What the models learn from: a change to any of these names new cached weights.
TRAINING_FILES = RISK_FILES + FEEDBACK_FILES
CACHE_DIR = Path(__file__).resolve().parents[1] / "var" / "models"
# Bump when the features, the training or its settings change: old caches are then ignored.
_MODEL_VERSION = 2


class InsightModels:
    """The three trained classifiers."""

    def __init__(
        self,
        risk: MultiLabelClassifier,
        themes: MultiLabelClassifier,
        sentiment: MultiLabelClassifier,
    ) -> None:
        self.risk, self.themes, self.sentiment = risk, themes, sentiment

    @classmethod
    def train(cls) -> InsightModels:
        """Train all three from nlu/insight/ (about half a minute in pure Python)."""
        feedback = feedback_examples()
        # Every feedback example, and every control phrase the chat understands ("delete my
        # data", "stop", "yes"), is also a message with no risk in it: most of what parents write
        # is one or the other, and the risk layer must stay quiet on them.
        quiet = [e["text"] for e in feedback] + _rasa_examples()
        risk = _examples(*RISK_FILES) + [
            {"text": text, "risk": False, "categories": []} for text in quiet
        ]
        return cls(
            risk=MultiLabelClassifier(("risk", *CATEGORIES)).fit(
                (e["text"], (["risk"] if e["risk"] else []) + list(e.get("categories") or []))
                for e in risk
            ),
            themes=MultiLabelClassifier(THEMES).fit(
                ((e["text"], e.get("themes") or []) for e in feedback),
                epochs=20,
                rate=0.3,
                l2=1e-4,
            ),
            sentiment=MultiLabelClassifier(SENTIMENTS).fit(
                (e["text"], [e["sentiment"]]) for e in feedback
            ),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "risk": self.risk.to_json(),
            "themes": self.themes.to_json(),
            "sentiment": self.sentiment.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InsightModels:
        return cls(
            risk=MultiLabelClassifier.from_json(data["risk"]),
            themes=MultiLabelClassifier.from_json(data["themes"]),
            sentiment=MultiLabelClassifier.from_json(data["sentiment"]),
        )

    def code(self, text: str) -> Coding:
        """Themes and sentiment of one (redacted) answer."""
        scores = self.themes.scores(text)
        themes = tuple(
            (theme, round(p, 3))
            for theme, p in sorted(scores.items(), key=lambda item: -item[1])
            if p >= THEME_THRESHOLD
        )
        sentiment, confidence = max(self.sentiment.scores(text).items(), key=lambda item: item[1])
        return Coding(themes, sentiment, round(confidence, 3))


def rasa_disclosure_nlu() -> str:
    """Rasa NLU training data for safeguarding's third layer (generated as nlu/data/disclosures.yml).

    Each disclosure becomes an example of ``disclosure_<category>`` (its most urgent category);
    each hard negative (an idiom, a resolved worry, safety advice) an example of ``inform``, which
    is what it is: an ordinary answer. Rasa only ever sees redacted text, so the examples are
    redacted the same way first (a fixed key: placeholders, not digests, reach the file).
    Examples the chat's own NLU data already has are left out, so no text has two intents.
    """
    from bot.redact import Redactor  # the word lists load only when this file is generated

    redactor = Redactor(b"nlu-training-data")
    taken = {text.casefold() for text in _rasa_examples()}
    by_intent: dict[str, list[str]] = {name: [] for name in (*DISCLOSURE_INTENTS, "inform")}
    for example in _examples(*RISK_FILES):
        text = " ".join(redactor.redact(str(example["text"])).text.split())
        # "[x](y)" would be read as an entity annotation.
        text = text.replace("](", "] (").replace("]{", "] {")
        if not text or text.casefold() in taken:
            continue
        taken.add(text.casefold())
        categories = [c for c in CATEGORIES if c in (example.get("categories") or ())]
        if example.get("risk") and categories:
            by_intent[DISCLOSURE_INTENT_PREFIX + categories[0]].append(text)
        elif not example.get("risk"):
            by_intent["inform"].append(text)
    lines = ['version: "3.1"', "nlu:"]
    for intent, texts in by_intent.items():
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {text}" for text in texts]
    return "\n".join(lines) + "\n"


def training_fingerprint() -> str:
    """A hash of the training data and the model version: names the cached weights."""
    digest = hashlib.sha256(f"v{_MODEL_VERSION}".encode())
    for path in [DATA_DIR / name for name in TRAINING_FILES] + [RASA_NLU]:
        digest.update(path.name.encode() + b"\0")
        if path.exists():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@functools.cache
def models(cache_dir: Path = CACHE_DIR) -> InsightModels:
    """The trained models: loaded from ``cache_dir`` if this training data was trained before,
    else trained now and cached there (written atomically; a failed write only costs time)."""
    path = cache_dir / f"insight-{training_fingerprint()}.json"
    try:
        return InsightModels.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    trained = InsightModels.train()
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".insight-", suffix=".part", dir=cache_dir)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(trained.to_json(), out, separators=(",", ":"))
        os.replace(tmp, path)
    except OSError:
        pass
    return trained


if __name__ == "__main__":  # `python -m bot.insight`: train now (make train does), report the cache
    import time

    started = time.perf_counter()
    models()
    print(
        f"insight models: var/models/insight-{training_fingerprint()}.json "
        f"({time.perf_counter() - started:.1f} s)"
    )
