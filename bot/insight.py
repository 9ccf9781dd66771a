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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.safeguarding import CATEGORIES
from bot.textclf import MultiLabelClassifier

__all__ = ["SENTIMENTS", "THEMES", "Coding", "InsightModels", "models"]

DATA_DIR = Path(__file__).resolve().parents[1] / "nlu" / "insight"
THEMES = (
    "signposting",
    "clarity_about_the_system",
    "communication_parent_as_expert",
    "consistency_of_provision",
    "coordination_of_services",
    "consistency_of_information",
    "timely_support",
)
SENTIMENTS = ("positive", "negative", "mixed", "neutral")
THEME_THRESHOLD = 0.4  # a theme is coded from this probability; chosen on the dev split


@dataclass(frozen=True)
class Coding:
    """The themes (with confidence) and sentiment of one free-text answer."""

    themes: tuple[tuple[str, float], ...]
    sentiment: str
    sentiment_confidence: float


def _examples(*names: str) -> list[dict[str, Any]]:
    examples: list[dict[str, Any]] = []
    for name in names:
        path = DATA_DIR / name
        if path.exists():
            examples.extend(yaml.safe_load(path.read_text(encoding="utf-8"))["examples"])
    return examples


class InsightModels:
    """The three trained classifiers."""

    def __init__(self) -> None:
        feedback = _examples("themes.yml", "themes_more.yml")
        # Every feedback example is also a message with no risk in it: most of what parents
        # write is feedback, and the risk layer must stay quiet on it.
        risk = _examples("risk.yml", "risk_more.yml") + [
            {"text": e["text"], "risk": False, "categories": []} for e in feedback
        ]
        self.risk = MultiLabelClassifier(("risk", *CATEGORIES)).fit(
            (e["text"], (["risk"] if e["risk"] else []) + list(e.get("categories") or []))
            for e in risk
        )
        self.themes = MultiLabelClassifier(THEMES).fit(
            ((e["text"], e.get("themes") or []) for e in feedback), epochs=20, rate=0.3, l2=1e-4
        )
        self.sentiment = MultiLabelClassifier(SENTIMENTS).fit(
            (e["text"], [e["sentiment"]]) for e in feedback
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


@functools.cache
def models() -> InsightModels:
    """The trained models, trained once per process."""
    return InsightModels()
