"""Voice administration (docs/voice.md): dialled numbers → queues, and agents' desk phones. Every change is in
the audit log (`voice_number.*`, `desk_phone.*`; a password only as changed).

Numbers and desk phones are stored whether or not voice runs on this node; when it runs, a desk phone's
credentials reach Kamailio at once (and a removed one is forgotten, its registrations dropped).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, StringConstraints

from callbridge.channels.sip.directory import DeskPhone, DirectoryError, Number, VoiceDirectory
from callbridge.domain.errors import NotFound
from callbridge.web.api.audit import actor_of
from callbridge.web.api.schemas import Identifier, Input
from callbridge.web.deps import ServicesDep, TenantAdminDep
from callbridge.web.errors import ERROR_RESPONSES, InvalidField

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["voice"])


class NumberIn(Input):
    queue_id: Identifier = Field(description="The phone queue calls to this number join")
    greeting_id: Identifier | None = Field(
        default=None, description="An agent greeting (WAV, MP3) played to callers before the hold music"
    )


class NumberOut(BaseModel):
    number: str
    queue_id: str
    greeting_id: str | None


class DeskPhoneIn(Input):
    username: Annotated[str, StringConstraints(min_length=3, max_length=64)] = Field(
        description="SIP user name the phone registers as (unique)"
    )
    password: Annotated[str, StringConstraints(min_length=12, max_length=128)] = Field(
        description="Digest password; only its HA1 is stored"
    )


class DeskPhoneOut(BaseModel):
    agent_id: str
    username: str
    realm: str


def _directory(request: Request, svc: ServicesDep) -> VoiceDirectory:
    voice = request.app.state.channels.voice
    if voice is not None:
        found: VoiceDirectory = voice.directory
        return found
    return VoiceDirectory(svc.engine, svc.settings.voice_sip_realm)


def _number_out(number: Number) -> NumberOut:
    return NumberOut(number=number.number, queue_id=number.queue_id, greeting_id=number.greeting_id)


def _phone_out(phone: DeskPhone, realm: str) -> DeskPhoneOut:
    return DeskPhoneOut(agent_id=phone.agent_id, username=phone.username, realm=realm)


@router.get("/tenants/{tenant_id}/voice/numbers")
async def list_numbers(tenant_id: str, request: Request, svc: ServicesDep, who: TenantAdminDep) -> list[NumberOut]:
    directory = _directory(request, svc)
    return [_number_out(number) for number in await asyncio.to_thread(directory.numbers, tenant_id)]


@router.put("/tenants/{tenant_id}/voice/numbers/{number}")
async def put_number(
    tenant_id: str, number: str, body: NumberIn, request: Request, svc: ServicesDep, who: TenantAdminDep
) -> NumberOut:
    """Maps a dialled number (E.164, e.g. +14155550100) to a phone queue."""
    directory = _directory(request, svc)
    try:
        actor = await asyncio.to_thread(actor_of, svc.engine, who)
        saved = await asyncio.to_thread(
            directory.put_number, tenant_id, number, body.queue_id, body.greeting_id, svc.clock.now(), actor
        )
    except DirectoryError as error:
        raise InvalidField(str(error), error.field) from None
    return _number_out(saved)


@router.delete("/tenants/{tenant_id}/voice/numbers/{number}", status_code=204)
async def delete_number(
    tenant_id: str, number: str, request: Request, svc: ServicesDep, who: TenantAdminDep
) -> Response:
    actor = await asyncio.to_thread(actor_of, svc.engine, who)
    if not await asyncio.to_thread(_directory(request, svc).delete_number, tenant_id, number, actor):
        raise NotFound("number", number)
    return Response(status_code=204)


@router.get("/tenants/{tenant_id}/voice/desk-phones")
async def list_desk_phones(
    tenant_id: str, request: Request, svc: ServicesDep, who: TenantAdminDep
) -> list[DeskPhoneOut]:
    directory = _directory(request, svc)
    return [_phone_out(phone, directory.realm) for phone in await asyncio.to_thread(directory.desk_phones, tenant_id)]


@router.put("/tenants/{tenant_id}/voice/desk-phones/{agent_id}")
async def put_desk_phone(
    tenant_id: str, agent_id: str, body: DeskPhoneIn, request: Request, svc: ServicesDep, who: TenantAdminDep
) -> DeskPhoneOut:
    """Gives the agent a SIP desk phone: it registers to Kamailio with these credentials and rings on offers."""
    directory = _directory(request, svc)
    try:
        actor = await asyncio.to_thread(actor_of, svc.engine, who)
        phone, replaced = await asyncio.to_thread(
            directory.put_desk_phone, tenant_id, agent_id, body.username, body.password, svc.clock.now(), actor
        )
    except DirectoryError as error:
        raise InvalidField(str(error), error.field) from None
    voice = request.app.state.channels.voice
    if voice is not None:
        if replaced is not None:
            await voice.forget_phone(replaced)
        await voice.push_phone(phone)
    return _phone_out(phone, directory.realm)


@router.delete("/tenants/{tenant_id}/voice/desk-phones/{agent_id}", status_code=204)
async def delete_desk_phone(
    tenant_id: str, agent_id: str, request: Request, svc: ServicesDep, who: TenantAdminDep
) -> Response:
    actor = await asyncio.to_thread(actor_of, svc.engine, who)
    username = await asyncio.to_thread(_directory(request, svc).delete_desk_phone, tenant_id, agent_id, actor)
    if username is None:
        raise NotFound("desk phone", agent_id)
    voice = request.app.state.channels.voice
    if voice is not None:
        await voice.forget_phone(username)
    return Response(status_code=204)
