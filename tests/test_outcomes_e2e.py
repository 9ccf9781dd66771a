"""'You said, we did' through the whole app: parents finish the real flow (Telegram and SMS through
the real SDKs against fakes, the real Rasa), staff schedule an outcome, and it reaches the right
parents at the right time, across restarts, with quiet hours and STOP respected.

Time is the harness's injected clock, moved by the tests; the CLI test runs in real time.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot import outcomes
from bot.config import Config
from storage.models import OutboxItem, OutcomeReply
from tests.conversation import Parent, new_chat_id
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.harness import ROOT, Clock, RunningApp, config_env, free_port, make_config

LONDON = ZoneInfo("Europe/London")
NEWS = "You told us the wait for an appointment was too long. We now run evening clinics."
EARLY = "You said, we did: the baby clinic now opens on Saturday mornings."


async def finish_flow(parent: Parent, *, followup: str, better: str = "nothing really") -> None:
    """Answer every question of the real flow, ending with the follow-up consent."""
    answers = ["hi", "yes", "1", "she was kind", better, "yes the leaflet was clear",
               "yes she listened", "1", "my sister told me", followup]  # fmt: skip
    for text in answers:
        before = len(parent.replies())
        assert (await parent.say(text)).status_code == 200
        await parent.expect_replies(before, 1)
    assert "thank" in parent.replies()[-1].lower()


@pytest.fixture
def env_for(
    session_dir: Path, rasa_server: str, rasa_token: str, telegram_api: FakeTelegramAPI,
    twilio_api: FakeTwilioAPI, actions_host: RunningApp,
):  # type: ignore[no-untyped-def]  # fmt: skip
    """Build one app's environment: its own SQLite database, the shared fakes and Rasa (whose
    action endpoint is served by the session's ``actions_host``)."""
    tmp = session_dir / f"outcomes-{free_port()}"
    tmp.mkdir()

    def build(**extra: str) -> dict[str, str]:
        return config_env(
            tmp,
            db_url=f"sqlite:///{tmp / 'pv.db'}",
            port=free_port(),
            rasa_url=rasa_server,
            rasa_token=rasa_token,
            telegram_api=telegram_api.base_url,
            pseudonym_key="test-pseudonym-key-outcomes-0123",
            twilio_api=twilio_api.base_url,
            extra_env=extra,
        )

    return tmp, build


def config_from(tmp: Path, env: dict[str, str]) -> Config:
    return make_config(
        tmp,
        db_url=env["PARENTVOICE__DATABASE__URL"],
        port=int(env["PARENTVOICE__SERVER__PORT"]),
        rasa_url=env["PARENTVOICE__RASA__URL"],
        rasa_token=env["PARENTVOICE__RASA__TOKEN"],
        telegram_api=env["PARENTVOICE__CHANNELS__TELEGRAM__API_BASE_URL"],
        pseudonym_key=env["PARENTVOICE__SECURITY__PSEUDONYM_KEY"],
        twilio_api=env["PARENTVOICE__CHANNELS__TWILIO__API_BASE_URL"],
        extra_env={k: v for k, v in env.items() if k.startswith("PARENTVOICE__SCHEDULE__")},
    )


async def until(condition, seconds: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


@pytest.fixture
async def running() -> AsyncIterator[list[RunningApp]]:
    """Apps a test started; stopped at the end whatever happens."""
    apps: list[RunningApp] = []
    yield apps
    for app in apps:
        if app._task is not None and not app._task.done():
            await app.stop()


async def test_outcomes_arrive_on_time_across_two_restarts_quiet_hours_and_stop(
    env_for, telegram_api: FakeTelegramAPI, twilio_api: FakeTwilioAPI, running: list[RunningApp]
) -> None:  # type: ignore[no-untyped-def]
    tmp, build = env_for
    config = config_from(tmp, build())
    clock = Clock(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))  # Tuesday noon; London is on GMT

    async def start() -> RunningApp:
        app = RunningApp(config, clock)
        running.append(app)
        await app.start()
        return app

    app = await start()
    keen = Parent(app, telegram_api, new_chat_id())
    texter = Parent(app, telegram_api, 0, channel="sms", twilio=twilio_api)
    declined = Parent(app, telegram_api, new_chat_id())
    await finish_flow(keen, followup="yes", better="the wait for an appointment was far too long")
    await finish_flow(texter, followup="yes")
    await finish_flow(declined, followup="no")

    sessions = app.runtime.pipeline._sessions
    async with sessions.begin() as session:
        tomorrow_nine, _ = await outcomes.create(
            session, flow_set=app.runtime.actions.flow_set, flow_id="hcp_experience",
            texts={"en": NEWS}, send_at=datetime(2026, 3, 11, 9, 0, tzinfo=LONDON),
            quiet=config.schedule.quiet, now=clock(), default_language="en",
        )  # fmt: skip
        late_evening, _ = await outcomes.create(
            session, flow_set=app.runtime.actions.flow_set, flow_id="hcp_experience",
            texts={"en": EARLY}, send_at=datetime(2026, 3, 10, 22, 30, tzinfo=LONDON),
            quiet=config.schedule.quiet, now=clock(), default_language="en",
        )  # fmt: skip
    assert late_evening.due_at == datetime(2026, 3, 11, 8, 0, tzinfo=UTC)
    await app.runtime.tick()
    await app.stop()

    # Restart 1, that evening. The SMS parent texts STOP in between.
    clock.advance(hours=8)  # 20:00
    app = await start()
    texter.app = app
    await texter.say("STOP")
    await until(lambda: any("stop" in r.lower() for r in texter.replies()[-1:]))
    await app.runtime.tick()
    await app.stop()

    # Restart 2, in the night; nothing goes out before its time.
    clock.advance(hours=11, minutes=59)  # 07:59 on Wednesday
    app = await start()
    keen.app = texter.app = declined.app = app
    counts = [len(p.replies()) for p in (keen, texter, declined)]
    await app.runtime.tick()
    await asyncio.sleep(0.5)
    assert [len(p.replies()) for p in (keen, texter, declined)] == counts

    clock.advance(minutes=1)  # 08:00: the 22:30 one, held back by quiet hours
    await app.runtime.tick()
    await until(lambda: EARLY in keen.replies())
    clock.advance(hours=1)  # 09:00
    await app.runtime.tick()
    await until(lambda: NEWS in keen.replies())
    await asyncio.sleep(0.5)
    await app.runtime.tick()  # a further pass sends nothing twice
    await asyncio.sleep(0.5)

    assert keen.replies()[counts[0] :] == [EARLY, NEWS]
    assert texter.replies()[counts[1] :] == []  # said STOP in between
    assert declined.replies()[counts[2] :] == []  # said no to follow-up
    async with app.runtime.pipeline._sessions() as session:
        sent = {
            r.text: r.sent_at
            for r in await session.scalars(select(OutboxItem).where(OutboxItem.kind == "outcome"))
        }
        early_report = await outcomes.report(session, late_evening.id)
    assert set(sent) == {EARLY, NEWS}
    early_at, news_at = sent[EARLY], sent[NEWS]
    assert early_at is not None and news_at is not None
    assert (
        timedelta(0)
        <= early_at.replace(tzinfo=UTC) - datetime(2026, 3, 11, 8, 0, tzinfo=UTC)
        < timedelta(seconds=30)
    )
    assert (
        timedelta(0)
        <= news_at.replace(tzinfo=UTC) - datetime(2026, 3, 11, 9, 0, tzinfo=UTC)
        < timedelta(seconds=30)
    )
    assert (early_report.recipients, early_report.sent) == (1, 1)


async def test_cli_outcome_a_few_seconds_ahead_reaches_the_parent_who_can_reply(
    env_for, telegram_api: FakeTelegramAPI, running: list[RunningApp]
) -> None:  # type: ignore[no-untyped-def]
    tmp, build = env_for
    # Real time here, whatever the hour CI runs at: no quiet hours, and a quick timer pass.
    env = build(PARENTVOICE__SCHEDULE__QUIET_HOURS="", PARENTVOICE__SCHEDULE__POLL_SECONDS="0.5")
    app = RunningApp(config_from(tmp, env), Clock(datetime.now(UTC)))
    running.append(app)
    await app.start()
    parent = Parent(app, telegram_api, new_chat_id())
    await finish_flow(parent, followup="yes", better="the wait for an appointment was far too long")
    before = len(parent.replies())

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", *args],
            env=os.environ | env | {"PARENTVOICE_CONFIG": str(ROOT / "config.yaml")},
            cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    send_at = (datetime.now(UTC) + timedelta(seconds=4)).isoformat()
    created = await asyncio.to_thread(
        cli, "outcomes", "create", "--flow", "hcp_experience", "--message", NEWS,
        "--send-at", send_at, "--themes", "timely_support",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    assert "outcome 1 scheduled" in created.stdout and "would reach 1 parent" in created.stdout
    assert "1 SMS segment(s), GSM-7" in created.stdout
    await until(lambda: NEWS in parent.replies(), seconds=20)
    assert parent.replies()[before:] == [NEWS]

    # Their answer is feedback on the outcome, thanked once, and no new survey starts.
    await parent.say("that's brilliant, thank you for listening")
    await until(lambda: len(parent.replies()) == before + 2)
    assert "passed it on to the team" in parent.replies()[-1]
    async with app.runtime.pipeline._sessions() as session:
        replies = list(await session.scalars(select(OutcomeReply)))
    assert [r.text for r in replies] == ["that's brilliant, thank you for listening"]
    assert replies[0].sentiment == "positive"

    shown = await asyncio.to_thread(cli, "outcomes", "show", "1")
    assert shown.returncode == 0, shown.stderr
    assert "recipients 1, sent 1" in shown.stdout and "replies 1 from 1 parent" in shown.stdout
    listed = await asyncio.to_thread(cli, "outcomes", "list")
    assert "enqueued" in listed.stdout and "timely_support" in listed.stdout
    # Mistakes are explained, exit 2, and change nothing.
    for args, message in [
        (("cancel", "1"), "only a scheduled one can be cancelled"),
        (("show", "42"), "no outcome 42"),
        (("create", "--flow", "hcp_experience", "--message", "hi", "--send-at", "tomorrow"),
         "--send-at must be an ISO 8601 time"),
        (("create", "--flow", "hcp_experience", "--message", "hi", "--send-at", send_at,
          "--themes", "waiting"), "unknown theme waiting"),
    ]:  # fmt: skip
        result = await asyncio.to_thread(cli, "outcomes", *args)
        assert result.returncode == 2 and message in result.stderr, (args, result.stderr)


async def test_one_gentle_reminder_after_twenty_hours_outside_quiet_hours(
    env_for, telegram_api: FakeTelegramAPI, running: list[RunningApp]
) -> None:  # type: ignore[no-untyped-def]
    tmp, build = env_for
    clock = Clock(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    app = RunningApp(config_from(tmp, build()), clock)
    running.append(app)
    await app.start()
    quiet_one, paused_one = (Parent(app, telegram_api, new_chat_id()) for _ in range(2))
    for parent, last in ((quiet_one, "1"), (paused_one, "pause")):
        for text in ("hi", "yes", last):
            before = len(parent.replies())
            await parent.say(text)
            await parent.expect_replies(before, 1)
    assert "what went well" in quiet_one.replies()[-1].lower()  # and then silence
    counts = [len(quiet_one.replies()), len(paused_one.replies())]

    clock.advance(hours=19)  # 07:00: not yet 20 hours, and inside quiet hours
    await app.runtime.tick()
    await asyncio.sleep(0.5)
    assert [len(quiet_one.replies()), len(paused_one.replies())] == counts
    clock.advance(hours=1)  # 08:00, 20 hours on
    await app.runtime.tick()
    await until(
        lambda: len(quiet_one.replies()) > counts[0] and len(paused_one.replies()) > counts[1]
    )
    reminder = quiet_one.replies()[-1]
    assert "part-way through" in reminder and "What went well" in reminder  # the question again
    assert "part-way through" in paused_one.replies()[-1]
    assert "What went well" not in paused_one.replies()[-1]  # "carry on" re-asks it for them
    clock.advance(hours=30)
    await app.runtime.tick()
    await asyncio.sleep(0.5)
    assert [len(quiet_one.replies()), len(paused_one.replies())] == [c + 1 for c in counts]

    # Their reply answers the question they were reminded of, and the chat carries on.
    before = len(quiet_one.replies())
    await quiet_one.say("the health visitor came quickly")
    assert "could have been better" in (await quiet_one.expect_replies(before, 1))[0].lower()


async def test_whatsapp_outside_the_24_hour_window_gets_the_outcome_template(
    env_for, telegram_api: FakeTelegramAPI, twilio_api: FakeTwilioAPI, running: list[RunningApp]
) -> None:  # type: ignore[no-untyped-def]
    tmp, build = env_for
    config = config_from(tmp, build())
    clock = Clock(datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    app = RunningApp(config, clock)
    running.append(app)
    await app.start()
    parent = Parent(app, telegram_api, 0, channel="whatsapp", twilio=twilio_api)
    await finish_flow(parent, followup="yes")
    clock.advance(days=2)  # Thursday noon: their last message was 48 hours ago
    async with app.runtime.pipeline._sessions.begin() as session:
        outcome, _ = await outcomes.create(
            session, flow_set=app.runtime.actions.flow_set, flow_id="hcp_experience",
            texts={"en": NEWS}, send_at=clock() + timedelta(minutes=5),
            quiet=config.schedule.quiet, now=clock(), default_language="en",
        )  # fmt: skip
    await app.runtime.tick()
    clock.advance(minutes=5)
    await app.runtime.tick()
    to = f"whatsapp:{parent.phone}"
    await until(lambda: any(m.get("To") == to and m.get("ContentSid") for m in twilio_api.sent))
    sent = [m for m in twilio_api.sent if m.get("To") == to and m.get("ContentSid")]
    assert len(sent) == 1 and json.loads(sent[0]["ContentVariables"]) == {"1": NEWS}
    for _ in range(100):  # the fake has it; the sender records "sent" just after
        async with app.runtime.pipeline._sessions() as session:
            report = await outcomes.report(session, outcome.id)
        if report.sent == 1:
            break
        await asyncio.sleep(0.05)
    assert (report.recipients, report.sent) == (1, 1)
