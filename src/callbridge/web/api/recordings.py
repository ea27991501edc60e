"""Call recordings (docs/voice.md#recording): a phone queue's recording and voicemail settings, a tenant's
retention, and the recordings themselves, streamed (with `Range`) to the agent who took the call and to
supervisors, like voicemail audio."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from callbridge.channels.sip.recording import QueueVoiceSettings, Recording, RecordingStore, SettingsError
from callbridge.domain.errors import NotFound
from callbridge.web.api.audit import actor_of
from callbridge.web.api.schemas import Identifier, Input
from callbridge.web.api.stored_audio import audio_response, handling_agent
from callbridge.web.deps import AgentDep, ServicesDep, TenantAdminDep, TenantSupervisorDep
from callbridge.web.errors import ERROR_RESPONSES, InvalidField

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["voice"])


class QueueVoiceIn(Input):
    recording: Literal["off", "on"] = Field(default="off", description="Record the queue's calls once bridged")
    announcement_greeting_id: Identifier | None = Field(
        default=None, description="An agent greeting played to the caller first when recording is on"
    )
    max_wait_seconds: int | None = Field(
        default=None, ge=10, le=86400, description="After this wait the caller is offered voicemail"
    )
    voicemail_queue_id: Identifier | None = Field(
        default=None, description="The voicemail queue a caller's message lands in"
    )


class QueueVoiceOut(BaseModel):
    queue_id: str
    recording: str
    announcement_greeting_id: str | None
    max_wait_seconds: int | None
    voicemail_queue_id: str | None


class RetentionIn(Input):
    days: int = Field(ge=1, le=3650, description="Recordings older than this are deleted")


class RetentionOut(BaseModel):
    days: int


class RecordingOut(BaseModel):
    interaction_id: str
    agent_id: str | None
    queue_id: str
    content_type: str
    bytes: int
    duration_seconds: float | None
    created_at: float
    audio_url: str


def _store(request: Request, svc: ServicesDep) -> RecordingStore:
    return RecordingStore(svc.engine, svc.settings.data_dir)


def _queue_out(settings: QueueVoiceSettings) -> QueueVoiceOut:
    return QueueVoiceOut(
        queue_id=settings.queue_id,
        recording=settings.recording,
        announcement_greeting_id=settings.announcement_greeting_id,
        max_wait_seconds=settings.max_wait_seconds,
        voicemail_queue_id=settings.voicemail_queue_id,
    )


@router.get("/tenants/{tenant_id}/voice/queues/{queue_id}")
async def get_queue_voice(
    tenant_id: str, queue_id: str, request: Request, svc: ServicesDep, who: TenantAdminDep
) -> QueueVoiceOut:
    store = _store(request, svc)
    if not await asyncio.to_thread(store.has_phone_queue, tenant_id, queue_id):
        raise NotFound("phone queue", queue_id)
    return _queue_out(await asyncio.to_thread(store.queue_settings, tenant_id, queue_id))


@router.put("/tenants/{tenant_id}/voice/queues/{queue_id}")
async def put_queue_voice(
    tenant_id: str, queue_id: str, body: QueueVoiceIn, request: Request, svc: ServicesDep, who: TenantAdminDep
) -> QueueVoiceOut:
    """A phone queue's recording (off | on, with an optional announcement) and voicemail settings; the whole set
    is replaced. A maximum wait needs a voicemail queue; the announcement is a greeting of this tenant."""
    wanted = QueueVoiceSettings(
        tenant_id,
        queue_id,
        body.recording,
        body.announcement_greeting_id,
        body.max_wait_seconds,
        body.voicemail_queue_id,
    )
    try:
        actor = await asyncio.to_thread(actor_of, svc.engine, who)
        saved = await asyncio.to_thread(_store(request, svc).put_queue_settings, wanted, svc.clock.now(), actor)
    except SettingsError as error:
        if error.field == "queue_id":
            raise NotFound("phone queue", queue_id) from None
        raise InvalidField(str(error), error.field) from None
    return _queue_out(saved)


@router.get("/tenants/{tenant_id}/voice/recording-retention")
async def get_retention(tenant_id: str, request: Request, svc: ServicesDep, who: TenantAdminDep) -> RetentionOut:
    return RetentionOut(days=await asyncio.to_thread(_store(request, svc).retention_days, tenant_id))


@router.put("/tenants/{tenant_id}/voice/recording-retention")
async def put_retention(
    tenant_id: str, body: RetentionIn, request: Request, svc: ServicesDep, who: TenantAdminDep
) -> RetentionOut:
    """How many days the tenant's call recordings are kept (90 when never set); older ones are deleted hourly."""
    actor = await asyncio.to_thread(actor_of, svc.engine, who)
    store = _store(request, svc)
    days = await asyncio.to_thread(store.put_retention_days, tenant_id, body.days, svc.clock.now(), actor)
    return RetentionOut(days=days)


def _out(recording: Recording, audio_url: str) -> RecordingOut:
    return RecordingOut(
        interaction_id=recording.interaction_id,
        agent_id=recording.agent_id,
        queue_id=recording.queue_id,
        content_type=recording.content_type,
        bytes=recording.bytes,
        duration_seconds=recording.duration_seconds,
        created_at=recording.created_at,
        audio_url=audio_url,
    )


def _audio(recording: Recording) -> FileResponse:
    return audio_response(recording.path, recording.content_type, "recording audio", recording.interaction_id)


async def _for_agent(request: Request, svc: ServicesDep, who: AgentDep, interaction_id: str) -> Recording:
    """The recording of a call this agent took (the agent it was bridged to when it ended)."""
    tenant_id = who.tenant_id or ""
    recording = await asyncio.to_thread(_store(request, svc).find, tenant_id, interaction_id)
    if recording is None or (
        recording.agent_id != who.subject_id and await handling_agent(svc, tenant_id, interaction_id) != who.subject_id
    ):
        raise NotFound("recording", interaction_id)
    return recording


async def _any(request: Request, svc: ServicesDep, tenant_id: str, interaction_id: str) -> Recording:
    recording = await asyncio.to_thread(_store(request, svc).find, tenant_id, interaction_id)
    if recording is None:
        raise NotFound("recording", interaction_id)
    return recording


@router.get("/me/recordings/{interaction_id}")
async def my_recording(interaction_id: str, request: Request, svc: ServicesDep, who: AgentDep) -> RecordingOut:
    """The recording of a call you took: its details and where to play it."""
    recording = await _for_agent(request, svc, who, interaction_id)
    return _out(recording, f"/api/v1/me/recordings/{interaction_id}/audio")


@router.get("/me/recordings/{interaction_id}/audio", response_class=FileResponse)
async def my_recording_audio(interaction_id: str, request: Request, svc: ServicesDep, who: AgentDep) -> FileResponse:
    """The recording, a stereo WAV (caller left, agent right); answers `Range` requests with 206."""
    return _audio(await _for_agent(request, svc, who, interaction_id))


@router.get("/tenants/{tenant_id}/recordings/{interaction_id}")
async def tenant_recording(
    tenant_id: str, interaction_id: str, request: Request, svc: ServicesDep, who: TenantSupervisorDep
) -> RecordingOut:
    """Any call recording of the tenant (supervisors and admins)."""
    recording = await _any(request, svc, tenant_id, interaction_id)
    return _out(recording, f"/api/v1/tenants/{tenant_id}/recordings/{interaction_id}/audio")


@router.get("/tenants/{tenant_id}/recordings/{interaction_id}/audio", response_class=FileResponse)
async def tenant_recording_audio(
    tenant_id: str, interaction_id: str, request: Request, svc: ServicesDep, who: TenantSupervisorDep
) -> FileResponse:
    return _audio(await _any(request, svc, tenant_id, interaction_id))
