"""The inbound pipeline: one parent message in, stored state and queued replies out.

Order for every message (STYLE.md rule 1):
  adapter verified and parsed it → safeguarding check on the raw text (memory only) → redact →
  record in the inbox (replays ignored) → Rasa sees the redacted text → Rasa's replies and signals
  become stored state and outbox rows in ONE transaction → the sender delivers.

Nothing here sends. Raw text and addresses never reach the database except the sealed address.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import insight, languages, outcomes
from bot.answers import SKIPPED, read_answer
from bot.channels.base import Inbound, InboundKind
from bot.config import HELPLINES
from bot.errors import RasaError
from bot.flood import FloodControl
from bot.keywords import Keyword, sms_keyword
from bot.pseudonym import former_pseudonyms, pseudonym
from bot.rasa import BotTurn, RasaClient
from bot.redact import RedactionState, Redactor
from bot.safeguarding import CATEGORIES, Safeguarding, rasa_categories
from bot.vault import Vault
from flows.spec import FlowSet
from storage import conversations, erasure, inbox, outbox, participants
from storage.db import as_utc
from storage.models import Conversation, InboxItem, Message, Participant, SafeguardingAlert

log = logging.getLogger(__name__)
_LEADING_SLASHES = re.compile(r"^[\s/]+")

MAX_TEXT_CHARS = (
    10_000  # longer messages are cut (and the parent told); Telegram's own limit is 4,096
)
FINISHED_GRACE = timedelta(
    hours=24
)  # a message this soon after finishing is "thanks", not a new chat
PROCESSING_LEASE = timedelta(seconds=60)  # one process answers a participant; a dead one's lapses
HOLD_NOTICE_AFTER = timedelta(seconds=30)  # a message unanswered this long gets "bear with us"
COMMAND_CONFIDENCE = 0.55  # below this, a message outside a conversation is not taken as a command
GIVE_UP_AFTER = timedelta(hours=24)  # a message Rasa could not answer for a day is marked failed


@dataclass(frozen=True)
class SafeguardingSettings:
    """How disclosures are handled (from config.safeguarding)."""

    classifier: bool = True  # also the trained layer, not only the patterns
    helplines: Mapping[str, str] = field(default_factory=lambda: dict(HELPLINES))  # the numbers
    staff_channels: tuple[str, ...] = ()  # where staff alerts go (bot.channels.staff)


_STAFF_TEXT_CHARS = 1_500  # a staff alert quotes at most this much of the (redacted) message


@dataclass(frozen=True)
class _Plan:
    """What to do with one inbox item, decided before calling Rasa (nothing written yet)."""

    rasa_text: str | None  # None: say nothing (e.g. a message after STOP that is not "start again")
    conversation_id: int | None  # the conversation it belongs to; None = start a new one
    reopt_in: bool = False
    fresh_tracker: bool = False  # a new conversation: Rasa starts from an empty tracker
    keyword: Keyword | None = None  # an SMS keyword the app answers itself (stop, help)
    risk: tuple[str, ...] = ()  # categories Rasa's NLU found when the text is not sent as a turn
    outcome_reply: int | None = None  # the outcome this message answers (kept as feedback)
    language: str | None = None  # the language the parent chose (or clearly wrote in)
    language_menu: bool = False  # send the numbered language menu
    record_inbound: bool = True  # False: a reply to the language menu is not an answer


class Pipeline:
    """Turns inbound messages into stored state and outbox rows. See the module docstring."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        rasa: RasaClient,
        redactor: Redactor,
        vault: Vault,
        flows: FlowSet,
        default_flow: str,
        default_language: str,
        pseudonym_key: bytes,
        clock: Callable[[], datetime],
        on_outbox: Callable[[], None],
        forget_tracker: Callable[[str], Awaitable[None]],
        move_tracker: Callable[[str, str], Awaitable[None]],
        old_pseudonym_keys: Sequence[bytes] = (),
        safeguarding: SafeguardingSettings | None = None,
        flood: FloodControl | None = None,
        instance: str = "local",
    ) -> None:
        self._sessions = sessions
        self._flood = flood
        self._instance = instance  # names this process in participants' leases
        self._rasa = rasa
        self._redactor = redactor
        self._vault = vault
        self._flows = flows
        self._default_flow = default_flow
        self._default_language = default_language
        self._key = pseudonym_key
        self._clock = clock
        self._on_outbox = on_outbox
        self._forget_tracker = forget_tracker
        self._move_tracker = move_tracker  # (old sender id, new): Rasa's rows for a re-keyed parent
        self._old_keys = tuple(old_pseudonym_keys)  # while the pseudonym key is being rotated
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._safeguarding = safeguarding or SafeguardingSettings()
        self._models: insight.InsightModels | None = None
        self._training = asyncio.Lock()

    async def warm_up(self) -> insight.InsightModels:
        """The trained insight models; trained (off the event loop) the first time, then kept."""
        if self._models is None:
            async with self._training:
                if self._models is None:
                    self._models = await asyncio.to_thread(insight.models)
        return self._models

    async def _urgent(self, inbound: Inbound) -> bool:
        """A message flood control must let through: STOP (or HELP) by SMS, or any disclosure."""
        if inbound.kind is not InboundKind.TEXT:
            return False
        if inbound.channel == "sms" and sms_keyword(inbound.text) is not None:
            return True
        return bool(await self._assess(inbound.text[:MAX_TEXT_CHARS]))

    async def _assess(self, raw: str) -> tuple[str, ...]:
        """Safeguarding categories the raw text may disclose, most urgent first."""
        if not raw:
            return ()
        if not self._safeguarding.classifier:
            return Safeguarding().assess(raw)
        models = await self.warm_up()
        return Safeguarding(models.risk.scores).assess(raw)

    async def handle(self, inbound: Inbound) -> None:
        """Record and answer one inbound message. A replay of a recorded delivery is ignored.

        Returns once the message is durably recorded and answered (or left pending, to be retried,
        if Rasa is unavailable). Raises only if the database is unavailable: the channel then
        answers with an error so the platform delivers again.
        """
        who = pseudonym(self._key, inbound.channel, inbound.address)
        if (
            self._flood is not None
            and not self._flood.allow(who)
            and not await self._urgent(inbound)
        ):
            log.warning("flood control: dropped a message from participant=%s", who[:12])
            return
        async with self._locks[who]:
            participant_id = await self._record(inbound, who)
            if participant_id is not None:
                await self._process_participant(participant_id)

    async def retry_pending(self) -> int:
        """Process inbox items left pending (Rasa was down, or the app stopped mid-way)."""
        await self.hold_notices()
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(Participant.id, Participant.pseudonym)
                    .join(InboxItem, InboxItem.participant_id == Participant.id)
                    .where(InboxItem.status == "pending")
                    .distinct()
                )
            ).all()
        for participant_id, who in rows:
            try:
                async with self._locks[who]:
                    await self._process_participant(participant_id)
            except Exception as exc:  # one participant's trouble must not stop the others
                log.error("retry failed participant=%s: %s", who[:12], type(exc).__name__)
        return len(rows)

    async def hold_notices(self) -> int:
        """A parent whose message has waited longer than HOLD_NOTICE_AFTER (Rasa down, say)
        hears, once per wait, that it is safe and will be answered. Returns how many did."""
        now = self._clock()
        told = 0
        async with self._sessions.begin() as session:
            for participant_id in await inbox.waiting_since(session, now - HOLD_NOTICE_AFTER):
                participant = await session.get(Participant, participant_id)
                if participant is None:
                    continue
                if not await inbox.mark_held_notice(session, participant_id, now):
                    continue  # another app process has just told them
                if participant.opted_out_at is None and participant.erase_requested_at is None:
                    self._reply(session, participant, "reply", self._text("held", participant), now)
                    told += 1
        return told

    async def _process_participant(self, participant_id: int) -> None:
        """Answer a participant's pending messages oldest first; stop at the first that fails,
        so a later message never overtakes one that is still waiting.

        Across app processes, the one holding the participant's lease answers (in this process
        the pseudonym's lock already makes it one at a time). A process that cannot take it
        leaves its message pending: the holder looks for new messages before it lets go."""
        while True:
            async with self._sessions.begin() as session:
                if not await participants.claim(
                    session, participant_id, self._instance, self._clock(), PROCESSING_LEASE
                ):
                    return  # another process is answering them, and will see this message too
            try:
                async with self._sessions() as session:
                    item_ids = await inbox.pending_for(session, participant_id)
                for item_id in item_ids:
                    if not await self._process(item_id):
                        return  # Rasa is down, say: the retry pass comes back to it
            finally:
                async with self._sessions.begin() as session:
                    await participants.release(session, participant_id, self._instance)
            async with self._sessions() as session:  # arrived while we held the lease?
                if not await inbox.pending_for(session, participant_id):
                    return

    # -- step 1: record --------------------------------------------------------------------

    async def _record(self, inbound: Inbound, who: str) -> int | None:
        """Record the message (redacted) and any safeguarding reply; return the participant id,
        or None if this delivery was seen before."""
        now = self._clock()
        raw = inbound.text if inbound.kind is InboundKind.TEXT else ""
        categories = await self._assess(raw)  # raw text, in memory only
        category = categories[0] if categories else None
        truncated = len(raw) > MAX_TEXT_CHARS
        raw = raw[:MAX_TEXT_CHARS]
        async with self._sessions.begin() as session:
            if await inbox.seen(session, inbound.channel, inbound.platform_id):
                log.info("duplicate delivery ignored channel=%s", inbound.channel)
                return None
            language = self._language(inbound.language_hint)
            participant = await participants.get_or_create(
                session,
                pseudonym=who,
                channel=inbound.channel,
                language=language,
                sealed_address=self._vault.seal(inbound.address),
                now=now,
                former_pseudonyms=former_pseudonyms(
                    self._old_keys, inbound.channel, inbound.address
                ),
            )
            if participant.pseudonym != who:
                await self._rekey(session, participant, who, now)
            if participant.language_chosen_at is None and raw:
                # Written clearly in one of our languages: answer in it, help included.
                participant.language = (
                    languages.detect(raw, self._languages()) or participant.language
                )
            state = RedactionState.from_json(participant.redaction_state or None)
            if not raw or languages.is_language_word(raw):
                redacted = raw  # "język", "polski", "3": nothing personal, and must stay readable
            else:
                redacted = self._redactor.redact(raw, state, participant.language).text
            participant.redaction_state = state.to_json()
            inbox.record(
                session,
                participant_id=participant.id,
                channel=inbound.channel,
                platform_id=inbound.platform_id,
                kind=inbound.kind.value,
                text=redacted,
                safeguarding=category,
                now=now,
            )
            if categories:
                # Help for the parent first: it is queued before anything Rasa will say.
                await self._alert(session, participant, categories, redacted, now)
            if truncated:
                self._reply(session, participant, "reply", self._text("too_long", participant), now)
            await session.flush()
            participant_id = participant.id
        if category or truncated:
            self._on_outbox()
        return participant_id

    async def _rekey(
        self, session: AsyncSession, participant: Participant, who: str, now: datetime
    ) -> None:
        """A parent known by a pseudonym made with an old key (mid-rotation) gets the current one,
        and Rasa's record of them follows, so nobody is taken for a new parent. Rasa's rows move
        before this transaction commits: no process can ask Rasa under ``who`` without them."""
        old = participant.pseudonym
        if await participants.rekey(session, participant.id, old, who, now):
            await self._move_tracker(old, who)
            log.info("re-keyed participant=%s (pseudonym key rotation)", who[:12])

    async def _alert(
        self,
        session: AsyncSession,
        participant: Participant,
        categories: tuple[str, ...],
        redacted: str,
        now: datetime,
    ) -> None:
        """Signpost the parent and alert staff about a disclosure (``categories``, most urgent
        first). Signposting always goes out, even after STOP or during erasure; the alert is
        stored, and sent to staff, unless the participant is being erased."""
        self._reply(
            session, participant, "safeguarding", self._signposting(categories[0], participant), now
        )
        if participant.erase_requested_at is None:
            conversation = await conversations.open_conversation(session, participant.id)
            alert = SafeguardingAlert(
                participant_id=participant.id,
                conversation_id=conversation.id if conversation else None,
                category=categories[0],
                categories=list(categories),
                redacted_text=redacted,
                created_at=now,
            )
            session.add(alert)
            await session.flush()
            for channel in self._safeguarding.staff_channels:
                outbox.enqueue(
                    session,
                    participant_id=participant.id,
                    channel=channel,
                    kind="staff_alert",
                    text=_staff_alert_text(alert, categories, participant.pseudonym, now),
                    now=now,
                )
        log.warning(
            "safeguarding alert categories=%s participant=%s",
            ",".join(categories),
            participant.pseudonym[:12],
        )

    # -- step 2: plan, ask Rasa, apply -----------------------------------------------------

    async def _process(self, item_id: int) -> bool:
        """Answer one inbox item; False if it is left pending (to be retried)."""
        try:
            plan, who = await self._plan(item_id)
            if plan is None:
                return True
            if plan.fresh_tracker:
                await self._forget_tracker(who)
            turn = BotTurn()
            await self.warm_up()  # answers are coded as they are stored
            if plan.rasa_text is not None:
                # The message id lets Rasa's channel answer a retried turn from its cache
                # instead of taking the same text as the answer to the next question.
                turn = await self._rasa.send(who, plan.rasa_text, message_id=f"inbox-{item_id}")
            erased = await self._apply(item_id, plan, turn)
        except Exception as exc:
            await self._kept_for_retry(item_id, exc)
            return False
        self._on_outbox()
        if erased:
            await self._forget_tracker(who)
        return True

    async def _kept_for_retry(self, item_id: int, exc: Exception) -> None:
        """Count a failed attempt; give up on an item no one could answer for a day."""
        # Only the type: an exception's message may quote stored text.
        level = logging.WARNING if isinstance(exc, RasaError) else logging.ERROR
        log.log(level, "inbox item %s kept for retry: %s", item_id, type(exc).__name__)
        try:
            async with self._sessions.begin() as session:
                item = await session.get(InboxItem, item_id)
                if item is not None:
                    item.attempts += 1
                    if as_utc(item.received_at) < self._clock() - GIVE_UP_AFTER:
                        item.status = "failed"
                        log.error("inbox item %s failed after %s attempts", item_id, item.attempts)
        except Exception as db_exc:
            log.error(
                "could not count the attempt on inbox item %s: %s", item_id, type(db_exc).__name__
            )

    async def _plan(self, item_id: int) -> tuple[_Plan | None, str]:
        async with self._sessions() as session:
            item = await session.get(InboxItem, item_id)
            if item is None or item.status != "pending":
                return None, ""
            participant = await session.get(Participant, item.participant_id)
            if participant is None:
                return None, ""
            who = participant.pseudonym
            if participant.erase_requested_at is not None:
                return _Plan(rasa_text=None, conversation_id=None), who
            text = "" if item.kind == InboundKind.MEDIA.value else _for_rasa(item.text)
            keyword = sms_keyword(item.text) if item.channel == "sms" and text else None
            open_conv = await conversations.open_conversation(session, participant.id)
            latest = open_conv or await conversations.latest_conversation(session, participant.id)
            latest_id = latest.id if latest is not None else None
            opted_out = participant.opted_out_at is not None
            if keyword == "stop":  # exactly as carriers do: whatever else it might mean
                return _Plan(None, latest_id, fresh_tracker=True, keyword="stop"), who
            if keyword == "help" and (opted_out or open_conv is None):
                return _Plan(None, latest_id, keyword="help"), who
            if keyword == "start" and opted_out:
                return _Plan(
                    self._start_text(participant), None, reopt_in=True, fresh_tracker=True
                ), who
            choosing = None if opted_out else self._language_plan(participant, text, open_conv)
            if choosing is not None:
                return choosing, who
            if open_conv is not None:
                plain = self._plain_answer(open_conv, participant.language, text)
                return _Plan(
                    rasa_text=plain or text or "/pv_media", conversation_id=open_conv.id
                ), who
            recently_finished = (
                latest is not None
                and latest.status == "completed"
                and latest.ended_at is not None
                and as_utc(latest.ended_at) >= self._clock() - FINISHED_GRACE
            )
            erase_asked = participant.erase_asked_at is not None
            # A first message clearly in one of the flow's languages starts the chat in it.
            detected = (
                languages.detect(text, self._languages())
                if participant.language_chosen_at is None and text
                else None
            )
            start = self._start_text(participant, detected)
            # A message soon after an outcome ("you said, we did") is a reply to it.
            answering = (
                await outcomes.replying_to(
                    session,
                    participant.id,
                    self._clock(),
                    as_utc(latest.ended_at) if latest is not None and latest.ended_at else None,
                )
                if text and not opted_out
                else None
            )
        # No conversation in progress. "Delete my data" and "stop" must still work: after STOP,
        # and long after finishing. So ask Rasa's NLU what this is before starting a new survey;
        # the same answer is safeguarding's third layer for a message no turn will carry.
        intent: str = ""
        risk: tuple[str, ...] = ()
        if text:
            parsed = await self._rasa.parse(text)
            intent = parsed.intent if parsed.confidence >= COMMAND_CONFIDENCE else ""
            risk = rasa_categories(parsed.ranking)
        if latest_id is not None and (
            erase_asked or intent == "delete_data" or (intent == "stop" and not opted_out)
        ):
            return _Plan(rasa_text=text, conversation_id=latest_id), who
        if opted_out:
            if intent == "start_again":
                return _Plan(start, None, reopt_in=True, fresh_tracker=True, risk=risk), who
            return _Plan(rasa_text=None, conversation_id=None, risk=risk), who
        if answering is not None:
            return _Plan(None, None, risk=risk, outcome_reply=answering), who
        if recently_finished and text:
            return _Plan(rasa_text=text, conversation_id=latest_id), who
        # Someone new whose first message does not tell us their language gets the numbered
        # menu with the (English) welcome: a number picks, YES carries on in English.
        first_contact = latest is None and participant.language_chosen_at is None
        offer_menu = first_contact and detected is None and len(self._languages()) > 1
        return _Plan(
            rasa_text=start,
            conversation_id=None,
            fresh_tracker=True,
            risk=risk,
            language=detected,
            language_menu=offer_menu,
        ), who

    def _plain_answer(self, conversation: Conversation, language: str, text: str) -> str | None:
        """A short reply that plainly answers the question being asked (a number, a yes or a no,
        a skip, in any of our languages) goes to Rasa in the English form its model reads
        surest: "tak" as "yes", "pomiń" as "skip", "Pielęgniarka szkolna" as "3". In other
        languages char n-grams can mistake such a word for a command ("bad din", skip in
        Bengali, looks like "baad mein", later in Urdu). The transcript keeps what they wrote;
        free text, and anything longer than a few words, goes as it is."""
        flow = self._flows.flows.get(conversation.flow_id)
        question = flow.question(conversation.current_question or "") if flow else None
        if question is None or not text or len(text.split()) > 3:
            return None
        if question.type not in ("choice", "consent") and not question.optional:
            return None
        value = read_answer(question, text, language).value
        if value == SKIPPED:
            return "skip"
        if value is None or question.type == "text":
            return None
        if question.type == "consent":
            return value  # "yes" or "no"
        return next(str(n) for n, option in enumerate(question.options, 1) if option.id == value)

    def _start_text(self, participant: Participant, language: str | None = None) -> str:
        entities = {"flow": self._default_flow, "language": language or participant.language}
        return f"/pv_start{json.dumps(entities)}"

    def _languages(self) -> tuple[str, ...]:
        """The languages parents can choose: the default flow's, in menu order."""
        offered = self._flows.flows[self._default_flow].languages
        return tuple(code for code in languages.NAMES if code in offered)

    def _language_plan(
        self, participant: Participant, text: str, open_conv: Conversation | None
    ) -> _Plan | None:
        """Choosing a language, at any point: "language" (in any of them) gets the numbered
        menu; the reply to the menu switches, and the chat goes on in the new language. None
        when the message has nothing to do with choosing a language."""
        offered = self._languages()
        if not text or len(offered) < 2:
            return None
        conversation_id = open_conv.id if open_conv is not None else None
        # A reply to the menu first: "Polski" picks Polish, though it also asks for a menu.
        picked = languages.choice(text, offered) if participant.language_menu_at else None
        if picked is None:
            if languages.wants_menu(text):
                return _Plan(None, conversation_id, language_menu=True)
            return None  # nothing to do with languages: handled as usual (a menu lapses)
        if open_conv is not None:
            switch = f"/pv_language{json.dumps({'language': picked})}"
            return _Plan(switch, open_conv.id, language=picked, record_inbound=False)
        return _Plan(
            self._start_text(participant, picked), None, fresh_tracker=True, language=picked
        )

    async def _apply(self, item_id: int, plan: _Plan, turn: BotTurn) -> bool:
        """Store the turn: inbound message, answers, status changes, replies. One transaction."""
        now = self._clock()
        kinds = {str(signal.get("pv")) for signal in turn.signals}
        async with self._sessions.begin() as session:
            item = await session.get(InboxItem, item_id)
            if item is None or item.status != "pending":
                return False
            participant = await session.get(Participant, item.participant_id)
            assert participant is not None
            # Safeguarding's third layer, only where layers 1 and 2 (at record time) found
            # nothing: its signposting goes before anything else this turn says.
            rasa_risk = plan.risk or _turn_risk(turn)
            if rasa_risk and item.safeguarding is None:
                item.safeguarding = rasa_risk[0]
                await self._alert(session, participant, rasa_risk, item.text, now)
            if plan.keyword is not None:
                await self._keyword(session, participant, plan, now)
            if plan.language is not None:
                participant.language, participant.language_chosen_at = plan.language, now
            if participant.language_menu_at is not None and not plan.language_menu:
                participant.language_menu_at = None  # answered, or ignored: the menu lapses
            if plan.language_menu:
                participant.language_menu_at = now
                menu = languages.menu(self._languages())
                self._reply(session, participant, "reply", menu, now)
            if plan.outcome_reply is not None:
                coding = self._models.code(item.text) if self._models is not None else None
                first = await outcomes.record_reply(
                    session,
                    outcome_id=plan.outcome_reply,
                    participant_id=participant.id,
                    text=item.text,
                    coding=coding,
                    now=now,
                )
                if first:  # thanked once; later messages are kept without a reply each
                    self._reply(
                        session,
                        participant,
                        "reply",
                        self._text("outcome_reply_thanks", participant),
                        now,
                    )
            if plan.rasa_text is None:
                inbox.done(item, now)
                return False
            if plan.reopt_in:
                participant.opted_out_at = None
            if plan.conversation_id is None:
                current = await self._start_conversation(session, participant, None, now)
            else:
                found = await session.get(Conversation, plan.conversation_id)
                assert found is not None
                current = found
            if "erase" in kinds:
                await erasure.erase_content(session, participant, now)
                for text, _choices in turn.texts:
                    self._reply(session, participant, "erase_confirmation", text, now)
                return True
            conversations.add_message(
                session,
                current,
                direction="in",
                kind=item.kind,
                text=item.text,
                # A reply to the language menu is kept in the transcript, but answers nothing.
                question_id=current.current_question if plan.record_inbound else None,
                now=now,
                platform_id=item.platform_id,
            )
            if plan.language is not None:
                current.language = plan.language
            reply_kind = "reply"
            if "stopped" in kinds:
                await outbox.cancel_pending(session, participant.id)
                reply_kind = "stop_confirmation"
            elif kinds & {"erase_asked", "erase_cancelled"}:
                reply_kind = "erase_question"  # reaches them even after STOP
            last_out: Message | None = None
            for entry in turn.items:
                if isinstance(entry, tuple):
                    text, choices = entry
                    last_out = conversations.add_message(
                        session,
                        current,
                        direction="out",
                        kind="text",
                        text=text,
                        question_id=None,
                        now=now,
                    )
                    self._reply(session, participant, reply_kind, text, now, choices)
                    continue
                current = await self._signal(session, participant, current, entry, last_out, now)
            current.updated_at = now
            inbox.done(item, now)
        return False

    async def _signal(
        self,
        session: AsyncSession,
        participant: Participant,
        current: Conversation,
        signal: dict[str, Any],
        last_out: Message | None,
        now: datetime,
    ) -> Conversation:
        """Apply one signal from the action endpoint; returns the conversation now current."""
        kind = signal.get("pv")
        if kind == "answer":
            question_id, value = str(signal.get("question")), str(signal.get("value"))
            flow = self._flows.flows.get(current.flow_id)
            question = flow.question(question_id) if flow else None
            # Free text is coded to the seven themes and a sentiment as it is stored.
            coding = None
            if question is not None and question.type == "text" and self._models is not None:
                coding = self._models.code(value)
            await conversations.save_answer(session, current, question_id, value, now, coding)
            # Rasa re-validates earlier answers when a form resumes: keep the first timestamps.
            if question is not None and question.type == "consent":
                if question.consent == "research" and value == "yes":
                    current.consented_at = current.consented_at or now
                    participant.consent_research_at = participant.consent_research_at or now
                elif question.consent == "followup" and participant.consent_followup != (
                    value == "yes"
                ):
                    participant.consent_followup = value == "yes"
                    participant.consent_followup_at = now
        elif kind == "asking":
            current.current_question = str(signal.get("question"))
            if last_out is not None:
                last_out.question_id = current.current_question
        elif kind == "restarted":
            conversations.end(current, "restarted", now)
            current = await self._start_conversation(session, participant, signal.get("flow"), now)
        elif kind == "completed":
            conversations.end(current, "completed", now)
        elif kind == "declined":
            await session.flush()
            await conversations.forget_content(session, current)
            conversations.end(current, "declined", now)
        elif kind == "paused" and current.status in conversations.OPEN:
            current.status = "paused"
        elif kind == "resumed" and current.status in conversations.OPEN:
            current.status = "active"
        elif kind == "stopped":
            await self._stop(session, participant, current, now)
        elif kind == "erase_asked":
            participant.erase_asked_at = now
        elif kind == "erase_cancelled":
            participant.erase_asked_at = None
        return current

    async def _stop(
        self,
        session: AsyncSession,
        participant: Participant,
        current: Conversation | None,
        now: datetime,
    ) -> None:
        """Opted out of everything (SMS STOP or Rasa's stop): the open conversation ends, and one
        they never agreed to take part in keeps nothing they said."""
        participant.opted_out_at = participant.opted_out_at or now
        participant.erase_asked_at = None
        if current is not None and current.status in conversations.OPEN:
            if current.consented_at is None:
                await session.flush()  # this turn's own messages are deleted too
                await conversations.forget_content(session, current)
            conversations.end(current, "stopped", now)

    async def _keyword(
        self, session: AsyncSession, participant: Participant, plan: _Plan, now: datetime
    ) -> None:
        """STOP: opted out of everything, one confirmation. HELP: the help text, even after STOP."""
        if plan.keyword == "help":
            self._reply(session, participant, "keyword_reply", self._text("help", participant), now)
            return
        if participant.opted_out_at is not None:
            return  # one confirmation only
        current = (
            await session.get(Conversation, plan.conversation_id) if plan.conversation_id else None
        )
        await self._stop(session, participant, current, now)
        await outbox.cancel_pending(session, participant.id)
        self._reply(
            session, participant, "stop_confirmation", self._text("stopped", participant), now
        )

    # -- helpers -----------------------------------------------------------------------------

    async def _start_conversation(
        self, session: AsyncSession, participant: Participant, flow_id: object, now: datetime
    ) -> Conversation:
        """A new active conversation of ``flow_id`` (the default flow if unknown or None)."""
        flow = self._flows.flows.get(str(flow_id)) or self._flows.flows[self._default_flow]
        return await conversations.start(
            session,
            participant_id=participant.id,
            flow_id=flow.id,
            flow_version=flow.version,
            channel=participant.channel,
            language=participant.language,
            now=now,
        )

    def _reply(
        self,
        session: AsyncSession,
        participant: Participant,
        kind: str,
        text: str,
        now: datetime,
        choices: tuple[str, ...] = (),
    ) -> None:
        outbox.enqueue(
            session,
            participant_id=participant.id,
            channel=participant.channel,
            kind=kind,
            text=text,
            choices=choices,
            now=now,
        )

    def _text(self, key: str, participant: Participant) -> str:
        return self._flows.messages.text(key, participant.language)

    def _signposting(self, category: str, participant: Participant) -> str:
        """The signposting text for ``category``, with this deployment's helpline numbers."""
        text = self._text(f"safeguarding_{category}", participant)
        for name, number in self._safeguarding.helplines.items():
            text = text.replace("{" + name + "}", number)
        return text

    def _language(self, hint: str | None) -> str:
        flow = self._flows.flows[self._default_flow]
        short = (hint or "").split("-")[0].lower()
        return short if short in flow.languages else self._default_language


def _staff_alert_text(
    alert: SafeguardingAlert, categories: tuple[str, ...], who: str, now: datetime
) -> str:
    """What staff are sent: no name, number or address (the text is already redacted)."""
    labels = ", ".join(c.replace("_", " ") for c in categories)
    quoted = alert.redacted_text[:_STAFF_TEXT_CHARS]
    if len(alert.redacted_text) > _STAFF_TEXT_CHARS:
        quoted += "…"
    return (
        f"ParentVoice safeguarding alert {alert.id}: {labels}. Participant {who[:12]}, "
        f"{as_utc(now):%Y-%m-%d %H:%M} UTC. The parent was sent signposting; this chat is not "
        f"watched, so please follow up. Message (redacted): {quoted}"
    )


def _turn_risk(turn: BotTurn) -> tuple[str, ...]:
    """The categories of the action endpoint's ``risk`` signals in a turn, most urgent first."""
    found: set[object] = set()
    for signal in turn.signals:
        if signal.get("pv") == "risk" and isinstance(signal.get("categories"), list):
            found.update(signal["categories"])
    return tuple(c for c in CATEGORIES if c in found)


def _for_rasa(text: str) -> str:
    """Text as Rasa may see it: a leading '/' (after any spaces) would let a parent trigger
    intents by name, so every leading slash and space goes."""
    return _LEADING_SLASHES.sub("", text).strip()
