"""Synthetic, already-redacted conversations for the staff workspace's tests and screenshots.

Written straight to the database, as the pipeline would have stored them: parents on three
channels and two languages, mums, dads and a grandparent, at all hours (many outside Mon–Fri 9–5),
answers coded to themes with a sentiment, one conversation abandoned part-way, and safeguarding
alerts. No real person: no names at all, only placeholders.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Config
from bot.staff import accounts
from bot.vault import Vault
from storage.models import (
    Answer,
    Contact,
    Conversation,
    Message,
    Participant,
    SafeguardingAlert,
)
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.harness import free_port, make_config

NOW = datetime(2026, 3, 12, 12, 0, tzinfo=UTC)  # a Thursday noon
PASSWORD = "synthetic-staff-password-1"  # every seeded account's password
USERS = {"admin": "lead@example.nhs.uk", "analyst": "analyst@example.nhs.uk",
         "safeguarding": "safeguarding@example.nhs.uk"}  # fmt: skip

# (days before now, hour, channel, language, who, status, answers: question -> (text, themes, sentiment))
_CONVERSATIONS = [
    (
        1,
        22,
        "telegram",
        "en",
        "dad",
        "completed",
        {
            "went_well": (
                "the hv came to the house after work hours, that helped",
                ["timely_support"],
                "positive",
            ),
            "could_be_better": (
                "waited 3 weeks for a call back about [CHILD_1]'s weight",
                ["timely_support"],
                "negative",
            ),
        },
    ),
    (
        2,
        10,
        "sms",
        "en",
        "mum",
        "completed",
        {
            "went_well": (
                "she listened to me as his mum",
                ["communication_parent_as_expert"],
                "positive",
            ),
            "information": (
                "the gp and the hv told us different things about weaning",
                ["consistency_of_information"],
                "negative",
            ),
        },
    ),
    (
        2,
        7,
        "whatsapp",
        "pl",
        "mum",
        "completed",
        {
            "could_be_better": (
                "didn't know who to ring at the weekend",
                ["signposting", "clarity_about_the_system"],
                "negative",
            )
        },
    ),
    (
        3,
        20,
        "telegram",
        "en",
        "grandparent",
        "completed",
        {
            "went_well": ("clinic was lovely", [], "positive"),
            "listened": (
                "nobody passed the notes on to the nursery",
                ["coordination_of_services"],
                "negative",
            ),
        },
    ),
    (
        4,
        13,
        "sms",
        "en",
        "mum",
        "paused",
        {"went_well": ("quick appointment", ["timely_support"], "positive")},
    ),
    (
        5,
        23,
        "telegram",
        "en",
        "dad",
        "completed",
        {
            "could_be_better": (
                "the baby clinic near us closed",
                ["consistency_of_provision"],
                "mixed",
            )
        },
    ),
    (
        6,
        15,
        "whatsapp",
        "en",
        "mum",
        "completed",
        {"went_well": ("all good thanks", [], "neutral")},
    ),
    (
        8,
        21,
        "sms",
        "en",
        "other_carer",
        "completed",
        {"information": ("leaflet made it clear where to go", ["signposting"], "positive")},
    ),
]


async def seed(
    sessions: async_sessionmaker[AsyncSession], now: datetime, vault: Vault
) -> dict[str, object]:
    """Seed the conversations, alerts and staff accounts; returns ids the tests refer to. Each
    parent's (synthetic) chat id is sealed with ``vault``, the app's, as the pipeline does."""
    public_ids: list[str] = []
    alert_ids: list[int] = []
    async with sessions.begin() as session:
        for role, email in USERS.items():
            await accounts.add_user(session, email, role, now, PASSWORD)
        for n, (days, hour, channel, language, who, status, answers) in enumerate(_CONVERSATIONS):
            started = (now - timedelta(days=days)).replace(
                hour=hour, minute=5, second=0, microsecond=0
            )
            participant = Participant(
                pseudonym=uuid.uuid4().hex * 2, channel=channel, language=language,
                created_at=started, redaction_state={}, consent_research_at=started,
                consent_followup=True,
            )  # fmt: skip
            participant.contact = Contact(
                address_encrypted=vault.seal(str(900_000_001 + n)), created_at=started
            )
            session.add(participant)
            await session.flush()
            conversation = Conversation(
                public_id=f"seed{n:03d}{uuid.uuid4().hex[:9]}", participant_id=participant.id,
                flow_id="hcp_experience", flow_version=1, channel=channel, language=language,
                status=status, consented_at=started, started_at=started, updated_at=started,
                ended_at=started + timedelta(minutes=6) if status == "completed" else None,
                current_question="listened" if status == "paused" else None,
            )  # fmt: skip
            session.add(conversation)
            await session.flush()
            public_ids.append(conversation.public_id)
            at = started
            qa = [("who", who, [], None), *((q, t, th, s) for q, (t, th, s) in answers.items())]
            for question, text, themes, sentiment in qa:
                at += timedelta(minutes=1)
                session.add(Message(conversation_id=conversation.id, participant_id=participant.id,
                                    direction="out", kind="text", text=f"({question})",
                                    question_id=question, created_at=at))  # fmt: skip
                session.add(Message(conversation_id=conversation.id, participant_id=participant.id,
                                    direction="in", kind="text", text=text, question_id=question,
                                    created_at=at + timedelta(seconds=30)))  # fmt: skip
                session.add(
                    Answer(
                        conversation_id=conversation.id, participant_id=participant.id,
                        question_id=question, value=text, created_at=at,
                        themes=[[t, 0.8] for t in themes] if sentiment else None,
                        sentiment=sentiment, sentiment_confidence=0.8 if sentiment else None,
                    )
                )  # fmt: skip
            if n in (0, 3):
                alert = SafeguardingAlert(
                    participant_id=participant.id, conversation_id=conversation.id,
                    category="perinatal_mental_health" if n == 0 else "domestic_abuse",
                    categories=["perinatal_mental_health"] if n == 0 else ["domestic_abuse"],
                    redacted_text="some days i cant cope and [PERSON_1] says its my fault",
                    created_at=at,
                )  # fmt: skip
                session.add(alert)
                await session.flush()
                alert_ids.append(alert.id)
    return {"conversations": public_ids, "alerts": alert_ids}


def staff_app_config(tmp: Path, telegram_api: FakeTelegramAPI, **env: str) -> Config:
    return make_config(
        tmp,
        db_url=f"sqlite:///{tmp / f'staff-{free_port()}.db'}",
        port=free_port(),
        rasa_url="http://127.0.0.1:9",  # the staff pages never need Rasa
        rasa_token="-unused-token",
        telegram_api=telegram_api.base_url,
        pseudonym_key="test-pseudonym-key-staff-0123456",
        extra_env=env,
    )
