"""The safeguarding patterns: disclosures in the ways parents write them, and everyday idioms.

The held-out measurement is `make eval-insight` (eval/insight/risk.jsonl); this table pins
behaviour that must never regress. All messages are invented.
"""

from __future__ import annotations

import pytest

from bot.safeguarding import CATEGORIES, Safeguarding, check, patterns_match, rasa_categories

DISCLOSURES: list[tuple[str, str]] = [
    ("honestly some days i feel the kids would be better off without me", "self_harm"),
    ("i dont want to be here anymore", "self_harm"),
    ("ive been saving up my tablets", "self_harm"),
    ("i just want it all to stop", "self_harm"),
    ("whats the point in going on", "self_harm"),
    ("shes 7 weeks and her temp is 38.4", "medical_emergency"),
    ("my 3 week old has a temperature of 38", "medical_emergency"),
    ("the rash doesnt fade when i press a glass on it", "medical_emergency"),
    ("hes floppy and wont wake for feeds", "medical_emergency"),
    ("i think she swallowed a button battery", "medical_emergency"),
    ("her lips went blue when she was coughing", "medical_emergency"),
    ("he is struggling to breathe", "medical_emergency"),
    ("he checks my phone and wont let me see my mum", "domestic_abuse"),
    ("my partner hit me last night", "domestic_abuse"),
    ("he said he'd kill me if i left", "domestic_abuse"),
    ("im not safe at home", "domestic_abuse"),
    ("my partner shook the baby to make him stop crying", "child_at_risk"),
    ("the kids are home alone all weekend", "child_at_risk"),
    ("an older man online keeps asking my 12 year old for pictures", "child_at_risk"),
    ("i keep having thoughts about hurting the baby", "perinatal_mental_health"),
    ("i dont trust myself with her", "perinatal_mental_health"),
    ("since the birth im hearing voices telling me things", "perinatal_mental_health"),
]

IDIOMS = [
    "I'd kill for an evening slot",
    "the waiting room was a nightmare",
    "my back is killing me after carrying the car seat",
    "dying for a cuppa by the end",
    "she had a fit of giggles in the waiting room",
    "he hit the roof when he heard about the wait",
    "we nearly died laughing at the weigh in",
    "shes 8 weeks and her temp was 36.9, just checking",
    "the rash faded when we did the glass test",
    "i dont want to be here all day in a waiting room",
    "whats the point of the survey if nothing changes",
    "she hit me with a rattle haha",
    "the hv asked about my mood and if i had thoughts of harming myself, i dont but it was good she asked",
    "the hv was lovely and listened",
    "",
]


@pytest.mark.parametrize(("text", "category"), DISCLOSURES, ids=[d[0][:40] for d in DISCLOSURES])
def test_disclosures_are_found(text: str, category: str) -> None:
    assert category in patterns_match(text)
    assert check(text) is not None


@pytest.mark.parametrize("text", IDIOMS, ids=[t[:40] or "empty" for t in IDIOMS])
def test_everyday_idioms_are_not_disclosures(text: str) -> None:
    assert patterns_match(text) == ()
    assert check(text) is None


def test_categories_come_most_urgent_first() -> None:
    text = "he hit me and now the baby is floppy and wont wake"
    found = patterns_match(text)
    assert found[0] == "medical_emergency" and "domestic_abuse" in found
    assert list(found) == [c for c in CATEGORIES if c in found]


def test_the_second_layer_adds_what_patterns_miss_and_nothing_when_unsure() -> None:
    def scorer(text: str) -> dict[str, float]:
        if "package" in text:
            return {"risk": 0.9, "child_at_risk": 0.8}
        return {"risk": 0.2, "self_harm": 0.1}

    layered = Safeguarding(scorer)
    assert layered.assess("older lads pay my son to hold a package") == ("child_at_risk",)
    assert layered.assess("the clinic was quick") == ()
    assert layered.assess("i want it all to stop") == ("self_harm",)  # patterns alone suffice
    assert Safeguarding().assess("older lads pay my son to hold a package") == ()


def test_rasa_layer_reads_disclosure_intents_at_or_above_its_threshold() -> None:
    ranking = [
        {"name": "inform", "confidence": 0.95},
        {"name": "disclosure_child_at_risk", "confidence": 0.8},
        {"name": "disclosure_medical_emergency", "confidence": 0.81},
        {"name": "disclosure_self_harm", "confidence": 0.79},
        {"name": "disclosure_unknown_thing", "confidence": 0.99},
        {"name": None, "confidence": 0.99},
        {"name": "disclosure_domestic_abuse", "confidence": "0.99"},
    ]
    assert rasa_categories(ranking, threshold=0.8) == ("medical_emergency", "child_at_risk")
    assert rasa_categories(ranking, threshold=0.5) == (
        "medical_emergency",
        "self_harm",
        "child_at_risk",
    )
    assert rasa_categories(ranking) == ()  # the shipped cut, 0.95, is above all of these
    assert rasa_categories([{"name": "disclosure_self_harm", "confidence": 0.95}]) == ("self_harm",)
    assert rasa_categories([]) == ()


def test_rasa_training_data_has_every_category_redacted_and_no_text_twice() -> None:
    import yaml

    from bot.insight import _rasa_examples, rasa_disclosure_nlu

    data = yaml.safe_load(rasa_disclosure_nlu())
    texts: dict[str, list[str]] = {
        block["intent"]: [line[2:] for line in block["examples"].splitlines()]
        for block in data["nlu"]
    }
    assert set(texts) == {*(f"disclosure_{c}" for c in CATEGORIES), "inform"}
    assert all(len(examples) >= 100 for examples in texts.values())
    seen = [t.casefold() for examples in texts.values() for t in examples]
    assert len(seen) == len(set(seen))
    assert not set(seen) & {t.casefold() for t in _rasa_examples()}
    # Rasa sees redacted text, so it learns from redacted text (placeholders, no entity syntax)
    flat = " ".join(t for examples in texts.values() for t in examples)
    assert "[CHILD_1]" in flat or "[PERSON_1]" in flat
    assert "](" not in flat
