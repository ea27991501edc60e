"""Voicemail overflow: a waiting caller nobody can take is offered voicemail.

When a phone queue's voice settings name a voicemail queue (`voicemail_queue_id`, recording.py's
`QueueVoiceSettings`), a caller is diverted when nobody who works the queue is signed in (at once), or after
`max_wait_seconds` of waiting. The phone interaction ends as `abandoned` ("offered voicemail"); the caller hears
a spoken prompt and a tone, then rtpengine records the caller (the same pcap recording as call recording) until
they hang up (or MAX_MESSAGE_SECONDS). The caller's audio becomes a WAV deposited through `VoicemailService`,
so the message lands in the voicemail queue like any other voicemail, with the caller's number.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import logging
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from callbridge.channels.sip.ng import NgError
from callbridge.channels.sip.recording import RecordingError, pcap_to_wav
from callbridge.channels.voice_nodes import NobodySignedIn
from callbridge.channels.voicemail.service import Deposit, VoicemailService

if TYPE_CHECKING:
    from callbridge.channels.sip.controller import VoiceCall, VoiceController

log = logging.getLogger(__name__)

MAX_MESSAGE_SECONDS = 180.0
PROMPT_TEXT = "Nobody can take your call right now. Please leave a message after the tone, then hang up."
TONE_HZ = 1800  # apart from the hold music's notes and the test peers' tones
WAIT_POLL_SECONDS = 0.25


def ensure_prompt(sounds: Path) -> Path:
    """The spoken prompt and its tone, made once with espeak-ng and sox (blocking: run in a thread)."""
    prompt = sounds / "voicemail-prompt.wav"
    if prompt.exists():
        return prompt
    sox, espeak = shutil.which("sox"), shutil.which("espeak-ng")
    if sox is None:
        raise RecordingError("the voicemail prompt is made with sox: apt-get install sox")
    sounds.mkdir(parents=True, exist_ok=True)
    tone = sounds / ".voicemail-tone.wav"
    subprocess.run(  # noqa: S603 - fixed programs, our own arguments
        [sox, "-n", "-r", "8000", "-c", "1", "-b", "16", str(tone), "synth", "0.5", "sine", str(TONE_HZ), "vol", "0.5"],
        check=True,
        capture_output=True,
    )
    parts = [str(tone)]
    if espeak is not None:
        spoken = sounds / ".voicemail-spoken.wav"
        subprocess.run([espeak, "-w", str(spoken), PROMPT_TEXT], check=True, capture_output=True)  # noqa: S603
        resampled = sounds / ".voicemail-spoken-8k.wav"
        subprocess.run(  # noqa: S603
            [sox, str(spoken), "-r", "8000", "-c", "1", "-b", "16", str(resampled)], check=True, capture_output=True
        )
        parts = [str(resampled), str(tone)]
    temporary = sounds / ".voicemail-prompt.wav"
    subprocess.run([sox, *parts, str(temporary)], check=True, capture_output=True)  # noqa: S603
    temporary.replace(prompt)
    for leftover in sounds.glob(".voicemail-*.wav"):
        with contextlib.suppress(OSError):
            leftover.unlink()
    return prompt


class Overflow:
    def __init__(self, controller: VoiceController, voicemail: VoicemailService, prompt: Path, spool: Path) -> None:
        self.controller = controller
        self.voicemail = voicemail
        self.prompt = prompt.absolute()
        self.spool = spool

    async def watch(self, call: VoiceCall) -> None:
        """From the moment the call waits: divert it when nobody is signed in, or after the queue's maximum wait."""
        voice = call.voice
        if voice is None or voice.voicemail_queue_id is None or call.number is None:
            return
        # a named read: the tenant's holder may be another node than the one carrying the call (ADR 0014)
        nobody = await self.controller.node.perform(call.tenant_id, NobodySignedIn(queue_id=call.number.queue_id))
        if not nobody:
            if voice.max_wait_seconds is None:
                return
            delay: float = voice.max_wait_seconds
            while True:
                await asyncio.sleep(delay)
                if call.state != "ringing":
                    break
                delay = WAIT_POLL_SECONDS  # an offer is out: let it end first
        if call.state == "waiting":
            await self._divert(call, voice.voicemail_queue_id, "nobody signed in" if nobody else "maximum wait")

    async def _divert(self, call: VoiceCall, voicemail_queue_id: str, why: str) -> None:
        controller = self.controller
        call.state = "voicemail"
        controller.calls.pop(call.interaction_id, None)  # the node's events about it no longer concern the call
        await controller._stop_waiting_media(call)
        try:
            await controller._report(call, "call.abandoned", reason=f"offered voicemail ({why})")
        except Exception:
            log.exception("voice: could not end %s before voicemail", call.interaction_id)
        call.queued = False  # its interaction is over: the end of the call reports nothing more
        call.voicemail_queue_id = voicemail_queue_id
        log.info("voice: %s offered voicemail (%s)", call.interaction_id, why)
        try:
            played = await controller._play(call, self.prompt, repeat=1)
            await asyncio.sleep(float(played.get("duration", 0) or 0) / 1000.0)
            if call.state != "voicemail":
                return
            await controller.ng.command("start recording", {"call-id": call.sip_call_id})
            call.voicemail = True
        except NgError as error:
            log.error("voice: voicemail for %s could not start: %s", call.interaction_id, error)
            await controller._tear_down(call, f"voicemail could not start: {error}", report=None)
            return
        await asyncio.sleep(MAX_MESSAGE_SECONDS)
        if call.state == "voicemail":
            await controller._tear_down(call, "the message reached its maximum length", report=None)

    async def finish(self, call: VoiceCall) -> None:
        """After rtpengine deleted the call: the caller's side of the pcap becomes the voicemail's audio."""
        pcaps = sorted(glob.glob(str(self.spool / "pcaps" / f"{glob.escape(call.sip_call_id)}-*.pcap")))
        if not pcaps or not call.voicemail_queue_id:
            log.error("voice: the voicemail of %s was not recorded", call.interaction_id)
            return
        try:
            audio = await asyncio.to_thread(pcap_to_wav, Path(pcaps[-1]), None, mono=True)
        except RecordingError as error:
            log.warning("voice: %s left no message: %s", call.interaction_id, error)
            await asyncio.to_thread(_remove, pcaps)
            return
        deposit = Deposit(
            queue_id=call.voicemail_queue_id,
            from_address=call.caller,
            to_address=call.number.number if call.number else call.dialled,
            data={"phone_interaction_id": call.interaction_id},
        )
        try:
            saved = await self.voicemail.deposit(call.tenant_id, deposit, audio)
        except Exception:
            log.exception("voice: the voicemail of %s could not be deposited (its pcap is kept)", call.interaction_id)
            return
        await asyncio.to_thread(_remove, pcaps)
        log.info("voice: voicemail %s from %s deposited", saved.interaction_id, call.caller)


def _remove(paths: list[str]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            Path(path).unlink()
