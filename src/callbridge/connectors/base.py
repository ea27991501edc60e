"""The CRM connector protocol.

Every CRM (the built-in CRM, Salesforce, a third party's) implements
`CrmConnector`. Callbridge uses it for three things only: searching for the
screen pop, writing the activity that logs an interaction (idempotently, keyed
by the interaction id), and listing the CRM's users. Connectors raise the
typed `CrmError`s below so that the outbox can tell a retryable failure from
one an admin must fix, and so that the agent and admin get a message naming
the permission or field at fault.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True, slots=True)
class CrmRecord:
    """A record found in the CRM: enough to pop it and to link an activity to it."""

    object_type: str  # "contact", "account", "lead", "case" (Salesforce: "Contact", ...)
    record_id: str
    name: str
    phone: str = ""
    email: str = ""
    case_number: str = ""


@dataclass(frozen=True, slots=True)
class SearchRule:
    """An admin-defined search: the interaction's data key `data_key` against CRM field `field`."""

    data_key: str
    object_type: str
    field: str


class PopKind(StrEnum):
    RECORD = "record"
    SEARCH = "search"
    NEW_RECORD = "new_record"
    URL = "url"


@dataclass(frozen=True, slots=True)
class PopTarget:
    """Where the console should take the agent. The console's CRM host module carries it out."""

    kind: PopKind
    url: str
    object_type: str = ""
    record_id: str = ""
    query: str = ""
    prefill: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ActivityLog:
    """The activity that logs one interaction in the CRM."""

    external_id: str  # the interaction id: makes the write idempotent
    subject: str
    channel: str  # phone, chat, voicemail
    direction: str  # inbound, outbound
    started_at: datetime
    duration_seconds: int
    disposition: str
    comments: str
    queue_name: str = ""
    agent_email: str = ""
    crm_user_id: str = ""
    who: CrmRecord | None = None  # the person (contact, lead)
    what: CrmRecord | None = None  # the thing (account, case)


@dataclass(frozen=True, slots=True)
class ActivityWritten:
    activity_id: str
    created: bool  # False when an activity with that external id already existed and was updated


@dataclass(frozen=True, slots=True)
class CrmUser:
    user_id: str
    name: str
    email: str
    active: bool = True


@dataclass(frozen=True, slots=True)
class CrmLimits:
    comments_max_bytes: int
    can_attach_files: bool


class CrmError(Exception):
    """A CRM call failed. `retryable` tells the outbox whether trying again later can help."""

    retryable = False

    def __init__(self, message: str, *, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class CrmUnavailable(CrmError):
    """Unreachable, timed out, 5xx: try again later."""

    retryable = True


class CrmRateLimited(CrmError):
    """The CRM's request limit is exhausted (Salesforce REQUEST_LIMIT_EXCEEDED)."""

    retryable = True

    def __init__(self, message: str, *, code: str = "", retry_after_seconds: float | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after_seconds = retry_after_seconds


class CrmAuthError(CrmError):
    """The credentials are wrong or expired and could not be refreshed: someone must sign in again."""


class CrmPermissionError(CrmError):
    """The CRM user lacks a permission; the message names it (e.g. "API Enabled")."""

    def __init__(self, message: str, *, code: str = "", permission: str = "") -> None:
        super().__init__(message, code=code)
        self.permission = permission


class CrmFieldError(CrmError):
    """A field the call log needs is missing or not visible to the user; the message names it."""

    def __init__(self, message: str, *, code: str = "", field_name: str = "") -> None:
        super().__init__(message, code=code)
        self.field_name = field_name


class CrmValueTooLong(CrmError):
    """A value exceeds the field's limit (Salesforce STRING_TOO_LONG)."""

    def __init__(self, message: str, *, code: str = "", field_name: str = "", max_bytes: int | None = None) -> None:
        super().__init__(message, code=code)
        self.field_name = field_name
        self.max_bytes = max_bytes


@dataclass(frozen=True, slots=True)
class ConnectionProblem:
    """One thing an admin must fix, found by `check_connection`, in words they can act on."""

    code: str  # unreachable, bad_credentials, api_disabled, field_missing, ...
    message: str


@runtime_checkable
class CrmConnector(Protocol):
    """What Callbridge needs from a CRM. All I/O is async; targets are built without I/O."""

    async def search_by_phone(self, phone: str) -> Sequence[CrmRecord]: ...

    async def search_by_case_number(self, case_number: str) -> Sequence[CrmRecord]: ...

    async def search_by_rules(self, rules: Sequence[SearchRule], data: Mapping[str, str]) -> Sequence[CrmRecord]: ...

    def record_target(self, record: CrmRecord) -> PopTarget: ...

    def search_target(self, query: str) -> PopTarget: ...

    def new_record_target(self, object_type: str, prefill: Mapping[str, str]) -> PopTarget: ...

    async def limits(self) -> CrmLimits: ...

    async def write_activity(self, log: ActivityLog) -> ActivityWritten: ...

    async def attach_full_log(self, activity_id: str, filename: str, content: str) -> None: ...

    async def list_users(self, query: str = "") -> Sequence[CrmUser]: ...

    async def check_connection(self) -> Sequence[ConnectionProblem]: ...


class AccessTokenSource(Protocol):
    """Supplies OAuth access tokens to a connector (e.g. from tokens kept after SSO)."""

    async def access_token(self) -> str: ...

    async def refresh(self) -> str:
        """Gets a new access token after the CRM refused the current one (e.g. INVALID_SESSION_ID)."""
        ...


ConfigT = TypeVar("ConfigT")


@dataclass(frozen=True)  # not slots: a slotted frozen generic refuses the `__orig_class__` typing sets on it
class ConnectorDeps(Generic[ConfigT]):
    """What a connector needs from Callbridge: its settings, a token source, an HTTP client."""

    config: ConfigT
    tokens: AccessTokenSource
    http: httpx.AsyncClient
