"""SQLAlchemy 2 models. Nothing here holds raw personal data except ``Contact.address_encrypted``.

Every row about a participant hangs off ``participants`` with ``ON DELETE CASCADE``, so erasing a
participant is one delete (see ``storage.erasure``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    Unicode,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class Participant(Base):
    """One parent or carer on one channel, known only by a keyed pseudonym."""

    __tablename__ = "participants"

    id: Mapped[int] = mapped_column(primary_key=True)
    pseudonym: Mapped[str] = mapped_column(
        String(64), unique=True
    )  # HMAC-SHA256 hex; Rasa sender id
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    language_chosen_at: Mapped[datetime | None]  # picked from the menu, or told by their app
    language_menu_at: Mapped[datetime | None]  # sent the language menu; their next reply picks
    created_at: Mapped[datetime]
    last_inbound_at: Mapped[datetime | None]
    consent_research_at: Mapped[datetime | None]  # agreed to take part (first question of a flow)
    consent_followup: Mapped[bool | None]  # agreed to be messaged later about what changed
    consent_followup_at: Mapped[datetime | None]
    opted_out_at: Mapped[datetime | None]  # said STOP: no more messages, ever
    unreachable_at: Mapped[datetime | None]  # the channel refused for good (blocked, bad number)
    erase_asked_at: Mapped[datetime | None]  # said "delete my data"; we await their yes or no
    erase_requested_at: Mapped[datetime | None]  # confirmed "delete my data"; row goes once told
    # The app process answering this participant's messages, and until when (a lease): one at a
    # time across processes, so their messages are answered in order (storage/participants.py).
    processing_by: Mapped[str | None] = mapped_column(String(128))
    processing_until: Mapped[datetime | None]
    # Keyed digests only (bot.redact.RedactionState): placeholders stay consistent for this person.
    redaction_state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    contact: Mapped[Contact | None] = relationship(
        back_populates="participant", cascade="all, delete-orphan", passive_deletes=True
    )


class Contact(Base):
    """The contact vault: the raw channel address, Fernet-encrypted, read only to send."""

    __tablename__ = "contacts"

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True
    )
    address_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]

    participant: Mapped[Participant] = relationship(back_populates="contact")


class Conversation(Base):
    """One run of one flow by one participant."""

    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_participant_status", "participant_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(16), unique=True)  # what exports show
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    flow_id: Mapped[str] = mapped_column(String(64))
    flow_version: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    # active, paused, completed, stopped, declined, restarted, expired
    status: Mapped[str] = mapped_column(String(16))
    current_question: Mapped[str | None] = mapped_column(String(64))
    consented_at: Mapped[datetime | None]  # agreed to take part; only consented ones are exported
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]  # the one gentle reminder, if it was sent


class Message(Base):
    """One message in a conversation, redacted. ``question_id`` is the question it answered or asked."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation_created", "conversation_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(3))  # "in" or "out"
    kind: Mapped[str] = mapped_column(String(16))  # text, media
    text: Mapped[str] = mapped_column(Text)
    question_id: Mapped[str | None] = mapped_column(String(64))
    platform_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime]


class Answer(Base):
    """The value a participant gave to one question (free text is redacted; choices are option ids)."""

    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("conversation_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    question_id: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    # Free-text answers, coded by bot.insight: [[theme, confidence], ...] and a sentiment.
    themes: Mapped[list[list[Any]] | None] = mapped_column(JSON)
    sentiment: Mapped[str | None] = mapped_column(String(16))
    sentiment_confidence: Mapped[float | None] = mapped_column(Float)


class InboxItem(Base):
    """Every inbound delivery, recorded before it is acknowledged, so replays are ignored and a crash
    mid-processing is recovered. ``text`` is already redacted."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("channel", "platform_id"),
        Index("ix_inbox_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    platform_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    safeguarding: Mapped[str | None] = mapped_column(String(32))  # category detected, if any
    status: Mapped[str] = mapped_column(String(16))  # pending, done, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime]
    processed_at: Mapped[datetime | None]
    # When the parent was told this message is safe and waiting (at most once per wait).
    held_notice_at: Mapped[datetime | None]


class OutboxItem(Base):
    """A message to deliver, written in the same transaction as the decision that caused it."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_due", "status", "next_attempt_at"),
        # "Is an earlier message to this participant still waiting?" is asked for every due row.
        Index("ix_outbox_participant_status", "participant_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(32))  # reply, safeguarding, ...
    text: Mapped[str] = mapped_column(Text)
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16))  # pending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    platform_message_id: Mapped[str | None] = mapped_column(String(128), index=True)
    claimed_by: Mapped[str | None] = mapped_column(String(128))  # the app instance sending it
    last_error: Mapped[str | None] = mapped_column(String(200))
    # What the platform reported afterwards (Twilio status callbacks): queued, sent, delivered,
    # undelivered, failed, read. Only ever moves forward, whatever order callbacks arrive in.
    delivery_status: Mapped[str | None] = mapped_column(String(16))
    delivery_status_at: Mapped[datetime | None]
    delivery_error_code: Mapped[int | None] = mapped_column(Integer)


class SafeguardingAlert(Base):
    """A possible risk seen in a message: category, redacted text, time. Shown to staff."""

    __tablename__ = "safeguarding_alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"))
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE")
    )
    category: Mapped[str] = mapped_column(String(32))  # the most urgent of ``categories``
    categories: Mapped[list[str] | None] = mapped_column(JSON)
    redacted_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(254))  # the staff member's email
    action_taken: Mapped[str | None] = mapped_column(Text)  # what they did, in their words


class AuditEntry(Base):
    """Who did what to the data, when: exports, erasures. Never personal data."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Outcome(Base):
    """ "You said, we did": a message back to the parents of one engagement, sent at a set time.

    ``texts`` holds the message per language; parents get theirs, or the default language's.
    ``status``: scheduled → enqueued (one outbox row per recipient written) or cancelled.
    """

    __tablename__ = "outcomes"

    id: Mapped[int] = mapped_column(primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(64))  # the engagement it answers
    engaged_from: Mapped[datetime | None]  # only parents whose conversation started in this range
    engaged_to: Mapped[datetime | None]
    themes: Mapped[list[str] | None] = mapped_column(JSON)  # only parents who raised these
    texts: Mapped[dict[str, Any]] = mapped_column(JSON)  # {language: text}
    send_at: Mapped[datetime]  # as asked for
    due_at: Mapped[datetime]  # when it may go: send_at moved out of quiet hours
    status: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    enqueued_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]


class OutcomeDelivery(Base):
    """One recipient of one outcome. Unique per (outcome, participant): a double fire or a restart
    can never write a second message for the same person. Sent, delivered or failed is read from
    the outbox row; a row dropped by a later STOP leaves ``outbox_id`` empty."""

    __tablename__ = "outcome_deliveries"
    __table_args__ = (UniqueConstraint("outcome_id", "participant_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    outcome_id: Mapped[int] = mapped_column(ForeignKey("outcomes.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"))
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime]


class OutcomeReply(Base):
    """What a parent wrote back after an outcome message: feedback too, redacted and coded."""

    __tablename__ = "outcome_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    outcome_id: Mapped[int] = mapped_column(ForeignKey("outcomes.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participants.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    themes: Mapped[list[list[Any]] | None] = mapped_column(JSON)
    sentiment: Mapped[str | None] = mapped_column(String(16))
    received_at: Mapped[datetime]


class StaffUser(Base):
    """A member of staff who signs in to /staff. Roles: admin, analyst, safeguarding."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # lower case
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str | None] = mapped_column(String(255))  # argon2id; None until set
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)  # since the last success
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


class StaffSession(Base):
    """A signed-in browser. Only a digest of the cookie's token is stored."""

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the cookie token
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class StaffInvite(Base):
    """A one-time link to set a password. Only a digest of its token is stored."""

    __tablename__ = "staff_invites"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the link's token
    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


# APScheduler's job store (bot.schedule): the layout of apscheduler.jobstores.sqlalchemy, declared
# here so that the migrations make it before any app process starts (two processes starting at
# once on a new database would otherwise both create it). Jobs name an outcome, never a parent.
scheduler_jobs = Table(
    "apscheduler_jobs",
    Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
