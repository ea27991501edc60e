"""Custom messages (greetings) that agents record in the console: list, upload, rename, delete, play.

The audio's type is read from its first bytes (WebM as browsers record it, or WAV, MP3, Ogg through the
voicemail sniffing), never from its name or declared type. At most `GREETING_MAX_BYTES` each and
`GREETINGS_PER_AGENT` per agent. Files live at `<data_dir>/greetings/<tenant>/<id>`, written atomically
(temporary file, fsync, rename) before the row is committed; the audio answers range requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field, StringConstraints
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect

from callbridge.channels.voicemail import UnsupportedAudio, sniff_audio
from callbridge.channels.voicemail.audio import WAV, wav_duration
from callbridge.domain.errors import NotFound
from callbridge.store import greetings
from callbridge.store.greetings import Greeting
from callbridge.web.api.schemas import Input
from callbridge.web.deps import AgentDep, Services, ServicesDep
from callbridge.web.errors import ERROR_RESPONSES, error_response
from callbridge.web.uploads import UploadTooLarge, abandoned, limited

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["greetings"])

GREETING_MAX_BYTES = 2 * 1024 * 1024
GREETINGS_PER_AGENT = 50
FORM_OVERHEAD = 16 * 1024
MAX_DURATION_SECONDS = 600
WEBM = "audio/webm"
EBML_MAGIC = b"\x1a\x45\xdf\xa3"

GreetingName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80)]


class GreetingOut(BaseModel):
    id: str
    name: str
    content_type: str = Field(description="audio/webm, audio/ogg, audio/wav or audio/mpeg (read from the bytes)")
    bytes: int
    duration_seconds: float | None = Field(
        description="How long it plays: read from a WAV file, else as the uploader measured it (null: unknown)"
    )
    created_at: float
    audio_url: str = Field(description="GET it (with range requests) to play the message")


class GreetingList(BaseModel):
    greetings: list[GreetingOut]
    max_bytes: int
    max_count: int


class GreetingRename(Input):
    name: GreetingName


def sniff_greeting(head: bytes) -> str:
    """The content type of a recording: WebM (what browsers' MediaRecorder makes) or a voicemail type."""
    if head[:4] == EBML_MAGIC:
        return WEBM
    return sniff_audio(head).content_type


def _out(row: Greeting) -> GreetingOut:
    return GreetingOut(
        id=row.id,
        name=row.name,
        content_type=row.content_type,
        bytes=row.bytes,
        duration_seconds=row.duration_seconds,
        created_at=row.created_at,
        audio_url=f"/api/v1/me/greetings/{row.id}/audio",
    )


def _folder(svc: Services, tenant_id: str) -> Path:
    return Path(svc.settings.data_dir) / "greetings" / tenant_id


def _mine(svc: Services, tenant_id: str, agent_id: str, greeting_id: str) -> Greeting:
    row = greetings.find(svc.engine, tenant_id, agent_id, greeting_id)
    if row is None:
        raise NotFound("greeting", greeting_id)
    return row


@router.get("/me/greetings")
def my_greetings(svc: ServicesDep, who: AgentDep) -> GreetingList:
    """My recorded messages, newest first."""
    rows = greetings.of_agent(svc.engine, who.tenant_id or "", who.subject_id)
    return GreetingList(greetings=[_out(r) for r in rows], max_bytes=GREETING_MAX_BYTES, max_count=GREETINGS_PER_AGENT)


UPLOAD_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["name", "audio"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1, "maxLength": 80},
                        "audio": {"type": "string", "format": "binary", "description": "WebM, Ogg, WAV or MP3"},
                        "duration_seconds": {
                            "type": "number",
                            "exclusiveMinimum": 0,
                            "maximum": MAX_DURATION_SECONDS,
                            "description": "How long the recording plays, as the recorder measured it (a WAV "
                            "file's own length is used instead)",
                        },
                    },
                }
            }
        },
    }
}


@router.post(
    "/me/greetings",
    status_code=201,
    openapi_extra=UPLOAD_DOC,
    response_model=GreetingOut,
    responses={413: {"description": "audio too large"}, 415: {"description": "not WebM, Ogg, WAV or MP3"}},
)
async def add_greeting(request: Request, svc: ServicesDep, who: AgentDep) -> Response:
    """Upload a recorded message (multipart form: `name`, `audio`)."""
    tenant_id = who.tenant_id or ""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return error_response(415, "unsupported_media_type", "body: send a multipart/form-data form", "body")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > GREETING_MAX_BYTES + FORM_OVERHEAD:
        return _too_large()
    parser = MultiPartParser(
        request.headers, limited(request.stream(), GREETING_MAX_BYTES + FORM_OVERHEAD), max_files=1, max_fields=4
    )
    try:
        form = await parser.parse()
    except ClientDisconnect:
        return abandoned("greeting")
    except UploadTooLarge:
        return _too_large()
    except MultiPartException as error:
        return error_response(400, "malformed", f"body: {error.message}", "body")
    try:
        name = form.get("name")
        if not isinstance(name, str) or not (1 <= len(name.strip()) <= 80):
            return error_response(422, "invalid_field", "name: give the message a name of 1 to 80 characters", "name")
        duration = _duration(form.get("duration_seconds"))
        if duration == -1:
            return error_response(
                422,
                "invalid_field",
                f"duration_seconds: give the length in seconds, above 0 and at most {MAX_DURATION_SECONDS}",
                "duration_seconds",
            )
        audio = form.get("audio")
        if not isinstance(audio, UploadFile):
            return error_response(422, "invalid_field", "audio: attach the recording as a file", "audio")
        data = await audio.read(GREETING_MAX_BYTES + 1)
    finally:
        with contextlib.suppress(Exception):
            await form.close()
    if len(data) > GREETING_MAX_BYTES:
        return _too_large()
    if not data:
        return error_response(422, "invalid_field", "audio: the recording is empty", "audio")
    try:
        content_type = sniff_greeting(data[:16])
    except UnsupportedAudio:
        return error_response(
            415, "unsupported_media_type", "audio: the recording must be WebM, Ogg, WAV or MP3", "audio"
        )
    row = await asyncio.to_thread(_store, svc, tenant_id, who.subject_id, name.strip(), content_type, data, duration)
    if row is None:
        return error_response(
            409, "conflict", f"audio: you may keep at most {GREETINGS_PER_AGENT} messages; delete one first", "audio"
        )
    return JSONResponse(_out(row).model_dump(mode="json"), status_code=201)


def _too_large() -> JSONResponse:
    return error_response(
        413, "too_large", f"audio: a message may be at most {GREETING_MAX_BYTES // (1024 * 1024)} MB", "audio"
    )


def _duration(given: Any) -> float | None:
    """The form's duration_seconds: None when not given, -1 when not a length in seconds."""
    if given is None or given == "":
        return None
    try:
        seconds = float(given) if isinstance(given, str) else -1.0
    except ValueError:
        return -1
    return seconds if 0 < seconds <= MAX_DURATION_SECONDS else -1


def _store(
    svc: Services,
    tenant_id: str,
    agent_id: str,
    name: str,
    content_type: str,
    data: bytes,
    duration: float | None = None,
) -> Greeting | None:
    if content_type == WAV.content_type:  # the file says how long it is
        duration = wav_duration(data) or duration
    greeting_id = uuid.uuid4().hex
    greeting = Greeting(
        tenant_id=tenant_id,
        id=greeting_id,
        agent_id=agent_id,
        name=name,
        content_type=content_type,
        bytes=len(data),
        duration_seconds=None if duration is None else round(duration, 2),
        created_at=svc.clock.now(),
    )
    if not greetings.add(
        svc.engine, greeting, data, _folder(svc, tenant_id) / greeting_id, at_most=GREETINGS_PER_AGENT
    ):
        return None
    return _mine(svc, tenant_id, agent_id, greeting_id)


@router.patch("/me/greetings/{greeting_id}")
def rename_greeting(greeting_id: str, body: GreetingRename, svc: ServicesDep, who: AgentDep) -> GreetingOut:
    tenant_id = who.tenant_id or ""
    _mine(svc, tenant_id, who.subject_id, greeting_id)
    greetings.rename(svc.engine, tenant_id, greeting_id, body.name)
    return _out(_mine(svc, tenant_id, who.subject_id, greeting_id))


@router.delete("/me/greetings/{greeting_id}", status_code=204)
def delete_greeting(greeting_id: str, svc: ServicesDep, who: AgentDep) -> Response:
    tenant_id = who.tenant_id or ""
    _mine(svc, tenant_id, who.subject_id, greeting_id)
    greetings.remove(svc.engine, tenant_id, greeting_id)
    with contextlib.suppress(FileNotFoundError):
        (_folder(svc, tenant_id) / greeting_id).unlink()
    return Response(status_code=204)


@router.get("/me/greetings/{greeting_id}/audio", response_class=FileResponse)
def greeting_audio(greeting_id: str, svc: ServicesDep, who: AgentDep) -> FileResponse:
    """The recording (answers `Range` requests with 206)."""
    tenant_id = who.tenant_id or ""
    row = _mine(svc, tenant_id, who.subject_id, greeting_id)
    path = _folder(svc, tenant_id) / row.id
    if not path.is_file():
        raise NotFound("greeting audio", greeting_id)
    return FileResponse(
        path,
        media_type=row.content_type,
        headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"},
    )
