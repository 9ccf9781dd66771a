"""The ASGI app: webhooks, the web chat, Rasa's action endpoint and /healthz, plus the background
work (outbox sender, inbox retries, tracker expiry, and Rasa itself when ``rasa.manage`` is true).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot import outcomes, reminders, tracker_store
from bot.actions import ActionNotFound, Actions, token_ok
from bot.channels.base import Sender
from bot.channels.staff import STAFF_TELEGRAM, STAFF_WEBHOOK, WebhookSender
from bot.channels.telegram import TelegramChannel
from bot.channels.twilio import UNSUBSCRIBED, TwilioChannel, TwilioSettings
from bot.channels.web import WebChatChannel
from bot.config import Config
from bot.errors import RasaError, WebhookRejected
from bot.flood import FloodControl
from bot.logs import quiet_third_party
from bot.pipeline import Pipeline, SafeguardingSettings
from bot.rasa import RasaClient
from bot.rasa_process import RasaServer, ensure_model, rasa_executable, server_for
from bot.redact import Redactor
from bot.schedule import Scheduler
from bot.sender import OutboxSender
from bot.staff.web import StaffWeb
from bot.vault import Vault
from flows.compile import compile_flows, write_compiled
from flows.spec import load_flows
from storage import conversations, outbox, retention
from storage.db import make_engine, make_sessionmaker, migrate
from storage.models import Conversation, Participant

log = logging.getLogger(__name__)

RETRY_INTERVAL = 5.0  # seconds between passes over inbox items left pending
ACTIONS_PATH = "/rasa/actions/webhook"
# A conversation untouched this long is closed as expired (answers kept). It must be shorter than
# rasa.tracker_retention_days, so Rasa never forgets a conversation the app still has open.
CONVERSATION_EXPIRY = timedelta(days=7)


def utc_now() -> datetime:
    """The real clock (tests pass their own)."""
    return datetime.now(UTC)


@dataclass
class Runtime:
    """What a running app holds; built in the lifespan, read by the routes."""

    config: Config
    rasa_token: str
    pipeline: Pipeline | None = None
    sender: OutboxSender | None = None
    rasa: RasaClient | None = None
    rasa_server: RasaServer | None = None
    telegram: TelegramChannel | None = None
    twilio: dict[str, TwilioChannel] = field(default_factory=dict)  # "sms", "whatsapp"
    web: WebChatChannel | None = None
    actions: Actions | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    rasa_state: str = "starting"
    scheduler: Scheduler | None = None
    tick: Callable[[], Awaitable[None]] | None = None  # one pass of timed work (tests call it)


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, whether or not Content-Length is sent.

    ``exempt`` paths are left alone: Rasa's action calls carry the whole tracker and domain, which
    legitimately grow past any limit sensible for a webhook (they are local and token-checked).
    """

    def __init__(self, app: ASGIApp, limit: int, exempt: tuple[str, ...] = ()) -> None:
        self.app, self.limit, self.exempt = app, limit, exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exempt:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await JSONResponse({"error": "request body too large"}, 413)(scope, receive, send)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await JSONResponse({"error": "request body too large"}, 413)(scope, receive, send)


class _TooLarge(Exception):
    pass


EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _twilio_form(body: bytes) -> dict[str, str]:
    """Twilio posts application/x-www-form-urlencoded; 400 for anything we cannot read."""
    try:
        return dict(
            parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookRejected(400, "the body is not a form") from exc


def create_app(
    config: Config, *, clock: Callable[[], datetime] = utc_now, telegram_polling: bool = False
) -> Starlette:
    """Build the app. Nothing starts until the ASGI lifespan runs (uvicorn, or a test client)."""
    quiet_third_party()
    runtime = Runtime(config=config, rasa_token=config.rasa.token or secrets.token_urlsafe(24))
    web = WebChatChannel()
    runtime.web = web

    async def handle(inbound: Any) -> None:
        await runtime.ready.wait()
        assert runtime.pipeline is not None
        await runtime.pipeline.handle(inbound)

    async def telegram_webhook(request: Request) -> Response:
        if runtime.telegram is None:
            return JSONResponse({"error": "the Telegram channel is not enabled"}, 404)
        body = await request.body()
        try:
            inbound = runtime.telegram.parse_webhook(request.headers, body, clock())
        except WebhookRejected as exc:
            return JSONResponse({"error": exc.reason}, exc.status)
        if inbound is not None:
            try:
                await handle(inbound)
            except Exception as exc:  # the database is unavailable: Telegram will deliver it again
                # Only the type: the exception may quote SQL parameters.
                log.error("telegram update not recorded: %s", type(exc).__name__)
                return JSONResponse({"error": "temporarily unavailable"}, 503)
        return JSONResponse({"ok": True})

    async def twilio_inbound(request: Request) -> Response:
        channel = runtime.twilio.get(request.path_params["kind"])
        if channel is None:
            return JSONResponse({"error": "this Twilio channel is not enabled"}, 404)
        try:
            params = _twilio_form(await request.body())
            channel.verify(_public_url(request), params, request.headers.get("X-Twilio-Signature"))
            inbound = channel.parse_inbound(params, clock())
        except WebhookRejected as exc:
            return JSONResponse({"error": exc.reason}, exc.status)
        if inbound is not None:
            try:
                await handle(inbound)
            except Exception as exc:  # the database is unavailable: Twilio will retry
                log.error("twilio message not recorded: %s", type(exc).__name__)
                return JSONResponse({"error": "temporarily unavailable"}, 503)
        # Replies go through the outbox and the REST API, never as TwiML: answer with nothing.
        return Response(EMPTY_TWIML, media_type="application/xml")

    async def twilio_status(request: Request) -> Response:
        channel = next(iter(runtime.twilio.values()), None)
        if channel is None:
            return JSONResponse({"error": "Twilio is not enabled"}, 404)
        try:
            params = _twilio_form(await request.body())
            channel.verify(_public_url(request), params, request.headers.get("X-Twilio-Signature"))
            update = channel.parse_status(params)
        except WebhookRejected as exc:
            return JSONResponse({"error": exc.reason}, exc.status)
        now = clock()
        async with sessions.begin() as session:
            item = await outbox.record_delivery_status(
                session, update.message_id, update.status, update.error_code, now
            )
            if item is not None and update.error_code == UNSUBSCRIBED:
                participant = await session.get(Participant, item.participant_id)
                if participant is not None:  # they texted STOP to the carrier
                    participant.opted_out_at = participant.opted_out_at or now
        return Response(status_code=204)

    def _public_url(request: Request) -> str:
        """The URL Twilio signed: ours as the public sees it, not as a proxy forwarded it."""
        query = f"?{request.url.query}" if request.url.query else ""
        return f"{config.server.public_url}{request.url.path}{query}"

    async def rasa_actions(request: Request) -> Response:
        if not token_ok(request.query_params.get("token"), runtime.rasa_token):
            return JSONResponse({"error": "unauthorised"}, 401)
        try:
            payload = await request.json()
            action = str(payload["next_action"])
            tracker = payload["tracker"]
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": "malformed action call"}, 400)
        assert runtime.actions is not None
        try:
            return JSONResponse(runtime.actions.run(action, tracker))
        except ActionNotFound:
            return JSONResponse({"error": f"no action {action}", "action_name": action}, 404)

    async def healthz(_: Request) -> Response:
        report: dict[str, str] = {"app": "ok"}
        try:
            assert runtime.pipeline is not None
            async with sessions() as session:
                await session.execute(text("SELECT 1"))
            report["database"] = "ok"
        except Exception:
            report["database"] = "unavailable"
        if runtime.rasa is not None:
            try:
                await runtime.rasa.status()
                runtime.rasa_state = "ok"
            except RasaError:
                runtime.rasa_state = (
                    "starting" if runtime.rasa_state == "starting" else "unavailable"
                )
        report["rasa"] = runtime.rasa_state
        healthy = report["database"] == "ok" and report["rasa"] == "ok"
        return JSONResponse(report, 200 if healthy else 503)

    async def home(_: Request) -> Response:
        return RedirectResponse("/chat")

    routes: list[BaseRoute] = [
        Route("/", home),
        Route("/healthz", healthz),
        Route("/webhooks/telegram", telegram_webhook, methods=["POST"]),
        Route("/webhooks/twilio/status", twilio_status, methods=["POST"]),
        Route("/webhooks/twilio/{kind:str}", twilio_inbound, methods=["POST"]),
        Route(ACTIONS_PATH, rasa_actions, methods=["POST"]),
    ]
    if config.channels.web.enabled:
        routes += web.routes(handle, clock)

    engine = make_engine(config.database.url)
    sessions = make_sessionmaker(engine)
    staff_web = StaffWeb(
        sessions=sessions, config=config, flows=load_flows(config.flows.dir), clock=clock
    )
    routes += staff_web.routes()

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks: list[asyncio.Task[Any]] = []
        await asyncio.to_thread(migrate, config.database.url)
        flows = load_flows(config.flows.dir)
        runtime.actions = Actions(flows, config.flows.default)
        runtime.rasa = RasaClient(
            config.rasa.url,
            runtime.rasa_token,
            config.rasa.timeout_seconds,
            max_in_flight=config.rasa.max_in_flight,
        )
        senders: dict[str, Sender] = {}
        if config.channels.web.enabled:
            senders["web"] = web
        if config.channels.telegram.enabled:
            tg = config.channels.telegram
            runtime.telegram = TelegramChannel(tg.token, tg.webhook_secret, tg.api_base_url)
            await runtime.telegram.start()
            senders["telegram"] = runtime.telegram
            if not telegram_polling and config.server.public_url.startswith("https://"):
                await runtime.telegram.set_webhook(f"{config.server.public_url}/webhooks/telegram")
        tw = config.channels.twilio
        if tw.enabled:
            settings = TwilioSettings(
                account_sid=tw.account_sid,
                auth_token=tw.auth_token,
                messaging_service_sid=tw.messaging_service_sid,
                sms_from=tw.sms_from,
                whatsapp_from=tw.whatsapp_from,
                api_base_url=tw.api_base_url,
                status_callback_url=f"{config.server.public_url}/webhooks/twilio/status",
            )
            for kind, sender_number in (("sms", tw.sms_from), ("whatsapp", tw.whatsapp_from)):
                if sender_number or tw.messaging_service_sid:
                    runtime.twilio[kind] = TwilioChannel(kind, settings)  # type: ignore[arg-type]
                    await runtime.twilio[kind].start()
                    senders[kind] = runtime.twilio[kind]
        staff = config.safeguarding
        staff_addresses: dict[str, str] = {}
        webhook: WebhookSender | None = None
        if staff.staff_telegram_chat_id and runtime.telegram is not None:
            senders[STAFF_TELEGRAM] = runtime.telegram
            staff_addresses[STAFF_TELEGRAM] = staff.staff_telegram_chat_id
        if staff.staff_webhook_url:
            webhook = WebhookSender(staff.staff_webhook_secret)
            senders[STAFF_WEBHOOK] = webhook
            staff_addresses[STAFF_WEBHOOK] = staff.staff_webhook_url
        # Names this process in outbox claims and participants' leases.
        instance = f"{socket.gethostname()}:{config.server.port}"
        sender = OutboxSender(
            sessions=sessions,
            senders=senders,
            staff_addresses=staff_addresses,
            vault=Vault(config.security.vault_key),
            clock=clock,
            max_attempts=config.outbox.max_attempts,
            per_second=config.outbox.per_channel_per_second,
            channel_rates={kind: tw.per_second for kind in runtime.twilio},
            chat_rates={"telegram": config.channels.telegram.per_chat_per_second},
            instance=instance,
            whatsapp_templates=tw.whatsapp_templates,
        )
        runtime.sender = sender

        async def forget_tracker(sender_id: str) -> None:
            """Delete Rasa's record of a sender (erasure, or before a new conversation starts)."""
            await asyncio.to_thread(tracker_store.delete_sender, config.rasa.tracker_db, sender_id)

        async def move_tracker(old: str, new: str) -> None:
            """Give Rasa's record of a re-keyed participant to their new sender id."""
            await asyncio.to_thread(tracker_store.move_senders, config.rasa.tracker_db, {old: new})

        runtime.pipeline = Pipeline(
            sessions=sessions,
            rasa=runtime.rasa,
            redactor=Redactor(config.security.pseudonym_key, config.security.pseudonym_old_keys),
            vault=Vault(config.security.vault_key),
            flows=flows,
            default_flow=config.flows.default,
            default_language=config.flows.default_language,
            pseudonym_key=config.security.pseudonym_key,
            clock=clock,
            on_outbox=sender.wake,
            forget_tracker=forget_tracker,
            move_tracker=move_tracker,
            old_pseudonym_keys=config.security.pseudonym_old_keys,
            safeguarding=SafeguardingSettings(
                classifier=staff.classifier,
                helplines=staff.helplines,
                staff_channels=tuple(staff_addresses),
            ),
            flood=FloodControl(config.server.per_sender_per_minute),
            instance=instance,
        )
        if staff.classifier:  # train the insight models now, not on the first message
            tasks.append(asyncio.create_task(runtime.pipeline.warm_up(), name="insight-training"))
        await sender.recover()
        runtime.ready.set()
        tasks.append(asyncio.create_task(sender.run(stop), name="outbox-sender"))
        tasks.append(
            asyncio.create_task(
                _every(RETRY_INTERVAL, stop, runtime.pipeline.retry_pending), name="inbox-retry"
            )
        )

        async def expire() -> None:
            now = clock()
            async with sessions.begin() as session:
                expired = await conversations.expire_idle(session, now - CONVERSATION_EXPIRY, now)
            if expired:
                log.info("expired %s idle conversations", expired)
            cutoff = (now - timedelta(days=config.rasa.tracker_retention_days)).timestamp()
            await asyncio.to_thread(tracker_store.purge_older_than, config.rasa.tracker_db, cutoff)
            keep = config.retention
            async with sessions.begin() as session:
                gone = await retention.apply(
                    session, now, transcript_days=keep.transcript_days,
                    idle_days=keep.idle_days, followup_days=keep.followup_days,
                )  # fmt: skip
            if gone.conversations or gone.contacts:
                log.info(
                    "retention: deleted %s old conversations and %s addresses",
                    gone.conversations, gone.contacts,
                )  # fmt: skip

        tasks.append(asyncio.create_task(_every(3600.0, stop, expire), name="expiry"))

        schedule = config.schedule

        async def fire(outcome_id: int) -> None:
            """An outcome fell due: enqueue it (once), or move it out of quiet hours."""
            async with sessions.begin() as session:
                done = await outcomes.enqueue(
                    session, outcome_id, clock(), schedule.quiet, config.flows.default_language
                )
            if done.status == "deferred" and done.due_at is not None:
                await asyncio.to_thread(scheduler.set_outcome, outcome_id, done.due_at)
                log.info("outcome %s fell due in quiet hours; moved to %s", outcome_id, done.due_at)
            elif done.status == "enqueued":
                log.info("outcome %s enqueued for %s recipients", outcome_id, done.count)
                sender.wake()

        scheduler = Scheduler(config.database.url, clock, fire)
        scheduler.start()
        runtime.scheduler = scheduler

        def reminder_text(participant: Participant, conversation: Conversation) -> str:
            text = flows.messages.text("reminder", participant.language)
            flow = flows.flows.get(conversation.flow_id)
            question = flow.question(conversation.current_question or "") if flow else None
            if conversation.status == "active" and question is not None:
                # They went quiet on a question: their reply will answer it, so show it again.
                text += "\n\n" + question.rendered(participant.language)
            return text

        async def tick() -> None:
            """Timed work: outcomes to the timer (and due ones fired), then due reminders."""
            async with sessions() as session:
                wanted = await outcomes.scheduled(session)
            await asyncio.to_thread(scheduler.reconcile, wanted)
            scheduler.wakeup()
            if schedule.reminder_after is None:
                return
            async with sessions.begin() as session:
                queued = await reminders.send_due(
                    session,
                    now=clock(),
                    after=schedule.reminder_after,
                    quiet=schedule.quiet,
                    text_for=reminder_text,
                )
            if queued:
                log.info("queued %s reminders", queued)
                sender.wake()

        runtime.tick = tick
        tasks.append(
            asyncio.create_task(_every(schedule.poll_seconds, stop, tick), name="schedule")
        )
        if config.rasa.manage:
            tasks.append(asyncio.create_task(_run_rasa(runtime, stop), name="rasa"))
        if telegram_polling and runtime.telegram is not None:
            tasks.append(
                asyncio.create_task(
                    runtime.telegram.poll(handle, stop, clock), name="telegram-poll"
                )
            )
        log.info("parentvoice ready on %s", config.server.public_url)
        try:
            yield
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.to_thread(scheduler.shutdown)
            if runtime.telegram is not None:
                await runtime.telegram.stop()
            for channel in runtime.twilio.values():
                await channel.stop()
            if webhook is not None:
                await webhook.close()
            if runtime.rasa_server is not None:
                await runtime.rasa_server.stop()
            await runtime.rasa.aclose()
            await engine.dispose()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.runtime = runtime
    app.add_middleware(BodyLimit, limit=config.server.max_body_bytes, exempt=(ACTIONS_PATH,))
    return app


async def _every(seconds: float, stop: asyncio.Event, job: Callable[[], Awaitable[Any]]) -> None:
    """Run ``job`` now and then every ``seconds`` until ``stop``; a failing run is logged, not fatal."""
    while not stop.is_set():
        try:
            await job()
        except Exception as exc:
            log.error(
                "periodic job %s failed: %s", getattr(job, "__name__", "?"), type(exc).__name__
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)


RASA_RESTART_DELAY = 5.0  # seconds before restarting a Rasa that died


async def _run_rasa(runtime: Runtime, stop: asyncio.Event) -> None:
    """Compile flows, train if needed, then keep Rasa running: start it, wait for it, and start
    it again if it dies, until ``stop``. Its state shows in /healthz."""
    config = runtime.config
    try:
        flow_set = load_flows(config.flows.dir)
        write_compiled(
            compile_flows(flow_set, config.flows.default_language), config.rasa.project_dir
        )
        rasa_bin = rasa_executable(config.root)
        model = await asyncio.to_thread(
            ensure_model, config.rasa.project_dir, config.rasa.model_dir, rasa_bin
        )
    except Exception:
        runtime.rasa_state = "unavailable"
        log.exception("rasa could not be prepared")
        return
    server = server_for(
        config,
        model=model,
        url=config.rasa.url,
        token=runtime.rasa_token,
        actions_url=f"http://127.0.0.1:{config.server.port}{ACTIONS_PATH}",
        name="rasa",
    )
    runtime.rasa_server = server
    while not stop.is_set():
        try:
            await server.start()
            await server.wait_ready()
            runtime.rasa_state = "ok"
            assert runtime.pipeline is not None
            await runtime.pipeline.retry_pending()  # anything that arrived while Rasa was down
            code = await server.wait_exit()
            log.error("rasa exited with code %s; restarting", code)
        except Exception as exc:
            log.error("rasa could not be started: %s", exc)
            await server.stop()
        runtime.rasa_state = "unavailable"
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), RASA_RESTART_DELAY)
