"""The insight models: trained from nlu/insight/ only, deterministic, and sensible on plain cases.

Their held-out figures come from `make eval-insight`; this only checks the machinery.
"""

from __future__ import annotations

from bot.insight import SENTIMENTS, THEMES, InsightModels, models
from bot.textclf import MultiLabelClassifier


def test_training_is_deterministic() -> None:
    data = [("waited weeks for a call back", ["slow"]), ("they rang back the same day", [])] * 5
    first = MultiLabelClassifier(["slow"]).fit(data).scores("still waiting for a call back")
    second = MultiLabelClassifier(["slow"]).fit(data).scores("still waiting for a call back")
    assert first == second


def test_plain_answers_are_coded_to_their_theme_and_sentiment() -> None:
    trained = models()
    assert isinstance(trained, InsightModels)
    slow = trained.code("we waited 6 weeks for a call back from the health visitor, far too long")
    assert dict(slow.themes).get("timely_support", 0) >= 0.4
    assert slow.sentiment == "negative"
    heard = trained.code("she really listened to me and treated me like i know my own child")
    assert "communication_parent_as_expert" in dict(heard.themes)
    assert heard.sentiment == "positive"
    assert all(theme in THEMES for theme, _ in slow.themes) and slow.sentiment in SENTIMENTS


def test_the_risk_layer_scores_every_category() -> None:
    scores = models().risk.scores("i dont want to be here anymore")
    assert scores["risk"] > 0.5
    assert set(scores) == {
        "risk",
        "medical_emergency",
        "self_harm",
        "perinatal_mental_health",
        "domestic_abuse",
        "child_at_risk",
    }
