"""Voice administration (docs/voice.md): dialled numbers → queues, agents' desk phones, which phone rings
for an agent (the console's browser softphone or the desk phone), the tenant's hold music, and what voice is
doing now (status). Every change is in the audit log (`voice_number.*`, `desk_phone.*`, `agent_phone.set`,
`voice_hold_music.*`; a password only as changed).

`GET /api/v1/me/softphone` gives a signed-in agent's console what its softphone registers with: short-lived
SIP credentials derived from the agent's session (channels/sip/webrtc.py), never a stored password.

Numbers and desk phones are stored whether or not voice runs on this node; when it runs, a desk phone's
credentials reach Kamailio at once (and a removed one is forgotten, its registrations dropped).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, StringConstraints
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect

from callbridge.channels.sip.directory import (
    MENU_ATTEMPTS,
    MENU_WAIT_SECONDS,
    AgentPhone,
    DeskPhone,
    DirectoryError,
    Menu,
    Number,
    VoiceDirectory,
)
from callbridge.channels.sip.hold_music import (
    HOLD_MUSIC_MAX_BYTES,
    HOLD_MUSIC_MAX_MB,
    HoldMusic,
    HoldMusicError,
    HoldMusicStore,
)
from callbridge.domain.errors import NotFound
from callbridge.web.api.audit import actor_of
from callbridge.web.api.schemas import Identifier, Input
from callbridge.web.deps import AgentDep, ServicesDep, TenantAdminDep
from callbridge.web.errors import ERROR_RESPONSES, InvalidField, error_response
from callbridge.web.uploads import NotMultipart, UploadTooLarge, abandoned, upload_form

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["voice"])


class NumberIn(Input):
    queue_id: Identifier = Field(description="The phone queue calls to this number join")
    greeting_id: Identifier | None = Field(
        default=None, description="An agent greeting (WAV, MP3) played to callers before the hold music"
    )


MenuKey = Literal["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#"]


class MenuOptionIn(Input):
    digit: MenuKey = Field(description="The keypad key (DTMF, RFC 4733 telephone-event) the caller presses")
    queue_id: Identifier = Field(description="The phone queue the call joins when the caller presses this key")


class MenuIn(Input):
    options: list[MenuOptionIn] = Field(
        min_length=1, max_length=12, description="Which key chooses which queue; each key once"
    )
    greeting_id: Identifier | None = Field(
        default=None,
        description="An agent greeting (WAV, MP3) played as the menu's prompt; none: a spoken default "
        '("Please choose from the menu: press the key for the department you want.")',
    )
    attempts: int = Field(
        default=3,
        ge=MENU_ATTEMPTS[0],
        le=MENU_ATTEMPTS[1],
        description="How many times the prompt plays while the caller presses no listed key; then the call joins "
        "the number's own queue",
    )
    wait_seconds: int = Field(
        default=5,
        ge=MENU_WAIT_SECONDS[0],
        le=MENU_WAIT_SECONDS[1],
        description="How long a key is awaited after each prompt",
    )


class MenuOptionOut(BaseModel):
    digit: str
    queue_id: str


class MenuOut(BaseModel):
    options: list[MenuOptionOut]
    greeting_id: str | None
    attempts: int
    wait_seconds: int
    default_queue_id: str = Field(description="Where a caller who chooses no listed key goes: the number's queue")


class NumberOut(BaseModel):
    number: str
    queue_id: str
    greeting_id: str | None
    menu: MenuOut | None = Field(default=None, description="The menu callers hear first, if the number has one")


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


def _menu_out(number: Number) -> MenuOut | None:
    menu = number.menu
    if menu is None:
        return None
    return MenuOut(
        options=[MenuOptionOut(digit=digit, queue_id=queue_id) for digit, queue_id in menu.options],
        greeting_id=menu.greeting_id,
        attempts=menu.attempts,
        wait_seconds=menu.wait_seconds,
        default_queue_id=number.queue_id,
    )


def _number_out(number: Number) -> NumberOut:
    return NumberOut(
        number=number.number, queue_id=number.queue_id, greeting_id=number.greeting_id, menu=_menu_out(number)
    )


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


@router.get("/tenants/{tenant_id}/voice/numbers/{number}/menu")
async def get_menu(tenant_id: str, number: str, request: Request, svc: ServicesDep, who: TenantAdminDep) -> MenuOut:
    """The menu a dialled number answers with (404: no such number, or it goes straight to its queue)."""
    found = await asyncio.to_thread(_directory(request, svc).number, tenant_id, number)
    menu = None if found is None else _menu_out(found)
    if menu is None:
        raise NotFound("menu", number)
    return menu


@router.put("/tenants/{tenant_id}/voice/numbers/{number}/menu")
async def put_menu(
    tenant_id: str, number: str, body: MenuIn, request: Request, svc: ServicesDep, who: TenantAdminDep
) -> MenuOut:
    """Makes a dialled number answer with a menu: the caller hears the prompt and presses a key (DTMF, RFC 4733)
    that chooses the queue; the keys pressed go into the interaction's data (`menu_digits`, `menu_choice`) for
    screen-pop rules. No listed key after `attempts` prompts: the call joins the number's own queue."""
    menu = Menu(
        options=tuple((option.digit, option.queue_id) for option in body.options),
        greeting_id=body.greeting_id,
        attempts=body.attempts,
        wait_seconds=body.wait_seconds,
    )
    directory = _directory(request, svc)
    try:
        actor = await asyncio.to_thread(actor_of, svc.engine, who)
        saved = await asyncio.to_thread(directory.put_menu, tenant_id, number, menu, svc.clock.now(), actor)
    except DirectoryError as error:
        raise InvalidField(str(error), error.field) from None
    out = None if saved is None else _menu_out(saved)
    if out is None:
        raise NotFound("number", number)
    return out


@router.delete("/tenants/{tenant_id}/voice/numbers/{number}/menu", status_code=204)
async def delete_menu(tenant_id: str, number: str, request: Request, svc: ServicesDep, who: TenantAdminDep) -> Response:
    """Calls to the number go straight to its queue again."""
    actor = await asyncio.to_thread(actor_of, svc.engine, who)
    if not await asyncio.to_thread(_directory(request, svc).delete_menu, tenant_id, number, actor):
        raise NotFound("menu", number)
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


class AgentPhoneIn(Input):
    rings: Literal["browser", "desk"] = Field(
        description="What rings when the agent is offered a call: the console's browser softphone, or their desk phone"
    )


class AgentPhoneOut(BaseModel):
    agent_id: str
    rings: Literal["browser", "desk"]
    chosen: bool = Field(description="False: the default (the desk phone when the agent has one, else the browser)")
    desk_phone: str | None = Field(description="The desk phone's SIP user name, if the agent has one")


def _agent_phone_out(phone: AgentPhone) -> AgentPhoneOut:
    rings: Literal["browser", "desk"] = "desk" if phone.rings == "desk" else "browser"
    return AgentPhoneOut(agent_id=phone.agent_id, rings=rings, chosen=phone.chosen, desk_phone=phone.desk_phone)


@router.get("/tenants/{tenant_id}/voice/phones/{agent_id}")
async def get_agent_phone(
    tenant_id: str, agent_id: str, request: Request, svc: ServicesDep, who: TenantAdminDep
) -> AgentPhoneOut:
    """Which phone rings when the agent is offered a call."""
    phone = await asyncio.to_thread(_directory(request, svc).agent_phone, tenant_id, agent_id)
    if phone is None:
        raise NotFound("agent", agent_id)
    return _agent_phone_out(phone)


@router.put("/tenants/{tenant_id}/voice/phones/{agent_id}")
async def put_agent_phone(
    tenant_id: str, agent_id: str, body: AgentPhoneIn, request: Request, svc: ServicesDep, who: TenantAdminDep
) -> AgentPhoneOut:
    """Chooses what rings for the agent: `browser` (the console's softphone) or `desk` (their SIP desk phone)."""
    directory = _directory(request, svc)
    try:
        actor = await asyncio.to_thread(actor_of, svc.engine, who)
        phone = await asyncio.to_thread(
            directory.set_agent_phone, tenant_id, agent_id, body.rings, svc.clock.now(), actor
        )
    except DirectoryError as error:
        if error.field == "agent_id":  # the path names the agent: an unknown one is a missing resource
            raise NotFound("agent", agent_id) from None
        raise InvalidField(str(error), error.field) from None
    return _agent_phone_out(phone)


class IceServerOut(BaseModel):
    urls: list[str] = Field(description="STUN or TURN URLs (RFC 7064, RFC 7065)")
    username: str | None = Field(
        default=None, description="TURN only: `<expiry>:<softphone user>` (TURN REST API), expires with the SIP one"
    )
    credential: str | None = Field(
        default=None, description="TURN only: base64(HMAC-SHA1(the TURN server's shared secret, username))"
    )


class SoftphoneOut(BaseModel):
    available: bool = Field(description="Whether the console should register its softphone now")
    voice: bool = Field(default=True, description="False: this Callbridge carries no phone calls (voice is off)")
    rings: Literal["browser", "desk"] = Field(description="What rings for this agent on an offer")
    reason: str = Field(default="", description="Why the softphone is not available, in words for the agent")
    ws_url: str | None = Field(default=None, description="SIP over WebSocket server to connect to")
    aor: str | None = Field(default=None, description="The SIP address (address of record) to register")
    username: str | None = Field(default=None, description="Digest user name: `<expiry>:<softphone user>`")
    password: str | None = Field(default=None, description="Digest password, valid until `expires_at`")
    expires_at: int | None = Field(default=None, description="When the credentials stop working (epoch seconds)")
    ice_servers: list[IceServerOut] = Field(
        default_factory=list,
        description="The RTCPeerConnection's `iceServers`: the configured STUN servers, and TURN servers with "
        "credentials valid until `expires_at` (CALLBRIDGE_VOICE_STUN_URLS, _TURN_URLS, _TURN_SECRET); empty: none",
    )


@router.get("/me/softphone")
async def my_softphone(request: Request, svc: ServicesDep, who: AgentDep) -> SoftphoneOut:
    """Short-lived SIP credentials for the console's browser softphone, derived from this agent session, and the
    STUN/TURN servers its peer connections use (TURN credentials expire with the SIP ones): fetch again before
    `expires_at` (and after a failed registration: a restart of voice voids them)."""
    tenant_id = who.tenant_id or ""
    phone = await asyncio.to_thread(_directory(request, svc).agent_phone, tenant_id, who.subject_id)
    rings = "browser" if phone is None else _agent_phone_out(phone).rings
    voice = request.app.state.channels.voice
    softphones = None if voice is None else voice.softphones
    if rings == "desk":
        return SoftphoneOut(available=False, rings=rings, reason="Calls ring your desk phone.")
    if softphones is None:
        return SoftphoneOut(
            available=False,
            voice=False,
            rings=rings,
            reason="Phone calls are not set up on this Callbridge (ask your admin to turn voice on).",
        )
    found = softphones.credentials(tenant_id, who.subject_id, svc.clock.now())
    return SoftphoneOut(
        available=True,
        rings=rings,
        ws_url=found.ws_url,
        aor=found.aor,
        username=found.username,
        password=found.password,
        expires_at=found.expires_at,
        ice_servers=[IceServerOut(**server) for server in found.ice_servers],
    )


# ------------------------------------------------------------------ hold music

FORM_OVERHEAD = 16 * 1024  # the multipart boundaries and headers around the file


class HoldMusicOut(BaseModel):
    source: Literal["uploaded", "default"] = Field(
        description="`uploaded`: the tenant's own music plays; `default`: the music this Callbridge generated "
        "(or the file its CALLBRIDGE_VOICE_HOLD_MUSIC names)"
    )
    content_type: str | None = Field(default=None, description="audio/wav or audio/mpeg (read from the bytes)")
    bytes: int | None = None
    duration_seconds: float | None = Field(
        default=None, description="Read from the file (a WAV's header, an MP3's frames)"
    )
    uploaded_at: float | None = None
    max_bytes: int = HOLD_MUSIC_MAX_BYTES


def hold_music_out(music: HoldMusic | None) -> HoldMusicOut:
    if music is None:
        return HoldMusicOut(source="default")
    return HoldMusicOut(
        source="uploaded",
        content_type=music.content_type,
        bytes=music.bytes,
        duration_seconds=music.duration_seconds,
        uploaded_at=music.uploaded_at,
    )


def hold_music_store(svc: ServicesDep) -> HoldMusicStore:
    return HoldMusicStore(svc.engine, svc.settings.data_dir)


HOLD_MUSIC_UPLOAD: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["audio"],
                    "properties": {
                        "audio": {
                            "type": "string",
                            "format": "binary",
                            "description": f"WAV (PCM, at least 1 s) or MP3, at most {HOLD_MUSIC_MAX_BYTES} bytes",
                        }
                    },
                }
            }
        },
    }
}


@router.get("/tenants/{tenant_id}/voice/hold-music")
async def get_hold_music(tenant_id: str, svc: ServicesDep, who: TenantAdminDep) -> HoldMusicOut:
    """What the tenant's waiting and held callers hear: its uploaded music, or the default."""
    return hold_music_out(await asyncio.to_thread(hold_music_store(svc).current, tenant_id))


@router.put(
    "/tenants/{tenant_id}/voice/hold-music",
    openapi_extra=HOLD_MUSIC_UPLOAD,
    response_model=HoldMusicOut,
    responses={413: {"description": "audio too large"}, 415: {"description": "not WAV or MP3"}},
)
async def put_hold_music(tenant_id: str, request: Request, svc: ServicesDep, who: TenantAdminDep) -> Response:
    """Uploads the tenant's hold music (multipart form, field `audio`), heard from the next wait or hold on."""
    try:
        form = await upload_form(request, HOLD_MUSIC_MAX_BYTES + FORM_OVERHEAD)
    except NotMultipart:
        return error_response(415, "unsupported_media_type", "body: send a multipart/form-data form", "body")
    except UploadTooLarge:
        too_large = f"audio: the file is larger than {HOLD_MUSIC_MAX_MB} MB; choose a shorter or MP3 file"
        return hold_music_refused(HoldMusicError(too_large, 413))
    except ClientDisconnect:
        return abandoned("hold music")
    except MultiPartException as error:
        return error_response(400, "malformed", f"body: {error.message}", "body")
    try:
        audio = form.get("audio")
        if not isinstance(audio, UploadFile):
            return hold_music_refused(HoldMusicError("audio: attach the music as a file (form field `audio`)"))
        data = await audio.read(HOLD_MUSIC_MAX_BYTES + 1)
    finally:
        await form.close()
    try:
        actor = await asyncio.to_thread(actor_of, svc.engine, who)
        saved = await asyncio.to_thread(hold_music_store(svc).put, tenant_id, data, svc.clock.now(), actor)
    except HoldMusicError as error:
        return hold_music_refused(error)
    return Response(hold_music_out(saved).model_dump_json(), media_type="application/json")


def hold_music_refused(error: HoldMusicError) -> Response:
    code = {413: "too_large", 415: "unsupported_media_type"}.get(error.status, "invalid_field")
    return error_response(error.status, code, str(error), error.field)


@router.delete("/tenants/{tenant_id}/voice/hold-music")
async def reset_hold_music(tenant_id: str, svc: ServicesDep, who: TenantAdminDep) -> HoldMusicOut:
    """Back to the default hold music (removes the tenant's upload, if any)."""
    actor = await asyncio.to_thread(actor_of, svc.engine, who)
    await asyncio.to_thread(hold_music_store(svc).reset, tenant_id, svc.clock.now(), actor)
    return HoldMusicOut(source="default")


# ------------------------------------------------------------------ status


class TrunkOut(BaseModel):
    address: str = Field(
        description="The carrier's SIP address calls are placed through (CALLBRIDGE_VOICE_TRUNK_ADDRESS)"
    )
    allowed_sources: list[str] = Field(
        description="Networks Kamailio accepts calls from as the trunk (CALLBRIDGE_VOICE_TRUNK_NETWORKS)"
    )
    transport: Literal["udp", "tls"] = Field(
        description="How calls placed reach the carrier (CALLBRIDGE_VOICE_TRUNK_TRANSPORT)"
    )
    certificate_checked: bool = Field(
        description="Over TLS, whether the carrier's certificate must chain to CALLBRIDGE_VOICE_TRUNK_CA_FILE (or "
        "the system's CAs); false only with CALLBRIDGE_VOICE_TRUNK_VERIFY=false. Always true over UDP (no certificate)"
    )
    credentials_set: bool = Field(
        description="Whether calls placed answer the carrier's digest challenge (401/407) with credentials "
        "(CALLBRIDGE_VOICE_TRUNK_USERNAME and CALLBRIDGE_VOICE_TRUNK_PASSWORD); the password is never shown"
    )


class VoiceStatusOut(BaseModel):
    voice_on: bool = Field(description="CALLBRIDGE_VOICE_ENABLED on this node")
    running: bool = Field(description="The voice controller runs (false with voice on: it failed to start)")
    engines: dict[str, bool] = Field(description="Each engine answering, as /readyz last saw it")
    calls_now: int = Field(description="This tenant's calls the controller carries now (waiting, ringing, talking)")
    desk_phones: int = Field(description="Desk phones configured for this tenant's agents")
    registered_desk_phones: list[str] = Field(description="User names of those registered with Kamailio now")
    registered_browsers: int = Field(description="Agents whose console's browser softphone is registered now")
    trunk: TrunkOut = Field(description="Node-wide settings, read-only here: set in the server's environment")


def trunk_of(svc: ServicesDep) -> TrunkOut:
    settings = svc.settings
    networks = [part.strip() for part in settings.voice_trunk_networks.split(",") if part.strip()]
    return TrunkOut(
        address=settings.voice_trunk_address,
        allowed_sources=networks,
        transport=settings.voice_trunk_transport,
        certificate_checked=settings.voice_trunk_transport == "udp" or settings.voice_trunk_verify,
        credentials_set=bool(settings.voice_trunk_username and settings.voice_trunk_password.get_secret_value()),
    )


def voice_status(request: Request, svc: ServicesDep, tenant_id: str) -> VoiceStatusOut:
    """Blocking (database reads and Kamailio's RPC): run in a thread."""
    voice = request.app.state.channels.voice
    directory = _directory(request, svc)
    phones = [phone.username for phone in directory.desk_phones(tenant_id)]
    running = voice is not None and voice.controller is not None
    registered: list[str] = []
    browsers = 0
    if running:
        registered = [name for name in phones if voice.registered(name)]
        browsers = voice.registered_browsers(tenant_id, directory.agent_ids(tenant_id))
    return VoiceStatusOut(
        voice_on=bool(svc.settings.voice_enabled),
        running=running,
        engines=dict(voice.health) if voice is not None else {},
        calls_now=voice.calls_now(tenant_id) if running else 0,
        desk_phones=len(phones),
        registered_desk_phones=registered,
        registered_browsers=browsers,
        trunk=trunk_of(svc),
    )


@router.get("/tenants/{tenant_id}/voice/status")
async def get_voice_status(tenant_id: str, request: Request, svc: ServicesDep, who: TenantAdminDep) -> VoiceStatusOut:
    """What voice is doing for this tenant now: engines, live calls, registered phones; and the node's trunk."""
    return await asyncio.to_thread(voice_status, request, svc, tenant_id)
