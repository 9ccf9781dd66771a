"""A guard that makes any network access beyond the loopback interface fail loudly in tests.

External platforms are faked on 127.0.0.1; a test that reaches for the real Telegram (or DNS)
is a bug. ``install_network_guard()`` patches ``socket`` so such an attempt raises
``RuntimeError("network access outside 127.0.0.1 blocked in tests: ...")``.

SDKs may wrap that error (python-telegram-bot turns it into a ``NetworkError``, which the channel
then reports as a retryable delivery), so every blocked attempt is also recorded:
``blocked_attempts()`` lets a fixture fail the test that made one even if the error was caught.

Allowed: Unix sockets, loopback addresses (127.0.0.0/8, ::1) and the name ``localhost``.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = [
    "NetworkBlocked",
    "blocked_attempts",
    "clear_blocked_attempts",
    "install_network_guard",
    "network_guard",
    "network_guard_installed",
    "uninstall_network_guard",
]

_LOGGER = logging.getLogger(__name__)
_LOCAL_NAMES = frozenset({"localhost"})

_originals: dict[str, Callable[..., Any]] = {}
_blocked: list[str] = []


class NetworkBlocked(RuntimeError):
    """Raised on any attempt to reach a host other than the loopback interface."""


def install_network_guard() -> None:
    """Block every connection and name lookup that is not local. Idempotent."""
    if _originals:
        return
    for target, name, guarded in _patches():
        _originals[name] = getattr(target, name)
        setattr(target, name, guarded)


def uninstall_network_guard() -> None:
    """Restore the real ``socket`` functions. Idempotent."""
    if not _originals:
        return
    for target, name, _guarded in _patches():
        setattr(target, name, _originals[name])
    _originals.clear()


def _patches() -> list[tuple[object, str, Callable[..., Any]]]:
    """What the guard replaces: (owner, attribute, guarded version); names are unique."""
    return [
        (socket.socket, "connect", _guarded_connect),
        (socket.socket, "connect_ex", _guarded_connect_ex),
        (socket.socket, "sendto", _guarded_sendto),
        (socket.socket, "sendmsg", _guarded_sendmsg),
        (socket, "create_connection", _guarded_create_connection),
        (socket, "getaddrinfo", _guarded_getaddrinfo),
    ]


def network_guard_installed() -> bool:
    """Whether the guard is currently active."""
    return bool(_originals)


@contextmanager
def network_guard() -> Iterator[None]:
    """Run a block with the guard on, leaving it as it was before (installed or not)."""
    was_installed = network_guard_installed()
    install_network_guard()
    try:
        yield
    finally:
        if not was_installed:
            uninstall_network_guard()


def blocked_attempts() -> list[str]:
    """Every attempt blocked since the last ``clear_blocked_attempts()``, oldest first."""
    return list(_blocked)


def clear_blocked_attempts() -> None:
    """Forget the recorded attempts (e.g. at the start of each test)."""
    _blocked.clear()


def _block(what: str) -> NetworkBlocked:
    _blocked.append(what)
    _LOGGER.error("network access outside 127.0.0.1 blocked in tests: %s", what)
    return NetworkBlocked(f"network access outside 127.0.0.1 blocked in tests: {what}")


def _is_local_host(host: object) -> bool:
    """Whether ``host`` (a name or an address, as str or bytes) is this machine's loopback."""
    if host is None:  # getaddrinfo(None, port): a local, passive address
        return True
    if isinstance(host, bytes | bytearray):
        host = bytes(host).decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip().strip("[]").rstrip(".").lower().split("%", 1)[0]
    if name in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _check_address(sock: socket.socket, address: Any) -> None:
    family = sock.family
    if family == socket.AF_UNIX:
        return
    if family in (socket.AF_INET, socket.AF_INET6):
        host = address[0] if isinstance(address, tuple) and address else address
        if _is_local_host(host):
            return
        raise _block(f"{family.name} connection to {address!r}")
    raise _block(f"socket family {family!r} to {address!r}")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check_address(self, address)
    _originals["connect"](self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check_address(self, address)
    result: int = _originals["connect_ex"](self, address)
    return result


def _guarded_sendto(self: socket.socket, data: Any, *args: Any) -> int:
    # sendto(data, address) or sendto(data, flags, address)
    if args:
        _check_address(self, args[-1])
    result: int = _originals["sendto"](self, data, *args)
    return result


def _guarded_sendmsg(self: socket.socket, buffers: Any, *args: Any) -> int:
    # sendmsg(buffers, ancdata, flags, address): only the 4-argument form names a destination
    if len(args) >= 3 and args[2] is not None:
        _check_address(self, args[2])
    result: int = _originals["sendmsg"](self, buffers, *args)
    return result


def _guarded_create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> Any:
    if not _is_local_host(address[0]):
        raise _block(f"create_connection to {address!r}")
    return _originals["create_connection"](address, *args, **kwargs)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if not _is_local_host(host):
        raise _block(f"name lookup of {host!r}")
    return _originals["getaddrinfo"](host, *args, **kwargs)
