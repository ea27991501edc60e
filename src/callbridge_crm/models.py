"""The CRM's tables: records, users, and the identity provider's state."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from callbridge_ratelimit import counters_table


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """An aware UTC datetime on every engine (SQLite keeps no time zone, so store naive UTC)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else value.replace(tzinfo=dt.UTC)


class Base(DeclarativeBase):
    pass


# Request rate-limit counters (callbridge_ratelimit's database storage; see callbridge_crm.rate_limits).
rate_limit_counters = counters_table(Base.metadata)


class Organization(Base):
    """The one CRM organisation this database holds (Salesforce calls it an org)."""

    __tablename__ = "organization"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    default_region: Mapped[str] = mapped_column(String(2))
    next_case_number: Mapped[int] = mapped_column(Integer, default=1001)
    # Signs the CRM's own session cookies; made once so restarts keep people signed in.
    session_secret: Mapped[str] = mapped_column(String(128), default=lambda: secrets.token_urlsafe(48))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class User(Base):
    __tablename__ = "crm_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    # Space-separated: "admin" and/or "user".
    roles: Mapped[str] = mapped_column(String(255), default="user")
    # Salesforce's "API Enabled" permission: without it the REST API refuses the user's tokens.
    api_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)

    @property
    def role_list(self) -> list[str]:
        return self.roles.split()

    @property
    def is_admin(self) -> bool:
        return "admin" in self.role_list


class Account(Base):
    __tablename__ = "account"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    phone: Mapped[str | None] = mapped_column(String(64))
    website: Mapped[str | None] = mapped_column(String(255))
    industry: Mapped[str | None] = mapped_column(String(120))
    city: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Contact(Base):
    __tablename__ = "contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str | None] = mapped_column(String(120))
    last_name: Mapped[str] = mapped_column(String(120), index=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(64))
    mobile_phone: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(120))
    city: Mapped[str | None] = mapped_column(String(120))
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)

    account: Mapped[Account | None] = relationship()

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


class Lead(Base):
    __tablename__ = "lead"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str | None] = mapped_column(String(120))
    last_name: Mapped[str] = mapped_column(String(120), index=True)
    company: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(64))
    mobile_phone: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(40), default="Open")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


class Case(Base):
    __tablename__ = "crm_case"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_number: Mapped[str] = mapped_column(String(30), unique=True)
    subject: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(40), default="New")
    priority: Mapped[str] = mapped_column(String(40), default="Medium")
    origin: Mapped[str | None] = mapped_column(String(40))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)

    contact: Mapped[Contact | None] = relationship()
    account: Mapped[Account | None] = relationship()

    @property
    def name(self) -> str:
        return f"{self.case_number} {self.subject}"


class Activity(Base):
    """A logged interaction: a call, chat or voicemail (Salesforce's Task)."""

    __tablename__ = "activity"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    subject: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(20))
    start: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    disposition: Mapped[str | None] = mapped_column(String(255))
    comments: Mapped[str | None] = mapped_column(Text)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"), index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("crm_case.id"), index=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("lead.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("crm_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)

    contact: Mapped[Contact | None] = relationship()
    account: Mapped[Account | None] = relationship()
    case: Mapped[Case | None] = relationship()
    lead: Mapped[Lead | None] = relationship()
    owner: Mapped[User | None] = relationship()

    @property
    def name(self) -> str:
        return self.subject


class Attachment(Base):
    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activity.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class PhoneIndex(Base):
    """One row per phone number per record, keyed by E.164, so a phone search is one index lookup."""

    __tablename__ = "phone_index"
    __table_args__ = (Index("ix_phone_index_record", "object_type", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    e164: Mapped[str] = mapped_column(String(20), index=True)
    object_type: Mapped[str] = mapped_column(String(20))
    record_id: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(40))


# --- identity provider -------------------------------------------------------------------------


# The token endpoint auth method of a public client: it has no secret and must use PKCE.
PUBLIC_CLIENT_AUTH_METHOD = "none"  # noqa: S105


class OAuthClient(Base):
    """A registered OpenID Connect client (relying party), e.g. one Callbridge installation."""

    __tablename__ = "oauth_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    # sha256 of the secret; None for a public client (PKCE, no secret).
    client_secret_hash: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    redirect_uris_json: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(String(255))
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)

    @property
    def redirect_uris(self) -> list[str]:
        uris: list[str] = json.loads(self.redirect_uris_json)
        return uris

    @property
    def is_public(self) -> bool:
        return self.token_endpoint_auth_method == PUBLIC_CLIENT_AUTH_METHOD

    @property
    def client_metadata(self) -> dict[str, Any]:
        return {"redirect_uris": self.redirect_uris, "client_name": self.name}


class AuthorizationCode(Base):
    __tablename__ = "oauth_authorization_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(120), unique=True)
    client_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("crm_user.id"))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(String(255))
    auth_time: Mapped[int] = mapped_column(Integer)
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(10))
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())

    user: Mapped[User] = relationship()


class OAuthToken(Base):
    """An issued access token (and its refresh token); only hashes of the token strings are kept."""

    __tablename__ = "oauth_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("crm_user.id"))
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[int] = mapped_column(Integer)
    expires_in: Mapped[int] = mapped_column(Integer)
    access_token_revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    refresh_token_revoked: Mapped[bool] = mapped_column(Boolean, default=False)

    user: Mapped[User] = relationship(lazy="joined")


class SpentCode(Base):
    """An authorization code already exchanged (by hash), kept until a while after it would have expired:
    presenting it again revokes every token issued from it (RFC 6749 section 4.1.2)."""

    __tablename__ = "oauth_spent_code"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    forget_after: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)


class TokenOrigin(Base):
    """Which authorization code a token descends from (directly, or through refresh-token rotation)."""

    __tablename__ = "oauth_token_origin"

    token_id: Mapped[int] = mapped_column(ForeignKey("oauth_token.id", ondelete="CASCADE"), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), index=True)


class Consent(Base):
    """A user's "Allow" for one client, remembered so the consent screen shows only on first use."""

    __tablename__ = "oauth_consent"
    __table_args__ = (UniqueConstraint("user_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("crm_user.id"))
    client_id: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class LoginFailure(Base):
    """Wrong passwords in a row for one account (`account:<e-mail>`) or from one address (`address:<ip>`), and
    until when sign-ins there must wait (see callbridge_crm.throttle). Seconds since the epoch."""

    __tablename__ = "login_failure"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[float] = mapped_column(Float)
    blocked_until: Mapped[float] = mapped_column(Float)


class SigningKey(Base):
    """The RS256 key that signs ID tokens, generated at first start."""

    __tablename__ = "signing_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    private_jwk_json: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
