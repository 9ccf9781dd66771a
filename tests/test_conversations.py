"""Table-driven conversation cases (tests/flows/<flow>.cases.yaml) through Telegram and real Rasa."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import languages
from bot.config import load_config
from flows.spec import FlowSet, load_flows
from tests.conversation import CHANNELS, Parent, new_chat_id, stored
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.harness import ROOT, STAFF_CHAT_ID, RunningApp

CASES_DIR = Path(__file__).parent / "flows"


def _tables() -> list[dict[str, Any]]:
    return [
        yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in sorted(CASES_DIR.glob("*.cases.yaml"))
    ]


def _load_cases() -> list[Any]:
    """The English tables: replies are checked by a piece of their text."""
    return [
        pytest.param(data["flow"], case, id=f"{data['flow']}: {case['name']}")
        for data in _tables()
        if "phrases" not in data
        for case in data["cases"]
    ]


def _load_language_cases() -> list[Any]:
    """The tables written once for every language: one run per phrase book, case and channel."""
    return [
        pytest.param(data["flow"], book, case, channel, id=f"{book}-{channel}: {case['name']}")
        for data in _tables()
        if "phrases" in data
        for book in data["phrases"]
        for case in data["cases"]
        for channel in data["channels"]
    ]


def _flatten(steps: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for step in steps:
        out.extend(_flatten(step) if isinstance(step, list) else [step])
    return out


def test_every_flow_has_conversation_cases() -> None:
    config = load_config(ROOT / "config.yaml")
    for flow_id in load_flows(config.flows.dir).flows:
        path = CASES_DIR / f"{flow_id}.cases.yaml"
        assert path.exists(), f"flow {flow_id!r} has no conversation cases ({path})"
        assert yaml.safe_load(path.read_text())["cases"], f"{path} has no cases"


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(("flow_id", "case"), _load_cases())
async def test_conversation_case(
    app: RunningApp,
    telegram_api: FakeTelegramAPI,
    twilio_api: FakeTwilioAPI,
    channel: str,
    flow_id: str,
    case: dict[str, Any],
) -> None:
    assert flow_id == app.config.flows.default  # one flow so far; starting others comes later
    parent = Parent(app, telegram_api, new_chat_id(), channel=channel, twilio=twilio_api)
    await _run(app, parent, _flatten(case["steps"]), _contains)
    await _check_after(app, telegram_api, twilio_api, parent, case.get("expect", {}))


# Storage is the same in every language: the English tables cover both databases.
@pytest.mark.parametrize("app", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("flow_id", "book", "case", "channel"), _load_language_cases())
async def test_conversation_case_in_every_language(
    app: RunningApp,
    telegram_api: FakeTelegramAPI,
    twilio_api: FakeTwilioAPI,
    flow_id: str,
    book: str,
    case: dict[str, Any],
    channel: str,
) -> None:
    table = next(data for data in _tables() if data.get("flow") == flow_id and "phrases" in data)
    phrases = table["phrases"][book]
    language = phrases.get("language", book)
    flows = load_flows(app.config.flows.dir)
    steps: list[dict[str, Any]] = []
    for step in _flatten(case["steps"]):
        if step.get("start"):
            steps.extend(phrases["start"])
        elif "say" in step:
            steps.append({**step, "send": phrases[step["say"]]})
        else:
            steps.append(step)
    parent = Parent(app, telegram_api, new_chat_id(), channel=channel, twilio=twilio_api)

    def check(want: str, text: str) -> bool:
        return text.startswith(_bot_text(flows, flow_id, want, language))

    await _run(app, parent, steps, check)
    expect = {"participant": {"language": language}, **case.get("expect", {})}
    if "participant" in case.get("expect", {}):
        expect["participant"] = {"language": language, **case["expect"]["participant"]}
    await _check_after(app, telegram_api, twilio_api, parent, expect)


def _bot_text(flows: FlowSet, flow_id: str, key: str, language: str) -> str:
    """What a reply named in a language table says: `intro`, `q:went_well@en`, `m:help`..."""
    key, _, lang = key.partition("@")
    lang = lang or language
    flow = flows.flows[flow_id]
    if key == "intro":
        return flow.intro[lang]
    if key == "outro":
        return flow.outro[lang]
    if key == "menu":
        return languages.menu(tuple(code for code in languages.NAMES if code in flow.languages))
    if key.startswith("q:"):
        question = flow.question(key[2:])
        assert question is not None, key
        return question.text[lang]
    assert key.startswith("m:"), f"unknown reply {key!r}"
    return flows.messages.texts[key[2:]][lang].split("{")[0]  # up to any placeholder


def _contains(want: str, text: str) -> bool:
    return want.lower() in text.lower()


async def _run(
    app: RunningApp, parent: Parent, steps: list[dict[str, Any]], check: Callable[[str, str], bool]
) -> None:
    """Each step: send (or wait), then exactly the replies the step names, in order."""
    for number, step in enumerate(steps, 1):
        where = f"step {number} {step}"
        if "advance_hours" in step:
            app.clock.advance(hours=step["advance_hours"])
            continue
        before = len(parent.replies())
        if "send" in step:
            response = await parent.say(str(step["send"]))
        elif step.get("sticker"):
            response = await parent.sticker()
        elif step.get("photo"):
            response = await parent.photo()
        elif "send_long" in step:
            text = ("we waited a long time and nobody explained why " * 200)[: step["send_long"]]
            response = await parent.say(text)
        elif step.get("resend_last"):
            assert parent.last_update is not None
            response = await parent.post(parent.last_update)
        else:
            raise AssertionError(f"unknown step {step}")
        assert response.status_code == 200, where
        expected = step["replies"]
        got = await parent.settled_replies(before, len(expected))
        assert len(got) == len(expected), f"{where}: expected {len(expected)} replies, got {got}"
        for want, text in zip(expected, got, strict=True):
            assert check(want, text), f"{where}: {want!r} does not match {text!r}"


async def _check_after(
    app: RunningApp,
    telegram_api: FakeTelegramAPI,
    twilio_api: FakeTwilioAPI,
    parent: Parent,
    expect: dict[str, Any],
) -> None:
    """What must be stored afterwards, and what the staff chat heard."""
    await asyncio.sleep(0.1)
    _check_stored(await stored(app, parent.pseudonym), expect)
    if "staff_alerts" in expect:  # the safeguarding lead's chat heard about this parent
        staff = [
            m for m in telegram_api.sent
            if m["chat_id"] == STAFF_CHAT_ID and parent.pseudonym[:12] in m["text"]
        ]  # fmt: skip
        for _ in range(40):
            if len(staff) >= expect["staff_alerts"]:
                break
            await asyncio.sleep(0.05)
            staff = [
                m for m in telegram_api.sent
                if m["chat_id"] == STAFF_CHAT_ID and parent.pseudonym[:12] in m["text"]
            ]  # fmt: skip
        assert len(staff) == expect["staff_alerts"], staff
    assert not telegram_api.unexpected
    assert not twilio_api.unexpected


def _check_stored(actual: dict[str, Any], expect: dict[str, Any]) -> None:
    if expect.get("erased"):
        assert actual["participant"] is None, "participant should be erased"
        return
    participant = actual["participant"]
    assert participant is not None
    if "status" in expect:
        assert actual["status"] == expect["status"]
    if "conversations" in expect:
        assert actual["conversations"] == expect["conversations"]
    if "answers" in expect:
        if expect["answers"] == {}:
            assert actual["answers"] == {}
        for question, value in expect["answers"].items():
            assert actual["answers"].get(question) == value, (
                f"answer {question}: {actual['answers']}"
            )
    for question, length in expect.get("answer_lengths", {}).items():
        assert actual["answer_lengths"].get(question) == length
    for key in ("messages", "messages_in", "alerts", "alert_categories"):
        if key in expect:
            assert actual[key] == expect[key], f"{key}: {actual[key]}"
    for key, value in expect.get("participant", {}).items():
        if key == "opted_out":
            assert (participant.opted_out_at is not None) == value
        else:
            assert getattr(participant, key) == value, key
