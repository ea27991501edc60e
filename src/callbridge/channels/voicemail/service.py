"""Depositing a voicemail: the audio is on disk (atomically, fsynced) before the interaction exists.

Files live at `<data_dir>/voicemail/<tenant>/<interaction id>.<wav|mp3|ogg>`. A file is written under a
temporary name in the same folder, flushed to disk, renamed into place and the folder flushed, so a crash
leaves either no file or the whole file. The metadata row and the interaction are committed together; if
that fails, the file is removed again. In a cluster the node that takes the upload stores the audio and the
tenant's holder queues the interaction (`QueueVoicemail`); the folder is shared storage (docs/deploy.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from sqlalchemy import Connection, Engine

from callbridge.channels.voicemail.audio import sniff_audio, wav_duration
from callbridge.domain import commands as cmd
from callbridge.domain import events as ev
from callbridge.domain.contact_center import ContactCenter
from callbridge.domain.model import Channel
from callbridge.services.configuration import Conflict, UnknownReference
from callbridge.services.node import ContactCenterNode
from callbridge.services.operations import Operation
from callbridge.store import voicemails as voicemail_rows
from callbridge.store.files import write_atomically
from callbridge.store.live_state import interaction_exists


class VoicemailTooLarge(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Voicemail:
    tenant_id: str
    interaction_id: str
    content_type: str
    path: Path
    bytes: int
    sha256: str
    duration_seconds: float | None
    transcription: str
    created_at: float


@dataclass(frozen=True, slots=True)
class Deposit:
    queue_id: str
    from_address: str = ""
    to_address: str = ""
    transcription: str = ""
    duration_seconds: float | None = None
    interaction_id: str | None = None
    data: dict[str, str] | None = None


class VoicemailService:
    def __init__(self, engine: Engine, node: ContactCenterNode, data_dir: Path, *, max_bytes: int) -> None:
        self.engine = engine
        self.node = node
        self.root = data_dir / "voicemail"
        self.max_bytes = max_bytes

    def folder(self, tenant_id: str) -> Path:
        return self.root / tenant_id

    async def deposit(self, tenant_id: str, deposit: Deposit, audio: bytes) -> Voicemail:
        """Checks, stores the audio durably, then queues the voicemail interaction."""
        if len(audio) > self.max_bytes:
            raise VoicemailTooLarge(f"the audio is larger than {self.max_bytes} bytes")
        kind = sniff_audio(audio[:16])
        interaction_id = deposit.interaction_id or str(uuid.uuid4())
        if deposit.interaction_id is not None and await asyncio.to_thread(self._exists, tenant_id, interaction_id):
            raise Conflict(f"interaction {interaction_id!r} already exists", "id")
        duration = wav_duration(audio) if kind.extension == "wav" else None
        if duration is None:
            duration = deposit.duration_seconds
        now = self.node.clock.now()
        path = self.folder(tenant_id) / f"{interaction_id}.{kind.extension}"
        digest = hashlib.sha256(audio).hexdigest()
        await asyncio.to_thread(write_atomically, path, audio)
        voicemail = Voicemail(
            tenant_id, interaction_id, kind.content_type, path, len(audio), digest, duration, deposit.transcription, now
        )
        data = dict(deposit.data or {})
        if duration is not None:
            data.setdefault("voicemail_seconds", f"{duration:g}")
        queued = QueueVoicemail(
            interaction_id=interaction_id,
            queue_id=deposit.queue_id,
            from_address=deposit.from_address,
            to_address=deposit.to_address,
            data=data,
            content_type=kind.content_type,
            file_name=path.name,
            bytes=len(audio),
            sha256=digest,
            duration_seconds=duration,
            transcription=deposit.transcription,
            created_at=now,
        )
        try:  # on the node holding the tenant, which may be another one: the audio is on disk first
            await self.node.perform(tenant_id, queued)
        except BaseException:
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        return voicemail

    def _exists(self, tenant_id: str, interaction_id: str) -> bool:
        return interaction_exists(self.engine, tenant_id, interaction_id)

    def find(self, tenant_id: str, interaction_id: str) -> Voicemail | None:
        row: Any = voicemail_rows.find(self.engine, tenant_id, interaction_id)
        if row is None:
            return None
        return Voicemail(
            tenant_id,
            interaction_id,
            row.content_type,
            self.folder(tenant_id) / row.file_name,
            row.bytes,
            row.sha256,
            row.duration_seconds,
            row.transcription,
            row.created_at,
        )


class QueueVoicemail(Operation):
    """A voicemail whose audio is stored becomes an interaction in its queue: checked, queued and its row
    written in one batch on the tenant's holder."""

    name: ClassVar[str] = "queue_voicemail"
    interaction_id: str
    queue_id: str
    from_address: str
    to_address: str
    data: dict[str, str]
    content_type: str
    file_name: str
    bytes: int
    sha256: str
    duration_seconds: float | None
    transcription: str
    created_at: float

    def _check(self, cc: ContactCenter) -> None:
        queue = cc.queues.get(self.queue_id)
        if queue is None:
            raise UnknownReference(f"queue {self.queue_id!r} does not exist: create it first", "queue_id")
        if queue.channel is not Channel.VOICEMAIL:
            raise Conflict(f"queue {queue.id!r} takes {queue.channel} interactions, not voicemail", "queue_id")
        if self.interaction_id in cc.interactions:
            raise Conflict(f"interaction {self.interaction_id!r} already exists", "id")

    async def run(self, node: ContactCenterNode, tenant_id: str) -> None:
        def change(cc: ContactCenter, at: float) -> list[ev.Event]:
            self._check(cc)
            submit = cmd.SubmitInteraction(
                self.interaction_id,
                self.queue_id,
                Channel.VOICEMAIL,
                from_address=self.from_address,
                to_address=self.to_address,
                data=self.data,
            )
            return cc.handle(submit, at)

        def write(connection: Connection) -> None:
            row = self.model_dump(include=_VOICEMAIL_COLUMNS)
            voicemail_rows.add(connection, tenant_id, row)

        await node.configure(tenant_id, change, write)


_VOICEMAIL_COLUMNS = {
    "interaction_id",
    "content_type",
    "file_name",
    "bytes",
    "sha256",
    "duration_seconds",
    "transcription",
    "created_at",
}
