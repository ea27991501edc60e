"""Request and response bodies of the REST API. Strict: unknown fields are refused."""

from __future__ import annotations

import re
import zoneinfo
from typing import Annotated, Literal

import phonenumbers
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from callbridge.domain.model import Channel, Queue, Role

Identifier = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"),
    Field(description="Letters, digits, '_', '.', '-'; up to 64 characters, starting with a letter or digit"),
]
SkillName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Disposition = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _email(value: str) -> str:
    value = value.strip()
    if not _EMAIL.match(value) or len(value) > 320:
        raise ValueError("must be an e-mail address like name@example.com")
    return value


Email = Annotated[str, AfterValidator(_email)]


def _origin(value: str) -> str:
    match = re.fullmatch(r"(https?)://([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(:\d{1,5})?", value.strip().rstrip("/"))
    if not match:
        raise ValueError(
            "must be an origin like https://example.my.salesforce.com (scheme, host, optional port; no path)"
        )
    return match.group(0).lower()


Origin = Annotated[str, AfterValidator(_origin)]

# The largest integer the databases hold (SQLite INTEGER, PostgreSQL BIGINT): ids, sequence numbers and
# offsets beyond it are refused by name (422) instead of failing in the query.
DB_INT_MAX = 2**63 - 1


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TenantIn(Input):
    id: Identifier
    name: str = Field(min_length=1, max_length=200)
    time_zone: str = Field(default="UTC", description="IANA time zone, e.g. Europe/Paris")
    phone_region: str = Field(
        default="US",
        description="Default region for phone numbers without a country code: caller ids, dialled numbers and "
        "numbers searched for are read in it (docs/screen-pop-and-auto-log.md)",
    )
    allowed_origins: list[Origin] = Field(default_factory=list, max_length=50)

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError("must be an IANA time zone such as Europe/Paris or America/New_York") from None
        return value

    @field_validator("phone_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        value = value.upper()
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError("must be a two-letter region code such as US, GB or FR")
        return value


class TenantUpdate(TenantIn):
    id: Identifier | None = None  # type: ignore[assignment]


class TenantOut(BaseModel):
    id: str
    name: str
    time_zone: str
    phone_region: str
    allowed_origins: list[str]


class SkillIn(Input):
    name: SkillName
    description: str = Field(default="", max_length=500)


class SkillOut(BaseModel):
    name: str
    description: str


SkillLevel = Annotated[int, Field(ge=0, le=10)]


class QueueIn(Input):
    id: Identifier
    name: str = Field(min_length=1, max_length=200)
    channel: Channel
    required_skills: dict[SkillName, SkillLevel] = Field(default_factory=dict, max_length=20)
    priority: int = Field(default=0, ge=-100, le=100, description="Higher is offered first, across queues")
    service_level_seconds: int = Field(default=20, ge=1, le=3600)
    offer_timeout_seconds: int = Field(default=20, ge=5, le=600)
    wrap_up_seconds: int = Field(default=30, ge=0, le=3600)
    offer_during_wrap_up: bool = Field(
        default=False,
        description="Whether an agent in wrap-up may be offered this queue's work (off: the next offer waits "
        "until the agent completes the wrap-up, as in Amazon Connect and Twilio Flex)",
    )
    dispositions: list[Disposition] = Field(
        default_factory=list,
        max_length=50,
        description="The dispositions an agent picks from in wrap-up (empty: the console's general list)",
    )
    disposition_required: bool = Field(
        default=False, description="Whether Complete is refused (422, field `disposition`) without a disposition"
    )

    @field_validator("dispositions")
    @classmethod
    def _each_once(cls, value: list[str]) -> list[str]:
        if len({v.casefold() for v in value}) != len(value):
            raise ValueError("name each disposition once")
        return value

    def to_queue(self, queue_id: str) -> Queue:
        return Queue(
            id=queue_id,
            name=self.name,
            channel=self.channel,
            required_skills=dict(self.required_skills),
            priority=self.priority,
            service_level_seconds=self.service_level_seconds,
            offer_timeout_seconds=self.offer_timeout_seconds,
            wrap_up_seconds=self.wrap_up_seconds,
            offer_during_wrap_up=self.offer_during_wrap_up,
            dispositions=tuple(self.dispositions),
            disposition_required=self.disposition_required,
        )


class QueueUpdate(QueueIn):
    id: Identifier | None = None  # type: ignore[assignment]


class QueueOut(BaseModel):
    id: str
    name: str
    channel: Channel
    required_skills: dict[str, int]
    priority: int
    service_level_seconds: int
    offer_timeout_seconds: int
    wrap_up_seconds: int
    offer_during_wrap_up: bool
    dispositions: list[str]
    disposition_required: bool

    @classmethod
    def of(cls, queue: Queue) -> QueueOut:
        return cls(
            id=queue.id,
            name=queue.name,
            channel=queue.channel,
            required_skills=dict(queue.required_skills),
            priority=queue.priority,
            service_level_seconds=queue.service_level_seconds,
            offer_timeout_seconds=queue.offer_timeout_seconds,
            wrap_up_seconds=queue.wrap_up_seconds,
            offer_during_wrap_up=queue.offer_during_wrap_up,
            dispositions=list(queue.dispositions),
            disposition_required=queue.disposition_required,
        )


Capacity = Annotated[int, Field(ge=0, le=50)]


class AgentIn(Input):
    id: Identifier
    email: Email
    display_name: str = Field(min_length=1, max_length=200)
    roles: list[Role] = Field(default_factory=lambda: [Role.AGENT], min_length=1)
    skills: dict[SkillName, SkillLevel] = Field(default_factory=dict, max_length=50)
    capacity: dict[Channel, Capacity] = Field(
        default_factory=lambda: {Channel.PHONE: 1, Channel.CHAT: 3, Channel.VOICEMAIL: 1}
    )
    queue_ids: list[Identifier] = Field(default_factory=list, max_length=200)
    enabled: bool = True
    auto_login: bool = Field(default=True, description="Auto login for single sign-on when the CRM opens")

    @field_validator("capacity")
    @classmethod
    def _one_call(cls, value: dict[Channel, int]) -> dict[Channel, int]:
        if value.get(Channel.PHONE, 0) > 1:
            raise ValueError("phone capacity is 0 or 1: an agent takes one call at a time")
        return value


class AgentUpdate(AgentIn):
    id: Identifier | None = None  # type: ignore[assignment]


class AgentOut(BaseModel):
    id: str
    email: str
    display_name: str
    roles: list[str]
    skills: dict[str, int]
    capacity: dict[str, int]
    queue_ids: list[str]
    enabled: bool
    auto_login: bool
    status: str
    status_reason: str
    status_since: float


class ApiKeyIn(Input):
    name: str = Field(min_length=1, max_length=200)


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: float
    revoked_at: float | None


class NewApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str
    secret: str = Field(description="Shown once; Callbridge keeps only a hash")


DataValue = Annotated[str, StringConstraints(max_length=1000)]
Address = Annotated[str, StringConstraints(max_length=320)]


class InteractionIn(Input):
    id: Identifier | None = Field(default=None, description="Your id for it; generated when omitted")
    queue_id: Identifier
    channel: Channel
    from_address: Address = Field(default="", description="Caller id, chat e-mail, …")
    to_address: Address = ""
    case_number: Annotated[str, StringConstraints(max_length=64)] = ""
    data: dict[Annotated[str, StringConstraints(min_length=1, max_length=64)], DataValue] = Field(
        default_factory=dict, max_length=50, description="IVR digits, chat form fields, …"
    )
    priority: int | None = Field(default=None, ge=-100, le=100, description="Defaults to the queue's priority")


class EndIn(Input):
    reason: Annotated[str, StringConstraints(max_length=200)] = "ended"


class StatusIn(Input):
    status: Literal["available", "break", "working_offline"]
    reason: Annotated[str, StringConstraints(max_length=200)] = ""


class CompleteIn(Input):
    disposition: Annotated[str, StringConstraints(max_length=200)] = ""
    notes: Annotated[str, StringConstraints(max_length=32000)] = ""


class TransferIn(Input):
    target: (
        Annotated[str, StringConstraints(pattern=r"^(\+[1-9][0-9]{6,14}|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$")] | None
    ) = Field(
        default=None,
        description="Where the call goes: a queue id, an agent id (offered to them at once), or an outside number "
        "in E.164 (`+` and 7 to 15 digits; dialled through the trunk, calls carried by Callbridge's voice only). "
        "A name that is both a queue and an agent means the queue.",
    )
    queue_id: Identifier | None = Field(
        default=None, description="The same as `target` naming a queue (older clients); give one of the two"
    )


class CallIn(Input):
    to_address: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    queue_id: Identifier | None = None
    data: dict[Annotated[str, StringConstraints(min_length=1, max_length=64)], DataValue] = Field(
        default_factory=dict, max_length=50, description="e.g. the CRM record the number was clicked on"
    )


class AdminLoginIn(Input):
    email: Email
    password: str = Field(min_length=1, max_length=500)


class TokenOut(BaseModel):
    token: str
    expires_in: int


class TicketOut(BaseModel):
    ticket: str
    expires_in: float
    url: str = Field(description="Path of the WebSocket to open with this ticket")
