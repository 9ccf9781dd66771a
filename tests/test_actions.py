"""The action endpoint's decisions, as pure functions of a tracker (no Rasa needed)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.actions import ActionNotFound, Actions
from flows.spec import load_flows
from tests.harness import ROOT

FLOWS = load_flows(ROOT / "flows")
ACTIONS = Actions(FLOWS, "hcp_experience")
SLOTS = [f"hcp_experience__{q.id}" for q in FLOWS.flows["hcp_experience"].questions]


def tracker(
    intent: str = "inform",
    *,
    filled: int = 0,
    loop: bool = True,
    pending: bool = False,
    turn_slots: dict[str, Any] | None = None,
    entities: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    slots: dict[str, Any] = {
        "pv_flow": "hcp_experience",
        "pv_language": "en",
        "pv_delete_pending": pending,
    }
    values = ["yes", "health_visiting", "good", "ok", "ok", "ok", "mum", "skipped", "yes"]
    for index, slot in enumerate(SLOTS):
        slots[slot] = values[index] if index < filled else None
    events: list[dict[str, Any]] = [{"event": "user", "text": "x"}]
    for name, value in (turn_slots or {}).items():
        events.append({"event": "slot", "name": name, "value": value})
    return {
        "slots": slots,
        "latest_message": {"intent": {"name": intent}, "entities": entities or []},
        "active_loop": {"name": "hcp_experience_form"} if loop else {},
        "events": events,
    }


def signals(result: dict[str, Any]) -> list[str]:
    return [r["custom"]["pv"] for r in result["responses"] if "custom" in r]


def said(result: dict[str, Any]) -> list[str]:
    return [r["response"] for r in result["responses"] if "response" in r]


def test_validation_turns_numbers_into_option_ids_and_reports_the_answer() -> None:
    result = ACTIONS.run(
        "validate_hcp_experience_form", tracker(filled=1, turn_slots={SLOTS[1]: " 2 "})
    )
    assert {"event": "slot", "name": SLOTS[1], "value": "baby_clinic", "timestamp": None} in result[
        "events"
    ]
    assert result["responses"] == [
        {
            "custom": {
                "pv": "answer",
                "flow": "hcp_experience",
                "question": "service",
                "value": "baby_clinic",
            }
        }
    ]


def test_validation_rejects_kindly_and_reasks() -> None:
    result = ACTIONS.run(
        "validate_hcp_experience_form", tracker(filled=1, turn_slots={SLOTS[1]: "9"})
    )
    assert {"event": "slot", "name": SLOTS[1], "value": None, "timestamp": None} in result["events"]
    assert said(result) == ["utter_pv_invalid_choice"]


def test_saying_no_to_consent_ends_the_form() -> None:
    result = ACTIONS.run(
        "validate_hcp_experience_form", tracker(turn_slots={SLOTS[0]: "no thanks"})
    )
    assert {"event": "slot", "name": "requested_slot", "value": None, "timestamp": None} in result[
        "events"
    ]
    submit = ACTIONS.run(
        "action_pv_submit",
        tracker(filled=0, loop=False) | {"slots": tracker()["slots"] | {SLOTS[0]: "no"}},
    )
    assert signals(submit) == ["declined"]


@pytest.mark.parametrize(
    ("intent", "kwargs", "say", "signal"),
    [
        ("help", {"filled": 3}, ["utter_pv_help"], []),
        ("pause", {"filled": 3}, ["utter_pv_paused"], ["paused"]),
        ("inform", {"filled": 3, "loop": False}, ["utter_pv_resumed"], ["resumed"]),
        ("stop", {"filled": 3}, ["utter_pv_stopped"], ["stopped"]),
        ("delete_data", {"filled": 3}, ["utter_pv_confirm_delete"], ["erase_asked"]),
        ("affirm", {"filled": 3, "loop": False, "pending": True}, ["utter_pv_deleted"], ["erase"]),
        (
            "deny",
            {"filled": 3, "loop": False, "pending": True},
            ["utter_pv_delete_cancelled"],
            ["erase_cancelled", "resumed"],
        ),
        (
            "inform",
            {"filled": 3, "loop": False, "pending": True},
            ["utter_pv_confirm_delete"],
            ["erase_asked"],
        ),
        ("inform", {"filled": 9, "loop": False}, ["utter_pv_finished"], []),
        ("pause", {"filled": 9, "loop": False}, ["utter_pv_finished"], []),
        ("pv_media", {"filled": 3}, ["utter_pv_media"], []),
    ],
)
def test_control_decisions(
    intent: str, kwargs: dict[str, Any], say: list[str], signal: list[str]
) -> None:
    result = ACTIONS.run("action_pv_control", tracker(intent, **kwargs))
    assert said(result) == say
    assert signals(result) == signal


def test_start_resets_and_opens_the_requested_flow() -> None:
    result = ACTIONS.run(
        "action_pv_control",
        tracker("pv_start", filled=4, entities=[{"entity": "flow", "value": "hcp_experience"}]),
    )
    kinds = [e["event"] for e in result["events"]]
    assert kinds == ["active_loop", "reset_slots", "slot", "slot", "followup"]
    assert result["events"][-1]["name"] == "hcp_experience_form"
    assert signals(result) == ["started"]


def test_unknown_action_is_reported() -> None:
    with pytest.raises(ActionNotFound):
        ACTIONS.run("action_launch_rockets", tracker())


def _with_ranking(result_tracker: dict[str, Any], ranking: list[dict[str, Any]]) -> dict[str, Any]:
    result_tracker["latest_message"]["intent_ranking"] = ranking
    return result_tracker


@pytest.mark.parametrize(
    ("action", "state"),
    [
        ("validate_hcp_experience_form", {"filled": 7, "turn_slots": {SLOTS[7]: "x"}}),
        ("action_pv_control", {"loop": False, "filled": 9}),
    ],
)
def test_a_disclosure_intent_rasa_is_sure_of_comes_first_as_a_risk_signal(
    action: str, state: dict[str, Any]
) -> None:
    ranking = [
        {"name": "disclosure_self_harm", "confidence": 0.97},
        {"name": "disclosure_child_at_risk", "confidence": 0.95},
        {"name": "inform", "confidence": 0.01},
    ]
    result = ACTIONS.run(action, _with_ranking(tracker("disclosure_self_harm", **state), ranking))
    first = result["responses"][0]["custom"]
    # most urgent first, whatever Rasa's order
    assert first == {"pv": "risk", "categories": ["self_harm", "child_at_risk"]}
    assert signals(result).count("risk") == 1


def test_no_risk_signal_below_the_threshold_or_for_other_intents() -> None:
    ranking = [
        {"name": "inform", "confidence": 0.06},
        {"name": "disclosure_domestic_abuse", "confidence": 0.94},
        {"name": "stop", "confidence": 0.99},  # not a disclosure, however sure
    ]
    result = ACTIONS.run(
        "validate_hcp_experience_form",
        _with_ranking(tracker(filled=7, turn_slots={SLOTS[7]: "x"}), ranking),
    )
    assert "risk" not in signals(result)
    # a malformed ranking is ignored, never an error
    broken = tracker(filled=7, turn_slots={SLOTS[7]: "x"})
    broken["latest_message"]["intent_ranking"] = "not a list"
    assert "risk" not in signals(ACTIONS.run("validate_hcp_experience_form", broken))


def test_the_submit_action_never_repeats_the_risk_signal() -> None:
    ranking = [{"name": "disclosure_self_harm", "confidence": 0.99}]
    result = ACTIONS.run("action_pv_submit", _with_ranking(tracker(filled=9), ranking))
    assert "risk" not in signals(result)


@pytest.mark.parametrize("lang", ["en", "pl", "ur"])
def test_starting_again_speaks_the_conversation_language_at_once(lang: str) -> None:
    """The texts are written out, not Rasa responses, which would use the old language slot."""
    state = tracker("start_again", filled=3)
    state["slots"]["pv_language"] = lang
    result = ACTIONS.run("action_pv_control", state)
    texts = [r["text"] for r in result["responses"] if "text" in r]
    flow = FLOWS.flows["hcp_experience"]
    assert texts == [FLOWS.messages.text("restarted", lang), flow.intro[lang]]
    assert signals(result) == ["restarted"]
    start = ACTIONS.run(
        "action_pv_control",
        tracker("pv_start", entities=[{"entity": "language", "value": lang}]),
    )
    assert [r["text"] for r in start["responses"] if "text" in r] == [flow.intro[lang]]
