"""CRM users: creation and password checks (argon2)."""

from __future__ import annotations

import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import User

_hasher = PasswordHasher()


# Verifying against this when the e-mail is unknown keeps sign-in timing the same either way.
@functools.cache
def _dummy_hash() -> str:
    # made on first need, not at import: an Argon2 hash costs every process start 0.1-2 s of CPU
    return _hasher.hash("not a password anyone has")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    password: str,
    admin: bool = False,
    api_enabled: bool = True,
) -> User:
    email = normalise_email(email)
    if "@" not in email:
        raise ValueError(f"not an e-mail address: {email!r}")
    if len(password) < 8:
        raise ValueError("the password must have at least 8 characters")
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ValueError(f"a user with e-mail {email} already exists")
    user = User(
        email=email,
        name=name.strip() or email,
        password_hash=hash_password(password),
        roles="admin user" if admin else "user",
        api_enabled=api_enabled,
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, email: str, password: str) -> User | None:
    user = session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    return user
