"""Languages through the whole app (Telegram and SMS, real SDKs against fakes, the real Rasa):
a first message in Polish starts in Polish; "language" in any language gets the numbered menu at
any point, and a number switches the chat, re-asking the current question; yes and no work in
the parent's language; safeguarding help and the reply to a sticker come in their language."""

from __future__ import annotations

import pytest

from flows.spec import load_flows
from tests.conversation import Parent, new_chat_id, stored
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.harness import ROOT, RunningApp

FLOWS = load_flows(ROOT / "flows")
FLOW = FLOWS.flows["hcp_experience"]


def question(question_id: str, lang: str) -> str:
    found = FLOW.question(question_id)
    assert found is not None
    return found.text[lang]


def message(key: str, lang: str) -> str:
    return FLOWS.messages.texts[key][lang]


async def say(parent: Parent, text: str, replies: int) -> list[str]:
    before = len(parent.replies())
    assert (await parent.say(text)).status_code == 200
    got = await parent.expect_replies(before, replies)
    assert len(got) == replies, got
    return got


@pytest.mark.parametrize("channel", ["sms", "telegram"])
async def test_polish_first_message_then_switching_to_english_and_back_by_number(
    app: RunningApp, telegram_api: FakeTelegramAPI, twilio_api: FakeTwilioAPI, channel: str
) -> None:
    parent = Parent(app, telegram_api, new_chat_id(), channel=channel, twilio=twilio_api)
    got = await say(parent, "Dzień dobry, chcę coś powiedzieć", 2)
    assert got[0] == FLOW.intro["pl"] and got[1].startswith(question("consent", "pl"))
    assert (await say(parent, "tak", 1))[0].startswith(question("service", "pl"))
    assert (await say(parent, "1", 1))[0] == question("went_well", "pl")

    menu = (await say(parent, "język", 1))[0]
    assert "1. English" in menu and "2. Polski" in menu and "6. العربية" in menu
    assert (await say(parent, "1", 1))[0] == question("went_well", "en")  # asked again, in English
    assert (await say(parent, "she was kind", 1))[0] == question("could_be_better", "en")
    await say(parent, "LANGUAGE", 1)
    assert (await say(parent, "2", 1))[0] == question("could_be_better", "pl")
    assert (await say(parent, "dlugo czekalismy na wizyte", 1))[0].startswith(
        question("information", "pl")
    )
    seen = await stored(app, parent.pseudonym)
    assert seen["participant"].language == "pl"
    # the replies to the menu answered nothing: the two free-text answers are what was kept
    assert seen["answers"]["went_well"] == "she was kind"
    assert seen["answers"]["could_be_better"] == "dlugo czekalismy na wizyte"


async def test_urdu_by_menu_yes_in_urdu_a_sticker_and_a_disclosure_in_urdu(
    app: RunningApp, telegram_api: FakeTelegramAPI, twilio_api: FakeTwilioAPI
) -> None:
    parent = Parent(app, telegram_api, 0, channel="sms", twilio=twilio_api)
    got = await say(parent, "hi", 3)  # too short to tell: the menu, and the welcome in English
    assert got[0].startswith("Choose your language") and got[1] == FLOW.intro["en"]
    await say(parent, "زبان", 1)
    got = await say(parent, "۳", 2)  # Urdu digit 3: welcomed again, in Urdu
    assert got[0] == FLOW.intro["ur"] and got[1].startswith(question("consent", "ur"))
    assert (await say(parent, "ہاں", 1))[0].startswith(question("service", "ur"))
    assert (await say(parent, "٢", 1))[0] == question("went_well", "ur")  # Arabic-Indic 2
    before = len(parent.replies())
    assert (await parent.sticker()).status_code == 200
    got = await parent.expect_replies(before, 2)  # kindly, in Urdu, then the question again
    assert got[0] == message("media", "ur") and got[1] == question("went_well", "ur")
    help_first = await say(parent, "میرا بچہ سانس نہیں لے رہا", 2)
    signposting = message("safeguarding_medical_emergency", "ur").split("{")[0]
    assert help_first[0].startswith(signposting) and "999" in help_first[0]
    assert help_first[1] == question("could_be_better", "ur")  # the chat goes on


@pytest.mark.parametrize(
    ("first", "lang"),
    [
        ("আমার বাচ্চা শ্বাস নিচ্ছে না", "bn"),
        ("طفلي لا يتنفس، ماذا أفعل الآن", "ar"),
        ("Copilul meu nu mai respiră", "ro"),
    ],
)
async def test_a_first_message_that_is_a_disclosure_gets_help_in_its_language(
    app: RunningApp, telegram_api: FakeTelegramAPI, twilio_api: FakeTwilioAPI, first: str, lang: str
) -> None:
    parent = Parent(app, telegram_api, 0, channel="sms", twilio=twilio_api)
    got = await say(parent, first, 3)
    assert got[0].startswith(message("safeguarding_medical_emergency", lang).split("{")[0])
    assert got[1] == FLOW.intro[lang]


async def test_an_english_parent_asks_in_polish_and_picks_by_name(
    app: RunningApp, telegram_api: FakeTelegramAPI, twilio_api: FakeTwilioAPI
) -> None:
    parent = Parent(app, telegram_api, 0, channel="sms", twilio=twilio_api)
    await say(parent, "hello", 3)
    assert "2. Polski" in (await say(parent, "zmien jezyk", 1))[0]
    got = await say(parent, "Polski", 2)
    assert got[0] == FLOW.intro["pl"] and got[1].startswith(question("consent", "pl"))
    assert (await say(parent, "nie", 1))[0] == message("declined", "pl")
