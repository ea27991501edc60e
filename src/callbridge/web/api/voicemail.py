"""Voicemail: deposit by the telephony side (API key); metadata and audio for agents and supervisors.

The audio answers HTTP range requests (`Range: bytes=…` → 206), so the browser's player can seek.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field, StringConstraints, ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect

from callbridge.channels.voicemail import UnsupportedAudio, Voicemail, VoicemailService, VoicemailTooLarge
from callbridge.channels.voicemail.service import Deposit
from callbridge.domain.errors import NotFound
from callbridge.web.api.schemas import Address, Identifier, Input
from callbridge.web.api.stored_audio import audio_response, handling_agent
from callbridge.web.deps import AgentDep, IntegrationDep, ServicesDep, TenantSupervisorDep
from callbridge.web.errors import ERROR_RESPONSES, error_response
from callbridge.web.uploads import UploadTooLarge, abandoned, limited

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["voicemail"])
FORM_OVERHEAD = 64 * 1024  # room for the other fields and the multipart framing


class VoicemailForm(Input):
    queue_id: Identifier
    id: Identifier | None = None
    from_address: Address = ""
    to_address: Address = ""
    transcription: Annotated[str, StringConstraints(max_length=20000)] = ""
    duration_seconds: float | None = Field(default=None, ge=0, le=86400)


class VoicemailOut(BaseModel):
    interaction_id: str
    content_type: str
    bytes: int
    duration_seconds: float | None
    transcription: str
    created_at: float
    audio_url: str = Field(description="GET it (with range requests) to play the recording")


def _service(request: Request) -> VoicemailService:
    found: VoicemailService = request.app.state.channels.voicemail
    return found


DEPOSIT_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["audio", "queue_id"],
                    "properties": {
                        "audio": {"type": "string", "format": "binary", "description": "WAV, MP3 or Ogg"},
                        "queue_id": {"type": "string"},
                        "id": {"type": "string", "description": "Your id for it; generated when omitted"},
                        "from_address": {"type": "string", "description": "Caller id"},
                        "to_address": {"type": "string", "description": "Called number"},
                        "transcription": {"type": "string"},
                        "duration_seconds": {"type": "number", "description": "Read from WAV files when omitted"},
                    },
                }
            }
        },
    }
}


@router.post(
    "/voicemails",
    status_code=201,
    openapi_extra=DEPOSIT_DOC,
    response_model=VoicemailOut,
    responses={413: {"description": "audio too large"}, 415: {"description": "not WAV, MP3 or Ogg"}},
)
async def deposit_voicemail(request: Request, who: IntegrationDep) -> Response:
    """The telephony side deposits a recording (multipart form); it becomes a voicemail interaction in the queue.
    The type is read from the audio's first bytes; the size limit is `CALLBRIDGE_VOICEMAIL_MAX_BYTES`."""
    assert who.tenant_id is not None
    service = _service(request)
    limit = service.max_bytes
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        return error_response(415, "unsupported_media_type", "body: send a multipart/form-data form", "body")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + FORM_OVERHEAD:
        return _too_large(limit)
    parser = MultiPartParser(
        request.headers, limited(request.stream(), limit + FORM_OVERHEAD), max_files=1, max_fields=20
    )
    try:
        form = await parser.parse()
    except ClientDisconnect:
        return abandoned("voicemail")
    except UploadTooLarge:
        return _too_large(limit)
    except MultiPartException as error:
        return error_response(400, "malformed", f"body: {error.message}", "body")
    try:
        audio = form.get("audio")
        if not isinstance(audio, UploadFile):
            return error_response(422, "invalid_field", "audio: attach the recording as a file", "audio")
        fields = {k: v for k, v in form.multi_items() if k != "audio"}
        if any(not isinstance(v, str) for v in fields.values()):
            return error_response(422, "invalid_field", "only 'audio' may be a file", "audio")
        try:
            meta = VoicemailForm.model_validate(fields)
        except ValidationError as error:
            first = error.errors()[0]
            name = ".".join(str(p) for p in first["loc"]) or "body"
            return error_response(422, "invalid_field", f"{name}: {first['msg']}", name)
        data = await audio.read(limit + 1)
    finally:
        with contextlib.suppress(Exception):
            await form.close()
    if len(data) > limit:
        return _too_large(limit)
    if not data:
        return error_response(422, "invalid_field", "audio: the file is empty", "audio")
    try:
        voicemail = await service.deposit(
            who.tenant_id,
            Deposit(
                queue_id=meta.queue_id,
                from_address=meta.from_address,
                to_address=meta.to_address,
                transcription=meta.transcription,
                duration_seconds=meta.duration_seconds,
                interaction_id=meta.id,
            ),
            data,
        )
    except UnsupportedAudio as error:
        return error_response(415, "unsupported_media_type", f"audio: {error}", "audio")
    except VoicemailTooLarge:
        return _too_large(limit)
    out = _out(voicemail, f"/api/v1/voicemails/{voicemail.interaction_id}/audio")
    return JSONResponse(out.model_dump(mode="json"), status_code=201)


def _too_large(limit: int) -> JSONResponse:
    return error_response(413, "too_large", f"audio: recordings may be at most {limit} bytes", "audio")


def _out(voicemail: Voicemail, audio_url: str) -> VoicemailOut:
    return VoicemailOut(
        interaction_id=voicemail.interaction_id,
        content_type=voicemail.content_type,
        bytes=voicemail.bytes,
        duration_seconds=voicemail.duration_seconds,
        transcription=voicemail.transcription,
        created_at=voicemail.created_at,
        audio_url=audio_url,
    )


def _audio(voicemail: Voicemail) -> FileResponse:
    return audio_response(voicemail.path, voicemail.content_type, "voicemail audio", voicemail.interaction_id)


async def _for_agent(request: Request, svc: ServicesDep, who: AgentDep, interaction_id: str) -> Voicemail:
    """The voicemail of an interaction offered to, held by, or handled by this agent."""
    tenant_id = who.tenant_id or ""
    voicemail = (
        await asyncio.to_thread(_service(request).find, tenant_id, interaction_id)
        if await handling_agent(svc, tenant_id, interaction_id) == who.subject_id
        else None
    )
    if voicemail is None:
        raise NotFound("voicemail", interaction_id)
    return voicemail


@router.get("/me/voicemail/{interaction_id}")
async def my_voicemail(interaction_id: str, request: Request, svc: ServicesDep, who: AgentDep) -> VoicemailOut:
    """A voicemail offered to you or handled by you: its details and where to play it."""
    voicemail = await _for_agent(request, svc, who, interaction_id)
    return _out(voicemail, f"/api/v1/me/voicemail/{interaction_id}/audio")


@router.get("/me/voicemail/{interaction_id}/audio", response_class=FileResponse)
async def my_voicemail_audio(interaction_id: str, request: Request, svc: ServicesDep, who: AgentDep) -> FileResponse:
    """The recording (answers `Range` requests with 206)."""
    return _audio(await _for_agent(request, svc, who, interaction_id))


def _any(request: Request, tenant_id: str, interaction_id: str) -> Voicemail:
    voicemail = _service(request).find(tenant_id, interaction_id)
    if voicemail is None:
        raise NotFound("voicemail", interaction_id)
    return voicemail


@router.get("/tenants/{tenant_id}/voicemail/{interaction_id}")
def tenant_voicemail(tenant_id: str, interaction_id: str, request: Request, who: TenantSupervisorDep) -> VoicemailOut:
    """Any voicemail of the tenant (supervisors and admins)."""
    voicemail = _any(request, tenant_id, interaction_id)
    return _out(voicemail, f"/api/v1/tenants/{tenant_id}/voicemail/{interaction_id}/audio")


@router.get("/tenants/{tenant_id}/voicemail/{interaction_id}/audio", response_class=FileResponse)
def tenant_voicemail_audio(
    tenant_id: str, interaction_id: str, request: Request, who: TenantSupervisorDep
) -> FileResponse:
    return _audio(_any(request, tenant_id, interaction_id))


@router.get("/voicemails/{interaction_id}")
def integration_voicemail(interaction_id: str, request: Request, who: IntegrationDep) -> VoicemailOut:
    """A voicemail deposited for this tenant (the telephony side checking what it sent)."""
    voicemail = _any(request, who.tenant_id or "", interaction_id)
    return _out(voicemail, f"/api/v1/voicemails/{interaction_id}/audio")


@router.get("/voicemails/{interaction_id}/audio", response_class=FileResponse)
def integration_voicemail_audio(interaction_id: str, request: Request, who: IntegrationDep) -> FileResponse:
    return _audio(_any(request, who.tenant_id or "", interaction_id))
