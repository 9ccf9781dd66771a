"""Serving a fake platform API: an ASGI app on a free port of 127.0.0.1, run by uvicorn inside the
current event loop (so it works under pytest-asyncio's session loop)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp


class _QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers, so Ctrl-C still reaches pytest."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class LoopbackServer:
    """Start with ``await start()``, stop with ``await stop()``; ``port`` once started."""

    def __init__(self, app: ASGIApp, name: str) -> None:
        self._app = app
        self._name = name
        self._server: _QuietServer | None = None
        self._serving: asyncio.Task[None] | None = None
        self._listener: socket.socket | None = None
        self.port: int | None = None

    async def start(self) -> None:
        """Serve on a free port of 127.0.0.1; return once it accepts connections."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        config = uvicorn.Config(
            self._app,
            log_config=None,  # uvicorn's default would reconfigure the test process's logging
            access_log=False,
            lifespan="off",
            http="h11",
            ws="none",
            timeout_graceful_shutdown=2,
        )
        self._server = _QuietServer(config)
        self._serving = asyncio.create_task(self._server.serve(sockets=[listener]))
        while not self._server.started:
            if self._serving.done():
                listener.close()
                raise RuntimeError(
                    f"{self._name}: the server did not start"
                ) from self._serving.exception()
            await asyncio.sleep(0.005)
        self._listener = listener
        self.port = int(listener.getsockname()[1])

    async def stop(self) -> None:
        """Stop serving and release the port. Safe to call more than once."""
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            await self._serving
        if self._listener is not None:
            self._listener.close()
        self._server = self._serving = self._listener = None
        self.port = None

    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``; raises if not running."""
        if self.port is None:
            raise RuntimeError(f"{self._name} is not running; use `async with`")
        return f"http://127.0.0.1:{self.port}"
