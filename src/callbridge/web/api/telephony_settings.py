"""The tenant's telephony command channel: where Callbridge sends signed commands, and which ones its PBX
follows (docs/channels.md, "The command webhook")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, StringConstraints

from callbridge.channels.commands import (
    DEFAULT_COMMANDS,
    MAX_SECRET_CHARS,
    MIN_SECRET_CHARS,
    Command,
    CommandSettingsStore,
    InvalidSetting,
)
from callbridge.web.api.audit import actor_of
from callbridge.web.api.schemas import Input
from callbridge.web.deps import ServicesDep, TenantAdminDep
from callbridge.web.errors import ERROR_RESPONSES, InvalidField

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["telephony"])


class TelephonySettingsIn(Input):
    webhook_url: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = Field(
        description="Where commands are POSTed (https; http only to localhost). null removes the channel"
    )
    signing_secret: (
        Annotated[str, StringConstraints(min_length=MIN_SECRET_CHARS, max_length=MAX_SECRET_CHARS)] | None
    ) = Field(default=None, description="HMAC-SHA256 key of the signature header; omit to keep the stored one")
    timeout_seconds: float = Field(default=3.0, ge=0.5, le=10, description="How long to wait for the PBX")
    commands: list[Command] = Field(
        default=list(DEFAULT_COMMANDS),
        max_length=6,
        description="The commands the PBX follows: hold, resume (the default; both or neither, else 422), connect "
        "(bridge a call an agent accepts in the console to that agent, asked before the offer is accepted), hang_up "
        "(the agent hung up in the console), dial (click to dial), transfer (to an outside number)",
    )


class TelephonySettingsOut(BaseModel):
    webhook_url: str | None
    has_signing_secret: bool
    timeout_seconds: float
    commands: list[Command]


def _store(request: Request) -> CommandSettingsStore:
    found: CommandSettingsStore = request.app.state.channels.command_settings
    return found


@router.get("/tenants/{tenant_id}/telephony/settings")
def get_telephony_settings(tenant_id: str, request: Request, who: TenantAdminDep) -> TelephonySettingsOut:
    """The command webhook (the secret is never shown)."""
    return TelephonySettingsOut.model_validate(_store(request).describe(tenant_id))


@router.put("/tenants/{tenant_id}/telephony/settings")
def put_telephony_settings(
    tenant_id: str, body: TelephonySettingsIn, request: Request, svc: ServicesDep, who: TenantAdminDep
) -> TelephonySettingsOut:
    store = _store(request)
    try:
        store.save(
            tenant_id,
            body.webhook_url,
            body.signing_secret,
            body.timeout_seconds,
            actor_of(svc.engine, who),
            tuple(body.commands),
        )
    except InvalidSetting as error:
        raise InvalidField(str(error), error.field) from None
    return get_telephony_settings(tenant_id, request, who)
