"""Staff accounts: argon2id passwords, lockout, sessions and one-time links. Never commits.

Tokens (session cookies, one-time links) are random and only their SHA-256 digest is stored, so a
copy of the database lets no one sign in. Lockout: ``MAX_FAILED`` wrong passwords in a row lock
the account for ``LOCKOUT``; the error a person sees is the same whether the email exists, the
password is wrong or the account is locked, so the form tells an attacker nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import ParentVoiceError
from storage.db import as_utc
from storage.models import AuditEntry, StaffInvite, StaffSession, StaffUser

ROLES = ("admin", "analyst", "safeguarding")
MAX_FAILED = 5
LOCKOUT = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=8)  # a working day; then sign in again
INVITE_LIFETIME = timedelta(hours=72)
MIN_PASSWORD = 12

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified when the email is unknown, so that answer takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ParentVoiceError):
    """A staff account could not be created or changed; the message says why."""


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    local, at, domain = email.partition("@")
    if not (local and at and "." in domain) or len(email) > 254 or any(c.isspace() for c in email):
        raise AccountError(f"{email!r} is not an email address")
    return email


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")


async def add_user(
    session: AsyncSession, email: str, role: str, now: datetime, password: str | None = None
) -> StaffUser:
    """A new staff account; without a password, set one later through ``new_invite``."""
    email = normalise_email(email)
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}: use {', '.join(ROLES)}")
    if await session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
        raise AccountError(f"{email} already has an account")
    if password is not None:
        check_password(password)
    user = StaffUser(
        email=email,
        role=role,
        password_hash=_hasher.hash(password) if password is not None else None,
        failed_logins=0,
        created_at=now,
    )
    session.add(user)
    await session.flush()
    session.add(
        AuditEntry(at=now, actor="cli", action="staff_add", detail={"email": email, "role": role})
    )
    return user


async def new_invite(session: AsyncSession, user: StaffUser, now: datetime) -> str:
    """A one-time token for ``user`` to set their password (the link carries it)."""
    token = secrets.token_urlsafe(32)
    session.add(
        StaffInvite(
            id=digest(token), user_id=user.id, created_at=now, expires_at=now + INVITE_LIFETIME
        )
    )
    return token


async def use_invite(session: AsyncSession, token: str, password: str, now: datetime) -> StaffUser:
    """Set a password with a one-time link's token; the token then no longer works."""
    invite = await session.get(StaffInvite, digest(token))
    if invite is None or invite.used_at is not None or as_utc(invite.expires_at) <= now:
        raise AccountError("this link has expired or was already used: ask an admin for a new one")
    check_password(password)
    user = await session.get(StaffUser, invite.user_id)
    if user is None:
        raise AccountError("this account no longer exists")
    invite.used_at = now
    user.password_hash = _hasher.hash(password)
    user.failed_logins, user.locked_until = 0, None
    return user


@dataclass(frozen=True)
class SignIn:
    """A successful sign-in: the cookie's token and the session's CSRF token."""

    user: StaffUser
    token: str
    csrf_token: str


async def sign_in(session: AsyncSession, email: str, password: str, now: datetime) -> SignIn | None:
    """Check a password and open a session; None on any failure (the caller says one thing)."""
    try:
        email = normalise_email(email)
    except AccountError:
        return None
    user = await session.scalar(select(StaffUser).where(StaffUser.email == email))
    if user is None or user.password_hash is None:
        _verify(_DUMMY_HASH, password)
        return None
    if user.locked_until is not None and as_utc(user.locked_until) > now:
        _verify(_DUMMY_HASH, password)
        return None
    if not _verify(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
            session.add(AuditEntry(at=now, actor=user.email, action="staff_locked", detail={}))
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            id=digest(token), user_id=user.id, csrf_token=csrf, created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )  # fmt: skip
    session.add(AuditEntry(at=now, actor=user.email, action="staff_sign_in", detail={}))
    return SignIn(user, token, csrf)


def _verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def current(
    session: AsyncSession, token: str | None, now: datetime
) -> tuple[StaffUser, StaffSession] | None:
    """The signed-in user and session for a cookie's token, if it is valid and not expired."""
    if not token:
        return None
    found = await session.get(StaffSession, digest(token))
    if found is None or as_utc(found.expires_at) <= now:
        return None
    user = await session.get(StaffUser, found.user_id)
    return (user, found) if user is not None else None


async def sign_out(session: AsyncSession, token: str) -> None:
    await session.execute(delete(StaffSession).where(StaffSession.id == digest(token)))
