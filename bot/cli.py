"""`parentvoice`: serve, chat, flows, redact, analyse, export, outcomes, db, rasa. Operator mistakes
exit 2 with a clear line."""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from bot.config import Config, load_config
from bot.errors import ConfigError, FlowError, ParentVoiceError
from bot.logs import configure as configure_logging

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


def _serve(config: Config, args: argparse.Namespace) -> int:
    import uvicorn

    from bot.server import create_app

    os.umask(0o077)  # databases, logs and Rasa's files under var/ are readable by this user only
    configure_logging(config.logging.level, config.logging.file)
    app = create_app(config, telegram_polling=args.telegram_polling)
    base = f"http://{config.server.host}:{config.server.port}"
    print(
        f"\nParentVoice is starting. Web chat: {base}/chat   (health: {base}/healthz)\n"
        "Rasa takes about 20 seconds to load; messages sent meanwhile are answered when it is up.\n",
        flush=True,
    )
    runtime = app.state.runtime

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: object) -> None:
            if runtime.web is not None:
                runtime.web.close()  # open long-polls end now, so shutdown is prompt and quiet
            super().handle_exit(sig, frame)  # type: ignore[arg-type]

    # access_log off: web chat URLs carry the session id, which is that chat's address.
    server_config = uvicorn.Config(
        app,
        host=config.server.host,
        port=config.server.port,
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=3,
    )
    Server(server_config).run()
    return 0


def _flows(config: Config, args: argparse.Namespace) -> int:
    from flows.compile import compile_flows, write_compiled
    from flows.plain import PLAIN_ENOUGH, describe, reading_ease
    from flows.spec import english_texts, lint, load_flows, segment_report

    flow_set = load_flows(config.flows.dir)
    if args.flows_command == "validate":
        for item in segment_report(flow_set):
            print(f"{item.where}: {item.segments} SMS segment(s), {item.encoding}")
        for where, text in english_texts(flow_set):
            score = reading_ease(text)
            print(f"{where}: reading ease {score:.0f} ({describe(score)})")
            if score < PLAIN_ENOUGH:
                print(
                    f"warning: {where}: hard to read (reading ease {score:.0f}); shorter words and sentences help"
                )
        for warning in lint(flow_set):
            print(f"warning: {warning}")
        for flow in flow_set.flows.values():
            print(
                f"ok: flow {flow.id!r} v{flow.version}, {len(flow.questions)} questions, "
                f"languages {', '.join(flow.languages)}"
            )
        return 0
    files = compile_flows(flow_set, config.flows.default_language)
    if args.check:
        stale = [
            rel
            for rel, content in files.items()
            if not (config.rasa.project_dir / rel).exists()
            or (config.rasa.project_dir / rel).read_text(encoding="utf-8") != content
        ]
        for rel in stale:
            print(f"out of date: nlu/{rel} (run `make compile`)")
        return 1 if stale else 0
    for path in write_compiled(files, config.rasa.project_dir):
        print(f"wrote {path}")
    return 0


def _redact(config: Config, args: argparse.Namespace) -> int:
    from bot.redact import redact_stream

    # Lines end at "\n" only (a stray "\r" must not split a line in two), bytes that are not
    # UTF-8 become U+FFFD rather than an error, and output is UTF-8 whatever the locale says.
    if isinstance(sys.stdin, io.TextIOWrapper):
        sys.stdin.reconfigure(encoding="utf-8", errors="replace", newline="\n")
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(encoding="utf-8", errors="strict", newline="\n")
    for line in redact_stream(sys.stdin, config.security.pseudonym_key, as_json=args.json):
        sys.stdout.write(line + "\n")
    sys.stdout.flush()
    return 0


def _analyse(config: Config, args: argparse.Namespace) -> int:
    from bot.analyse import Analyser, ProgressBar, analyse_csv, analyse_lines
    from bot.insight import models

    if (args.csv is None) != (args.column is None):
        raise ParentVoiceError("use --csv FILE and --column NAME together")
    analyser = Analyser(config.security.pseudonym_key, models())
    if args.csv is None:
        if isinstance(sys.stdin, io.TextIOWrapper):
            sys.stdin.reconfigure(encoding="utf-8", errors="replace", newline="\n")
        if isinstance(sys.stdout, io.TextIOWrapper):
            sys.stdout.reconfigure(encoding="utf-8", errors="strict", newline="\n")
        for line in analyse_lines(sys.stdin, analyser):
            sys.stdout.write(line + "\n")
            sys.stdout.flush()  # one line out per line in, as it is ready (a pipe, a REPL)
        return 0
    source = Path(args.csv)
    target = Path(args.out) if args.out else source.with_name(source.stem + ".analysed.csv")
    if target.resolve() == source.resolve():
        raise ParentVoiceError("--out must not be the input file")
    rows = analyse_csv(source, args.column, target, analyser, ProgressBar())
    print(f"wrote {target} ({rows} rows)")
    return 0


def _export(config: Config, args: argparse.Namespace) -> int:
    from bot.export import ExportFilter, export_to_path
    from bot.server import utc_now
    from storage.db import make_engine, make_sessionmaker, migrate

    try:
        since = date.fromisoformat(args.since) if args.since else None
        until = date.fromisoformat(args.until) if args.until else None
    except ValueError as exc:
        raise ParentVoiceError(f"dates must be YYYY-MM-DD: {exc}") from exc
    migrate(config.database.url)

    async def run() -> int:
        engine = make_engine(config.database.url)
        try:
            return await export_to_path(
                make_sessionmaker(engine),
                args.format,
                Path(args.out),
                ExportFilter(flow_id=args.flow, since=since, until=until),
                actor="cli",
                now=utc_now(),
            )
        finally:
            await engine.dispose()

    rows = asyncio.run(run())
    print(f"exported {rows} messages to {args.out}", file=sys.stderr)
    return 0


def _parse_when(text: str, config: Config, what: str) -> datetime:
    """An ISO 8601 time; without a zone it is read in schedule.timezone."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise ParentVoiceError(
            f"{what} must be an ISO 8601 time like 2026-12-01T09:00 or 2026-12-01T09:00+00:00, "
            f"got {text!r}"
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=config.schedule.quiet.zone)
    return moment


def _outcomes(config: Config, args: argparse.Namespace) -> int:
    from storage.db import make_engine, make_sessionmaker, migrate

    migrate(config.database.url)
    command = {
        "create": _outcome_create,
        "list": _outcome_list,
        "show": _outcome_show,
        "cancel": _outcome_cancel,
    }[args.outcomes_command]

    async def run() -> int:
        engine = make_engine(config.database.url)
        try:
            await command(make_sessionmaker(engine), config, args)
            return 0
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _local(moment: datetime | None, config: Config) -> str:
    """A stored time as staff read it: in schedule.timezone."""
    if moment is None:
        return "-"
    return f"{moment.astimezone(config.schedule.quiet.zone):%Y-%m-%d %H:%M %Z}"


async def _outcome_create(sessions: Any, config: Config, args: argparse.Namespace) -> None:
    from bot import outcomes
    from bot.server import utc_now
    from flows.spec import load_flows
    from storage.models import AuditEntry

    texts = {args.lang: args.message}
    for item in args.translation or []:
        lang, sep, text = item.partition("=")
        if not sep:
            raise ParentVoiceError(f"--translation must be LANG=TEXT, got {item!r}")
        texts[lang.strip()] = text
    now = utc_now()
    async with sessions.begin() as session:
        outcome, checks = await outcomes.create(
            session,
            flow_set=load_flows(config.flows.dir),
            flow_id=args.flow,
            texts=texts,
            send_at=_parse_when(args.send_at, config, "--send-at"),
            quiet=config.schedule.quiet,
            now=now,
            default_language=config.flows.default_language,
            themes=tuple(t.strip() for t in (args.themes or "").split(",") if t.strip()),
            engaged_from=_parse_when(args.since, config, "--from") if args.since else None,
            engaged_to=_parse_when(args.until, config, "--to") if args.until else None,
        )
        reach = len(await outcomes.recipients(session, outcome))
        detail = {"outcome": outcome.id, "flow": outcome.flow_id}
        session.add(AuditEntry(at=now, actor="cli", action="outcome_create", detail=detail))
    line = f"outcome {outcome.id} scheduled for {_local(outcome.due_at, config)}"
    if outcome.due_at != outcome.send_at:
        line += (
            f" (asked for {_local(outcome.send_at, config)}, inside quiet hours "
            f"{config.schedule.quiet.describe()})"
        )
    print(line)
    for check in checks:
        print(
            f"  [{check.language}] {check.characters} characters, "
            f"{check.segments} SMS segment(s), {check.encoding}"
        )
    print(f"  would reach {reach} parent(s) if it went now; counted again when it goes")


async def _outcome_list(sessions: Any, config: Config, _: argparse.Namespace) -> None:
    from bot import outcomes

    async with sessions() as session:
        rows = await outcomes.all_outcomes(session)
        if not rows:
            print("no outcomes yet")
        for outcome in rows:
            report = await outcomes.report(session, outcome.id)
            print(
                f"{outcome.id:>4}  {outcome.status:<9}  {_local(outcome.due_at, config)}  "
                f"{outcome.flow_id}  {','.join(outcome.themes or []) or 'all themes'}  "
                f"recipients={report.recipients} sent={report.sent}"
            )


async def _outcome_show(sessions: Any, config: Config, args: argparse.Namespace) -> None:
    from bot import outcomes

    async with sessions() as session:
        report = await outcomes.report(session, args.id)
    o = report.outcome
    print(f"outcome {o.id}: {o.status}")
    print(f"  flow: {o.flow_id}   themes: {', '.join(o.themes or []) or 'all'}")
    if o.engaged_from or o.engaged_to:
        print(f"  engagement: {_local(o.engaged_from, config)} to {_local(o.engaged_to, config)}")
    print(f"  send at: {_local(o.send_at, config)}   due: {_local(o.due_at, config)}")
    print(f"  created: {_local(o.created_at, config)} by {o.created_by}")
    for label, moment in (("enqueued", o.enqueued_at), ("cancelled", o.cancelled_at)):
        if moment is not None:
            print(f"  {label}: {_local(moment, config)}")
    for lang, text in o.texts.items():
        print(f"  [{lang}] {text}")
    print(
        f"  recipients {report.recipients}, sent {report.sent}, delivered {report.delivered} "
        f"(SMS and WhatsApp confirm delivery; Telegram does not), failed {report.failed}, "
        f"waiting {report.pending}, dropped after STOP {report.dropped}"
    )
    print(
        f"  opted out since {report.opted_out_since}; "
        f"replies {report.replies} from {report.repliers} parent(s)"
    )
    if report.by_channel:
        channels = ", ".join(f"{k} {v}" for k, v in sorted(report.by_channel.items()))
        print(f"  by channel: {channels}")


async def _outcome_cancel(sessions: Any, config: Config, args: argparse.Namespace) -> None:
    from bot import outcomes
    from bot.server import utc_now
    from storage.models import AuditEntry

    now = utc_now()
    async with sessions.begin() as session:
        outcome = await outcomes.cancel(session, args.id, now)
        detail = {"outcome": outcome.id}
        session.add(AuditEntry(at=now, actor="cli", action="outcome_cancel", detail=detail))
    print(f"outcome {outcome.id} cancelled")


def _staff(config: Config, args: argparse.Namespace) -> int:
    """Add a staff account: the password from stdin (--password-stdin), else a one-time link."""
    from bot.server import utc_now
    from bot.staff import accounts
    from storage.db import make_engine, make_sessionmaker, migrate

    password = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        accounts.check_password(password)
    migrate(config.database.url)

    async def run() -> str | None:
        engine = make_engine(config.database.url)
        try:
            async with make_sessionmaker(engine).begin() as session:
                now = utc_now()
                user = await accounts.add_user(session, args.email, args.role, now, password)
                return None if password else await accounts.new_invite(session, user, now)
        finally:
            await engine.dispose()

    token = asyncio.run(run())
    print(f"added {accounts.normalise_email(args.email)} as {args.role}")
    if token:
        print(
            "send them this one-time link to set a password (valid 72 hours, shown only now):\n"
            f"{config.server.public_url}/staff/set-password?token={token}"
        )
    return 0


def _keys(config: Config, args: argparse.Namespace) -> int:
    """Key rotation: the vault key or the pseudonym key."""
    if args.keys_command == "rotate-pseudonyms":
        return _rotate_pseudonyms(config)
    return _rotate_vault(config)


def _in_batches(
    database_url: str, work: Callable[[AsyncSession, int], Awaitable[int | None]]
) -> None:
    """Run ``await work(session, after)`` until it returns None, each call its own transaction:
    it handles the next batch of rows whose key is above ``after`` and returns the last key it
    handled. Safe to stop and run again (the key rotations)."""
    from storage.db import make_engine, make_sessionmaker, migrate

    migrate(database_url)

    async def run() -> None:
        engine = make_engine(database_url)
        try:
            sessions = make_sessionmaker(engine)
            after: int | None = -1
            while after is not None:
                async with sessions.begin() as session:
                    after = await work(session, after)
        finally:
            await engine.dispose()

    asyncio.run(run())


def _rotate_vault(config: Config) -> int:
    """Re-seal every stored contact address with the newest vault key."""
    from sqlalchemy import select

    from bot.vault import Vault, vault_keys
    from storage.models import Contact

    vault = Vault(config.security.vault_key)
    count = 0

    async def reseal(session: AsyncSession, after: int) -> int | None:
        nonlocal count
        batch = list(
            await session.scalars(
                select(Contact)
                .where(Contact.participant_id > after)
                .order_by(Contact.participant_id)
                .limit(500)
            )
        )
        for contact in batch:
            contact.address_encrypted = vault.reseal(contact.address_encrypted)
        count += len(batch)
        return batch[-1].participant_id if batch else None

    _in_batches(config.database.url, reseal)
    keys = len(vault_keys(config.security.vault_key))
    print(f"re-sealed {count} contact addresses with the newest of {keys} vault key(s)")
    if keys > 1:
        print(
            "every address now opens with the first key alone: drop the others from the environment"
        )
    return 0


def _rotate_pseudonyms(config: Config) -> int:
    """Give every participant whose address is still in the vault the pseudonym made with the
    first of security.pseudonym_key's keys, and move their Rasa tracker rows with it."""
    from collections import Counter

    from sqlalchemy import select

    from bot import tracker_store
    from bot.pseudonym import pseudonym
    from bot.server import utc_now
    from bot.vault import Vault
    from storage import participants
    from storage.models import Contact, Participant

    vault, key, tracker = (
        Vault(config.security.vault_key),
        config.security.pseudonym_key,
        config.rasa.tracker_db,
    )
    counts: Counter[str] = Counter()

    async def rekey(session: AsyncSession, after: int) -> int | None:
        batch = (
            await session.execute(
                select(
                    Participant.id,
                    Participant.pseudonym,
                    Participant.channel,
                    Contact.address_encrypted,
                )
                .outerjoin(Contact, Contact.participant_id == Participant.id)
                .where(Participant.id > after)
                .order_by(Participant.id)
                .limit(500)
            )
        ).all()
        moves: dict[str, str] = {}
        for participant_id, old, channel, sealed in batch:
            if sealed is None:
                counts["purged"] += 1
                continue
            new = pseudonym(key, channel, vault.open(sealed))
            if new == old:
                counts["current"] += 1
            elif await participants.by_pseudonym(session, new) is not None:
                counts["taken"] += 1
            elif await participants.rekey(session, participant_id, old, new, utc_now()):
                moves[old] = new
            elif await session.scalar(
                select(Participant.pseudonym).where(Participant.id == participant_id)
            ) in (new, None):  # the app re-keyed them just now (or erased them)
                counts["current"] += 1
            else:  # an app process is answering them at this moment
                counts["busy"] += 1
        # Rasa's rows move before the batch commits (a failure rolls it back), so no app
        # process can ask Rasa under a new pseudonym without its history.
        counts["tracker rows"] += await asyncio.to_thread(
            tracker_store.move_senders, tracker, moves
        )
        counts["re-keyed"] += len(moves)
        return batch[-1].id if batch else None

    _in_batches(config.database.url, rekey)
    print(
        f"re-keyed {counts['re-keyed']} participant(s) to the first of "
        f"{1 + len(config.security.pseudonym_old_keys)} pseudonym key(s); "
        f"{counts['current']} already had it"
    )
    if not isinstance(tracker, Path) or tracker.exists():
        print(f"moved {counts['tracker rows']} Rasa tracker row(s) to the new sender ids")
    else:
        print(f"no Rasa tracker store at {tracker}: no tracker rows to move")
    if counts["purged"]:
        print(
            f"{counts['purged']} participant(s) cannot be re-keyed: their address was already "
            "purged from the vault. They keep the pseudonym they have and stay linked only to "
            "their past data; once the old key is dropped, a parent writing again from such an "
            "address starts as a new participant"
        )
    if counts["taken"]:
        print(
            f"{counts['taken']} participant(s) left as they are: a separate participant already "
            "has their new pseudonym (that parent wrote while the app lacked the old key)"
        )
    if counts["busy"]:
        print(
            f"{counts['busy']} participant(s) were being answered at that moment and were left "
            "as they are: run the command again"
        )
    elif config.security.pseudonym_old_keys:
        print(
            "everyone who could be re-keyed has been: the old keys can be dropped from the "
            'environment (DEPLOYMENT.md, "Rotating keys", says what that costs)'
        )
    return 0


def _chat(config: Config, args: argparse.Namespace) -> int:
    from bot.chat_client import run_terminal_chat

    run_terminal_chat(args.url or f"http://{config.server.host}:{config.server.port}")
    return 0


def _db(config: Config, _: argparse.Namespace) -> int:
    from storage.db import migrate

    migrate(config.database.url)
    print("database schema is up to date")
    return 0


def _train(config: Config, _: argparse.Namespace) -> int:
    from bot.rasa_process import ensure_model, rasa_executable
    from flows.compile import compile_flows, write_compiled
    from flows.spec import load_flows

    write_compiled(
        compile_flows(load_flows(config.flows.dir), config.flows.default_language),
        config.rasa.project_dir,
    )
    model = ensure_model(
        config.rasa.project_dir, config.rasa.model_dir, rasa_executable(config.root)
    )
    print(f"rasa model: {model}")
    return 0


def _rasa_run(config: Config, args: argparse.Namespace) -> int:
    """One Rasa worker in the foreground, for a process manager (see DEPLOYMENT.md): the model
    as trained, the tracker and lock stores from config, the app's action endpoint."""
    import signal

    from bot.rasa_process import ensure_model, rasa_executable, server_for
    from bot.server import ACTIONS_PATH

    if not config.rasa.token:
        raise ConfigError("rasa.token must be set: the app and every Rasa worker share it")
    port = args.port or urlparse(config.rasa.urls[0]).port or 5005
    model = ensure_model(
        config.rasa.project_dir, config.rasa.model_dir, rasa_executable(config.root)
    )
    server = server_for(
        config,
        model=model,
        url=f"http://127.0.0.1:{port}",
        token=config.rasa.token,
        actions_url=args.actions_url or f"http://127.0.0.1:{config.server.port}{ACTIONS_PATH}",
        name=f"rasa-{port}",
    )

    async def run() -> int | None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await server.start()
        print(f"rasa worker on 127.0.0.1:{port} (log: {server.log_file})")
        exited = asyncio.create_task(server.wait_exit())
        await asyncio.wait(
            [exited, asyncio.create_task(stop.wait())], return_when="FIRST_COMPLETED"
        )
        if exited.done():
            return exited.result()
        await server.stop()
        return 0

    return int(asyncio.run(run()) or 0)


def build_parser() -> argparse.ArgumentParser:
    """The command line; see README for each command."""
    parser = argparse.ArgumentParser(prog="parentvoice", description=__doc__)
    parser.add_argument(
        "--config", help="config file (default: $PARENTVOICE_CONFIG or config.yaml)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the app (and Rasa, when rasa.manage is true)")
    serve.add_argument(
        "--telegram-polling",
        action="store_true",
        help="fetch Telegram updates by polling (no public URL needed)",
    )
    serve.set_defaults(run=_serve)
    chat = sub.add_parser("chat", help="talk to a running ParentVoice in the terminal")
    chat.add_argument("--url", help="base URL of the running app")
    chat.set_defaults(run=_chat)
    flows = sub.add_parser("flows", help="validate or compile flows")
    flows_sub = flows.add_subparsers(dest="flows_command", required=True)
    flows_sub.add_parser("validate", help="check every flow; errors name the flow and question")
    compile_ = flows_sub.add_parser("compile", help="write Rasa domain and rules under nlu/")
    compile_.add_argument(
        "--check", action="store_true", help="exit 1 if generated files are stale"
    )
    flows.set_defaults(run=_flows, check=False)
    redact = sub.add_parser("redact", help="redact text lines from stdin")
    redact.add_argument("--json", action="store_true", help='one {"text", "entities"} per line')
    redact.set_defaults(run=_redact)
    analyse = sub.add_parser(
        "analyse",
        help="safeguarding, themes and sentiment for comments on stdin (JSON lines) or in a CSV",
    )
    analyse.add_argument("--csv", metavar="FILE", help="a CSV of comments collected elsewhere")
    analyse.add_argument("--column", metavar="NAME", help="the CSV column holding the comments")
    analyse.add_argument(
        "--out", metavar="FILE", help="where to write (default: FILE.analysed.csv)"
    )
    analyse.set_defaults(run=_analyse)
    export = sub.add_parser("export", help="export anonymised transcripts, one row per message")
    export.add_argument("--format", choices=("csv", "jsonl", "xlsx"), required=True)
    export.add_argument("--out", required=True, help="output file")
    export.add_argument("--flow", help="only this flow id")
    export.add_argument("--since", help="YYYY-MM-DD, inclusive")
    export.add_argument("--until", help="YYYY-MM-DD, inclusive")
    export.set_defaults(run=_export)
    outcomes = sub.add_parser("outcomes", help='"you said, we did": messages back to parents')
    outcomes_sub = outcomes.add_subparsers(dest="outcomes_command", required=True)
    create = outcomes_sub.add_parser("create", help="schedule an outcome message")
    create.add_argument("--flow", required=True, help="the engagement (flow id) it answers")
    create.add_argument("--message", required=True, help="the text parents get")
    create.add_argument("--lang", default="en", help="the message's language (default: en)")
    create.add_argument(
        "--translation",
        action="append",
        metavar="LANG=TEXT",
        help="the message in another language (repeat for each)",
    )
    create.add_argument(
        "--send-at", required=True, help="ISO 8601; without a zone, in schedule.timezone"
    )
    create.add_argument("--themes", help="only parents whose answers raised these (a,b)")
    create.add_argument("--from", dest="since", help="only conversations started from this time")
    create.add_argument("--to", dest="until", help="... and before this time")
    outcomes_sub.add_parser("list", help="every outcome, newest first")
    show = outcomes_sub.add_parser("show", help="one outcome and its delivery report")
    show.add_argument("id", type=int)
    cancel = outcomes_sub.add_parser("cancel", help="cancel an outcome not yet sent")
    cancel.add_argument("id", type=int)
    outcomes.set_defaults(run=_outcomes)
    staff = sub.add_parser("staff", help="staff accounts for the /staff web app")
    staff_add = staff.add_subparsers(dest="staff_command", required=True).add_parser(
        "add", help="add an account; prints a one-time link unless --password-stdin"
    )
    staff_add.add_argument("email")
    staff_add.add_argument("--role", required=True, choices=("admin", "analyst", "safeguarding"))
    staff_add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin",
    )
    staff.set_defaults(run=_staff)
    keys = sub.add_parser("keys", help="key rotation")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    keys_sub.add_parser(
        "rotate-vault",
        help="re-seal every contact address with the first of security.vault_key's keys",
    )
    keys_sub.add_parser(
        "rotate-pseudonyms",
        help="re-key every participant with an address in the vault to the first of "
        "security.pseudonym_key's keys, and move their Rasa tracker rows",
    )
    keys.set_defaults(run=_keys)
    db = sub.add_parser("db", help="database schema")
    db.add_subparsers(dest="db_command", required=True).add_parser(
        "upgrade", help="migrate to latest"
    )
    db.set_defaults(run=_db)
    rasa = sub.add_parser("rasa", help="Rasa model")
    rasa_commands = rasa.add_subparsers(dest="rasa_command", required=True)
    rasa_commands.add_parser(
        "train", help="compile flows and train if the inputs changed"
    ).set_defaults(run=_train)
    worker = rasa_commands.add_parser(
        "run", help="run one Rasa worker (several share rasa.tracker_db and rasa.lock_store)"
    )
    worker.add_argument("--port", type=int, help="port on 127.0.0.1 (default: rasa.url's)")
    worker.add_argument(
        "--actions-url", help="the app's action endpoint (default: this host's app)"
    )
    worker.set_defaults(run=_rasa_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `parentvoice` command."""
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
        return int(args.run(config, args))
    except FlowError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1
    except ParentVoiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
