"""The local web chat channel: its JSON API, the page and the terminal client.

The API is driven in-process through httpx's ASGI transport; the terminal client talks to a real
uvicorn server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator, MutableMapping
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette

from bot.channels.base import Inbound, InboundKind, Outbound, Sender
from bot.channels.web import WebChatChannel
from bot.chat_client import run_terminal_chat
from bot.errors import PermanentDelivery

NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
API = "/chat/api/messages"


class FakePipeline:
    """Records every Inbound and answers through the channel, as the real outbox would."""

    def __init__(self, channel: WebChatChannel) -> None:
        self.channel = channel
        self.received: list[Inbound] = []
        self.failures_left = 0
        self.replies: dict[str, list[Outbound]] = {}

    async def handle(self, inbound: Inbound) -> None:
        if self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("database is down")
        self.received.append(inbound)
        default = [Outbound(f"You said: {inbound.text}")]
        for message in self.replies.get(inbound.text, default):
            await self.channel.send(inbound.address, message)


class FakeClock:
    """A monotonic clock that tests move on by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_app(channel: WebChatChannel, pipeline: FakePipeline) -> Starlette:
    return Starlette(routes=channel.routes(pipeline.handle, lambda: NOW))


@pytest.fixture
def channel() -> WebChatChannel:
    return WebChatChannel()


@pytest.fixture
def pipeline(channel: WebChatChannel) -> FakePipeline:
    return FakePipeline(channel)


@pytest.fixture
async def client(
    channel: WebChatChannel, pipeline: FakePipeline
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(channel, pipeline))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def new_id() -> str:
    return str(uuid.uuid4())


def message(session: str, text: str = "hello", client_id: str | None = None) -> dict[str, str]:
    return {"session": session, "text": text, "client_id": client_id or new_id()}


async def poll(
    http: httpx.AsyncClient, session: str, after: int = 0, wait: float = 0
) -> list[dict[str, Any]]:
    response = await http.get(API, params={"session": session, "after": after, "wait": wait})
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


# ---- posting messages ----


async def test_post_hands_a_normalised_inbound_to_the_pipeline(
    client: httpx.AsyncClient, pipeline: FakePipeline
) -> None:
    session, client_id = new_id(), new_id()

    response = await client.post(API, json=message(session, "  Hello there \n", client_id))

    assert response.status_code == 202
    assert response.json() == {"ok": True}
    assert pipeline.received == [
        Inbound(
            channel="web",
            address=session,
            platform_id=f"web:{client_id}",
            kind=InboundKind.TEXT,
            text="Hello there",
            received_at=NOW,
        )
    ]


async def test_session_ids_are_normalised_so_one_chat_has_one_address(
    client: httpx.AsyncClient, pipeline: FakePipeline
) -> None:
    session = new_id()

    await client.post(API, json=message(session.upper(), "hi"))

    assert pipeline.received[0].address == session
    assert [m["text"] for m in await poll(client, session.upper())] == ["You said: hi"]


async def test_text_of_exactly_the_limit_is_accepted(
    client: httpx.AsyncClient, pipeline: FakePipeline
) -> None:
    pipeline.replies["x" * 10_000] = []
    response = await client.post(API, json=message(new_id(), "x" * 10_000))
    assert response.status_code == 202


VALIDATION_CASES: list[tuple[str, dict[str, Any], int]] = [
    ("bad JSON", {"content": b'{"session": ', "ct": "application/json"}, 400),
    ("JSON not an object", {"json": ["hello"]}, 400),
    ("session not a UUID", {"json": {**message(new_id()), "session": "12345"}}, 400),
    ("session missing", {"json": {"text": "hi", "client_id": new_id()}}, 400),
    ("client_id not a UUID", {"json": {**message(new_id()), "client_id": "retry-1"}}, 400),
    ("text empty after strip", {"json": message(new_id(), "  \n\t ")}, 400),
    ("text not a string", {"json": {**message(new_id()), "text": 42}}, 400),
    ("text of 11,000 chars", {"json": message(new_id(), "a" * 11_000)}, 400),
    ("body over 64 KB", {"json": message(new_id(), "a" * 70_000)}, 413),
    ("not JSON content type", {"content": json.dumps(message(new_id())), "ct": "text/plain"}, 415),
]


@pytest.mark.parametrize(
    ("case", "request_kwargs", "status"), VALIDATION_CASES, ids=[c[0] for c in VALIDATION_CASES]
)
async def test_bad_posts_are_refused_with_a_json_error(
    client: httpx.AsyncClient,
    pipeline: FakePipeline,
    case: str,
    request_kwargs: dict[str, Any],
    status: int,
) -> None:
    kwargs = dict(request_kwargs)
    if "ct" in kwargs:
        kwargs["headers"] = {"Content-Type": kwargs.pop("ct")}

    response = await client.post(API, **kwargs)

    assert response.status_code == status, case
    assert isinstance(response.json()["error"], str)
    assert pipeline.received == []


async def test_a_large_body_without_content_length_is_cut_off_at_64_kb(
    client: httpx.AsyncClient, pipeline: FakePipeline
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b" " * 4096  # whitespace: valid JSON padding, so only the size is wrong

    response = await client.post(
        API, content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 413
    assert response.json()["error"]
    assert pipeline.received == []


async def test_pipeline_failure_answers_503_and_a_retry_with_the_same_client_id_goes_through(
    client: httpx.AsyncClient, pipeline: FakePipeline
) -> None:
    pipeline.failures_left = 1
    body = message(new_id(), "hello")

    first = await client.post(API, json=body)
    second = await client.post(API, json=body)

    assert first.status_code == 503
    assert "database" not in first.json()["error"]  # the cause stays in the server
    assert second.status_code == 202
    assert [i.platform_id for i in pipeline.received] == [f"web:{body['client_id']}"]


# ---- long-polling for replies ----


async def test_reply_from_the_pipeline_comes_back_through_the_long_poll(
    client: httpx.AsyncClient, pipeline: FakePipeline
) -> None:
    session = new_id()
    pipeline.replies["hello"] = [Outbound("Hello!\nHow was your visit?", ("Good", "Not good"))]

    await client.post(API, json=message(session, "hello"))

    assert await poll(client, session) == [
        {"seq": 1, "text": "Hello!\nHow was your visit?", "choices": ["Good", "Not good"]}
    ]


async def test_after_returns_only_newer_messages(
    client: httpx.AsyncClient, channel: WebChatChannel
) -> None:
    session = new_id()
    ids = [await channel.send(session, Outbound(f"m{n}")) for n in (1, 2, 3)]

    assert ids == [f"web:{session}:1", f"web:{session}:2", f"web:{session}:3"]
    assert [m["seq"] for m in await poll(client, session, after=1)] == [2, 3]
    assert await poll(client, session, after=3) == []
    assert await poll(client, new_id()) == []  # other sessions see nothing


async def test_wait_returns_as_soon_as_a_message_arrives(
    client: httpx.AsyncClient, channel: WebChatChannel
) -> None:
    session = new_id()
    waiting = asyncio.create_task(poll(client, session, wait=10))
    await asyncio.sleep(0.2)
    assert not waiting.done()

    started = time.monotonic()
    await channel.send(session, Outbound("there you are"))
    messages = await asyncio.wait_for(waiting, timeout=5)

    assert time.monotonic() - started < 2
    assert [m["text"] for m in messages] == ["there you are"]


async def test_wait_gives_up_with_nothing_after_the_wait(client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    assert await poll(client, new_id(), wait=0.3) == []
    assert 0.25 <= time.monotonic() - started < 3


@pytest.mark.parametrize(
    "params",
    [
        {"session": "not-a-uuid"},
        {},
        {"session": new_id(), "after": "x"},
        {"session": new_id(), "after": "-1"},
        {"session": new_id(), "wait": "26"},
        {"session": new_id(), "wait": "-1"},
        {"session": new_id(), "wait": "nan"},
    ],
)
async def test_bad_polls_are_refused_with_a_json_error(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get(API, params=params)
    assert response.status_code == 400
    assert response.json()["error"]


async def test_mailbox_keeps_only_the_last_messages(client: httpx.AsyncClient) -> None:
    channel = WebChatChannel(max_messages=5)
    session = new_id()
    for n in range(1, 8):
        await channel.send(session, Outbound(f"m{n}"))
    transport = httpx.ASGITransport(app=make_app(channel, FakePipeline(channel)))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        assert [m["seq"] for m in await poll(http, session)] == [3, 4, 5, 6, 7]


async def test_idle_sessions_are_forgotten_and_numbering_starts_again() -> None:
    clock = FakeClock()
    channel = WebChatChannel(idle_timeout=3600, monotonic=clock)
    session, other = new_id(), new_id()
    await channel.send(session, Outbound("old"))
    await channel.send(session, Outbound("older still"))

    clock.now += 3601
    await channel.send(other, Outbound("someone else"))  # any activity prunes idle sessions

    assert await channel.send(session, Outbound("new")) == f"web:{session}:1"
    transport = httpx.ASGITransport(app=make_app(channel, FakePipeline(channel)))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        # The browser still thinks it has seen seq 2: it gets what there is, from the start.
        assert [m["text"] for m in await poll(http, session, after=2)] == ["new"]


async def test_sessions_are_capped(client: httpx.AsyncClient) -> None:
    channel = WebChatChannel(max_sessions=2)
    first, second, third = new_id(), new_id(), new_id()
    for session in (first, second, third):
        await channel.send(session, Outbound("hi"))

    assert await channel.send(first, Outbound("again")) == f"web:{first}:1"
    assert await channel.send(third, Outbound("again")) == f"web:{third}:2"


async def test_send_refuses_an_address_that_is_not_a_session(channel: WebChatChannel) -> None:
    with pytest.raises(PermanentDelivery):
        await channel.send("+447700900123", Outbound("hi"))


def test_is_a_sender() -> None:
    sender: Sender = WebChatChannel()
    assert sender.name == "web"


# ---- the page and its files ----


async def test_page_is_labelled_and_announces_replies(client: httpx.AsyncClient) -> None:
    response = await client.get("/chat")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page = response.text
    assert "<title>ParentVoice — tell us what it was like</title>" in page
    assert '<label for="message">' in page and 'id="message"' in page
    assert 'aria-live="polite"' in page
    assert "This is a local test chat. It is not watched in real time." in page
    assert "In an emergency call 999." in page
    assert "Say hello to start" in page
    assert "Start again with a new chat" in page


@pytest.mark.parametrize(
    ("name", "media_type"), [("chat.js", "text/javascript"), ("chat.css", "text/css")]
)
async def test_static_files_are_served(
    client: httpx.AsyncClient, name: str, media_type: str
) -> None:
    response = await client.get(f"/chat/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)
    assert response.headers["x-content-type-options"] == "nosniff"


async def raw_get(app: Starlette, path: str) -> tuple[int, bytes]:
    """GET ``path`` exactly as given, as a client that keeps dot segments (curl --path-as-is)."""
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(event: MutableMapping[str, Any]) -> None:
        sent.append(event)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    body = b"".join(e.get("body", b"") for e in sent if e["type"] == "http.response.body")
    return sent[0]["status"], body


@pytest.mark.parametrize(
    "path",
    [
        "/chat/static/chat.html",
        "/chat/static/web.py",
        "/chat/static/..",
        "/chat/static/../channels/web.py",
        "/chat/static/../../../pyproject.toml",
        "/chat/static/..\\..\\pyproject.toml",
        "/chat/static/chat.js\x00.py",
        "/chat/static/",
    ],
)
async def test_static_serves_nothing_else(
    channel: WebChatChannel, pipeline: FakePipeline, path: str
) -> None:
    status, body = await raw_get(make_app(channel, pipeline), path)
    assert status == 404
    assert b"[project]" not in body and b"import" not in body


@pytest.mark.parametrize(
    "path", ["/chat/static/%2e%2e", "/chat/static/..%2Fchannels%2Fweb.py", "/chat/static/%2Fetc"]
)
async def test_static_serves_nothing_else_when_encoded(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 404


async def test_page_files_never_inject_html_and_load_nothing_external(
    client: httpx.AsyncClient,
) -> None:
    page = (await client.get("/chat")).text
    script = (await client.get("/chat/static/chat.js")).text
    style = (await client.get("/chat/static/chat.css")).text

    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
    assert "textContent" in script
    for text in (page, script, style):
        assert "http://" not in text and "https://" not in text and "//cdn" not in text
    assert "<script>" not in page and "style=" not in page  # nothing inline: the CSP forbids it
    assert "white-space: pre-wrap" in style


# ---- the terminal client against a real server ----


@pytest.fixture
def live_server() -> Iterator[tuple[str, FakePipeline]]:
    channel = WebChatChannel()
    pipeline = FakePipeline(channel)
    pipeline.replies["hello"] = [Outbound("Hello! How was your visit?", ("Good", "Not good"))]
    pipeline.replies["2"] = [
        Outbound("Sorry to hear that."),
        Outbound("What went wrong?\nTell me."),
    ]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(make_app(channel, pipeline), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", pipeline
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def scripted(*lines: str) -> Iterator[str]:
    yield from lines


def input_from(lines: Iterator[str]) -> Any:
    def read(prompt: str) -> str:
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    return read


def test_terminal_chat_posts_lines_and_prints_replies_and_choices(
    live_server: tuple[str, FakePipeline],
) -> None:
    url, pipeline = live_server
    out = io.StringIO()

    run_terminal_chat(
        url,
        input_fn=input_from(scripted("hello", "   ", "2", "/quit", "never sent")),
        output=out,
        settle=0.3,
    )

    assert [i.text for i in pipeline.received] == ["hello", "2"]
    assert len({i.address for i in pipeline.received}) == 1
    lines = out.getvalue().splitlines()
    replies = [
        line for line in lines if not line.startswith(("ParentVoice test chat", "This chat"))
    ]
    assert replies == [
        "bot> Hello! How was your visit?",
        "  1) Good",
        "  2) Not good",
        "bot> Sorry to hear that.",
        "bot> What went wrong?",
        "Tell me.",
    ]
    assert "In an emergency call 999." in out.getvalue()


def test_terminal_chat_ends_at_end_of_input(live_server: tuple[str, FakePipeline]) -> None:
    url, pipeline = live_server
    out = io.StringIO()

    run_terminal_chat(url + "/", input_fn=input_from(scripted("hi there")), output=out, settle=0.2)

    assert [i.text for i in pipeline.received] == ["hi there"]
    assert "bot> You said: hi there" in out.getvalue()


def test_terminal_chat_explains_when_the_server_is_not_running() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    out = io.StringIO()

    run_terminal_chat(url, input_fn=input_from(scripted("hello")), output=out)

    assert out.getvalue() == f"Cannot reach ParentVoice at {url} — start it with `make run`\n"


async def test_close_answers_open_long_polls_at_once() -> None:
    """Shutdown must not wait 25 s for a browser's long-poll."""
    channel = WebChatChannel()
    session = str(uuid.uuid4())
    poll = asyncio.create_task(channel._wait_for_messages(session, 0, 20))
    await asyncio.sleep(0.05)
    assert not poll.done()
    channel.close()
    assert await asyncio.wait_for(poll, 1) == []
    assert await asyncio.wait_for(channel._wait_for_messages(session, 0, 20), 1) == []
