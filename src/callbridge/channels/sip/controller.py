"""The voice controller: a back-to-back user agent that carries each inbound call through the contact center.

    carrier trunk ──INVITE──▶ Kamailio ──▶ controller (sippy, SIP thread)
                                              │ posts the facts to the event loop
                                              ▼
      number → tenant + queue ── unknown: 404 and a warning in the log
      rtpengine: offer (caller's SDP) + answer (a placeholder peer) → 200 OK to the caller
      TelephonyService.handle(call.incoming)          → the interaction is queued (same path as the REST API)
      rtpengine: play media  greeting, then hold music (repeated)
      node offers the call to an agent (InteractionOffered, seen by `listener`)
      rtpengine: offer on a new branch → INVITE sip:<desk phone>@Kamailio (the phone rings)
      the phone answers: TelephonyService.handle(call.answered) → connected; rtpengine answer with the
      phone's SDP (caller ⇄ agent), stop media
      either side hangs up, or the agent ends the call in the console → BYE to the other side, rtpengine
      delete, TelephonyService.handle(call.ended / call.abandoned / call.failed)

Every decision runs on the event loop; the SIP thread only receives and sends (stack.py). Interaction ids are
derived from the SIP Call-ID and From tag, so a retransmitted INVITE or a repeated fact is the same event to
`TelephonyService` (idempotent by event id).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import functools
import hashlib
import itertools
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from callbridge.channels.base import CommandFailed, TelephonyEvent, TelephonyEventType
from callbridge.channels.sip.consult import Consult, taken_by_consult
from callbridge.channels.sip.directory import Menu, Number, VoiceDirectory
from callbridge.channels.sip.hold_music import HoldMusicStore
from callbridge.channels.sip.menu import run_menu
from callbridge.channels.sip.ng import NgClient, NgError
from callbridge.channels.sip.overflow import Overflow
from callbridge.channels.sip.recording import QueueVoiceSettings, Recorder, sdp_audio_port
from callbridge.channels.sip.stack import SipStack
from callbridge.channels.sip.transfer import follow_transfer, settled
from callbridge.channels.sip.webrtc import INTERACTION_HEADER, Softphones, ring_target
from callbridge.channels.telephony import HandleTelephonyEvent, TelephonyOutcome, TelephonyService, body_fingerprint
from callbridge.channels.voice_nodes import VOICE_NODE, Decision, decision_for, decision_from
from callbridge.domain import commands as cmd
from callbridge.domain import events as ev
from callbridge.domain.contact_center import ContactCenter
from callbridge.domain.errors import DomainError
from callbridge.services.node import BatchEffects, ContactCenterNode
from callbridge.services.operations import ExecuteCommand
from callbridge.store.live_state import live_interactions_by_prefix

log = logging.getLogger(__name__)

SETUP_SECONDS = Histogram(
    "callbridge_voice_setup_seconds",
    "Inbound call set-up in the voice controller: INVITE in to 200 OK out",
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
)
LIVE_CALLS = Gauge("callbridge_voice_live_calls", "Calls the voice controller carries now")
ENDED_CALLS = Counter(
    "callbridge_voice_ended_calls_total", "Calls the voice controller ended, by what it reported", ["report"]
)
REFUSED_CALLS = Counter("callbridge_voice_refused_calls_total", "Inbound calls refused by the controller", ["reason"])

# The SDP of the placeholder peer a waiting caller is "connected" to: rtpengine needs an answer to send media
# to the caller; what the placeholder would receive goes to the discard port of the loopback address.
PLACEHOLDER_SDP = (
    "v=0\r\no=callbridge 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 9 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n"
)
HOLD_MUSIC_REPEATS = 10_000
ANNOUNCEMENT_SECONDS = 30.0  # the longest a bridge waits for the recording announcement to end
# the agent's phone will not take the offer: the offer is missed at once rather than at its deadline
NOT_REGISTERED = frozenset({404, 480})  # no registration (Kamailio's 480), or one that leads nowhere
NO_ANSWER_IN_TIME = frozenset({408})  # registered, but no reply in time (a browser's page busy or gone)
# port-latching: rtpengine keeps its ports towards the caller when the callee side is answered again (the agent
# replaces the placeholder), so the caller never needs a re-INVITE.
NG_SDP_OPTIONS: dict[str, Any] = {
    "ICE": "remove",
    "replace": ["origin", "session-connection"],
    "flags": ["port-latching"],
}


@dataclass(eq=False)
class VoiceCall:
    """One inbound call as the controller sees it (SIP objects are touched in the SIP thread only)."""

    sip_call_id: str
    caller_tag: str
    caller: str
    dialled: str
    caller_ua: Any
    caller_sdp: str = ""
    tenant_id: str = ""
    interaction_id: str = ""
    number: Number | None = None
    state: str = "setup"  # setup (→ menu → setup) → waiting → ringing → bridged → ended
    queued: bool = False  # call.incoming was reported: there is an interaction
    agent_id: str | None = None
    agent_leg: _Leg | None = None  # the ringing or answered desk phone (its UA lives in the SIP thread)
    callee_sdp: str = ""  # rtpengine's SDP towards the callee side (the placeholder, then the agent's phone)
    callee_tag: str = ""
    callee_remote_sdp: str = PLACEHOLDER_SDP  # what the callee side (placeholder, then the phone) last offered
    callee_webrtc: bool = False  # rtpengine's callee side was last offered to a browser (webrtc.py)
    callee_options: dict[str, Any] = field(default_factory=lambda: NG_SDP_OPTIONS)  # flags of the phone's answer
    branch: str = ""
    invite_at: float = 0.0
    answered_at: float | None = None
    media: str = ""  # what the caller hears while waiting: greeting, music
    media_task: asyncio.Task[None] | None = None
    transition: asyncio.Task[None] | None = None  # a transfer taking the agent's phone off (transfer.py)
    consult: Consult | None = None  # a warm transfer's consult in progress (consult.py)
    held: bool = False  # the agent put the call on hold (hold, resume); a consult ending keeps it held
    voice: QueueVoiceSettings | None = None  # the queue's recording and voicemail settings (recording.py)
    recorded: bool = False  # rtpengine was told to record: the recording is stored when the call ends
    voicemail: bool = False  # the caller is leaving a voicemail (overflow.py): deposited when the call ends
    announcing: asyncio.Event | None = None  # set when the recording announcement has played: the bridge waits
    voicemail_queue_id: str | None = None
    keys: asyncio.Queue[str] = field(default_factory=asyncio.Queue)  # DTMF keys heard while in the menu (menu.py)
    pressed: list[str] = field(default_factory=list)  # every menu key, in order
    menu_data: dict[str, str] = field(default_factory=dict)  # what the menu adds to the interaction's data
    facts: itertools.count[int] = field(default_factory=itertools.count)


def interaction_id_for(sip_call_id: str, from_tag: str) -> str:
    return "sip-" + hashlib.sha256(f"{sip_call_id}\0{from_tag}".encode()).hexdigest()[:24]


class VoiceController:
    """Implements the voice channel on Kamailio (SIP edge), rtpengine (media) and sippy (SIP dialogs)."""

    def __init__(
        self,
        *,
        node: ContactCenterNode,
        telephony: TelephonyService,
        directory: VoiceDirectory,
        ng: NgClient,
        sip_address: str,
        sip_port: int,
        kamailio: tuple[str, int],
        hold_music: Path,
        default_greeting: Path | None,
        greetings_dir: Path,
        softphones: Softphones | None = None,
    ) -> None:
        self.node = node
        self.telephony = telephony
        self.directory = directory
        self.ng = ng
        self.softphones = softphones
        self.kamailio = kamailio
        self.hold_music = hold_music.absolute()
        self.default_greeting = default_greeting.absolute() if default_greeting is not None else None
        self.greetings_dir = greetings_dir.absolute()
        self.stack = SipStack(sip_address, sip_port, self._on_request)
        self.calls: dict[str, VoiceCall] = {}  # by interaction id
        self._tasks: set[asyncio.Task[Any]] = set()
        self._branches = itertools.count(1)
        # INVITE in → 200 OK out, the most recent calls (also the histogram below), for the docs and tests
        self.setup_seconds: collections.deque[float] = collections.deque(maxlen=1000)
        self.recorder: Recorder | None = None  # set by the voice channel (recording.py)
        self.overflow: Overflow | None = None  # set by the voice channel (overflow.py)
        self.menu_prompt: Path | None = None  # the spoken default menu prompt (menu.py), set by the voice channel
        self.menu_silence: Path | None = None  # what plays while a menu waits for a key (menu.py)
        self.tenant_music: HoldMusicStore | None = None  # tenants' own hold music, set by the voice channel

    async def start(self) -> None:
        await self.fail_orphans()
        await self.stack.start()
        self.node.add_listener(self.listener)

    async def fail_orphans(self) -> None:
        """Calls this controller carried before it stopped without ending them (a crash, a kill): their SIP
        dialogs and media are gone, so their interactions end as `failed`, not left waiting for nobody."""
        # in a cluster only the calls naming this node: the others' are theirs, or failed by their tenants' holders
        # once their node is gone (voice_nodes.GoneCarriers)
        node_id = self.node.node_id
        carried_by = (VOICE_NODE, node_id) if node_id is not None else None
        orphans = await asyncio.to_thread(
            functools.partial(live_interactions_by_prefix, self.node.engine, "sip-", carried_by=carried_by)
        )
        for tenant_id, interaction_id in orphans:
            event = TelephonyEvent(
                event_id=f"{interaction_id}.call.failed.restart",
                type="call.failed",
                call_id=interaction_id,
                reason="voice controller restarted: the call was lost",
            )
            try:
                operation = HandleTelephonyEvent(event=event, fingerprint=body_fingerprint(_jsonable(event)))
                await self.node.perform(tenant_id, operation)
                log.warning(
                    "voice: %s (tenant %s) was live when the controller stopped: failed", interaction_id, tenant_id
                )
            except Exception as error:
                log.warning("voice: could not end %s after a restart: %s", interaction_id, error)

    async def stop(self) -> None:
        for call in list(self.calls.values()):
            await self._tear_down(call, "voice controller stopped", report="call.failed")
        for task in list(self._tasks):
            task.cancel()
        await self.stack.stop()

    # ------------------------------------------------------------------ SIP thread side

    def _on_request(self, req: Any, sip_t: Any) -> Any:
        """Runs in the SIP thread for requests outside a dialog."""
        from sippy.UA import UA

        if req.getHFBody("to").getTag() is not None:
            return (req.genResponse(481, "Call Leg/Transaction Does Not Exist"), None, None)
        if req.getMethod() == "OPTIONS":  # Kamailio's dispatcher asks whether this controller is alive
            return (req.genResponse(200, "OK"), None, None)
        if req.getMethod() != "INVITE":
            return (req.genResponse(405, "Method Not Allowed"), None, None)
        source = tuple(req.getSource())
        if (str(source[0]), int(source[1])) != self.kamailio:
            log.warning("voice: INVITE from %s:%s refused: only Kamailio may reach the controller", *source)
            return (req.genResponse(403, "Forbidden"), None, None)
        leg = _Leg(self, None)
        ua = UA(self.stack.config, event_cb=leg.on_event)
        leg.ua = ua
        leg.invite_at = time.perf_counter()
        return ua.recvRequest(req, sip_t)

    def _sip(self, ua: Any, event: Any) -> None:
        """Hands an event to a UA, in the SIP thread."""
        self.stack.call(ua.recvEvent, event)

    # ------------------------------------------------------------------ event loop side: caller

    def _spawn(self, coroutine: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def caller_event(self, leg: _Leg, kind: str, data: Any) -> None:
        if kind == "try":
            sip_call_id, from_tag, caller, dialled, sdp = data
            new = VoiceCall(sip_call_id, from_tag, caller, dialled, leg.ua, sdp, invite_at=leg.invite_at)
            new.interaction_id = interaction_id_for(sip_call_id, from_tag)
            leg.call = new
            self._spawn(self._answer(new), f"voice-answer-{new.interaction_id}")
            return
        call = leg.call
        if call is not None and kind in ("disconnect", "fail"):
            self._spawn(self._caller_gone(call), f"voice-caller-gone-{call.interaction_id}")

    async def _answer(self, call: VoiceCall) -> None:
        from sippy.CCEvents import CCEventFail

        if call.interaction_id in self.calls:
            return  # the same call again
        number = await asyncio.to_thread(self.directory.find_number, call.dialled)
        if number is None:
            REFUSED_CALLS.labels("unknown_number").inc()
            log.warning(
                "voice: call from %s to unknown number %s refused (404): map it to a queue under Voice numbers",
                call.caller,
                call.dialled,
            )
            self._sip(call.caller_ua, CCEventFail((404, "Not Found")))
            return
        if call.state == "ended":  # the caller gave up during the look-up
            return
        call.number, call.tenant_id = number, number.tenant_id
        self.calls[call.interaction_id] = call
        LIVE_CALLS.set(len(self.calls))
        try:
            offer = await self.ng.command(
                "offer",
                {"call-id": call.sip_call_id, "from-tag": call.caller_tag, "sdp": call.caller_sdp, **NG_SDP_OPTIONS},
            )
            call.callee_sdp = offer["sdp"]
            call.callee_tag = "callee-" + call.interaction_id
            answer = await self.ng.command(
                "answer",
                {
                    "call-id": call.sip_call_id,
                    "from-tag": call.caller_tag,
                    "to-tag": call.callee_tag,
                    "sdp": PLACEHOLDER_SDP,
                    **NG_SDP_OPTIONS,
                },
            )
        except NgError as error:
            log.error("voice: call %s to %s refused (503): %s", call.caller, call.dialled, error)
            self.calls.pop(call.interaction_id, None)
            REFUSED_CALLS.labels("media_unavailable").inc()
            self._sip(call.caller_ua, CCEventFail((503, "Service Unavailable")))
            return
        answered = False
        if number.menu is not None:
            # the caller is answered first, to hear the menu; the interaction is made once the queue is chosen
            call.state = "menu"
            answered = True
            self._answered(call, answer["sdp"])
            chosen = await self._menu(call, number.menu)
            if chosen is None:  # the caller hung up in the menu: never queued, nothing to report
                return
            number = call.number = dataclasses.replace(number, queue_id=chosen)
            call.state = "setup"
        try:
            if self.recorder is not None:
                call.voice = await self.recorder.settings(number.tenant_id, number.queue_id)
            await self._report(call, "call.incoming", queue_id=number.queue_id)
        except Exception as error:
            log.error("voice: call %s to %s could not be queued (500): %s", call.caller, call.dialled, error)
            self.calls.pop(call.interaction_id, None)
            REFUSED_CALLS.labels("not_queued").inc()
            self._sip(call.caller_ua, CCEventFail((500, "Server Internal Error")))
            await self._ng_quietly("delete", {"call-id": call.sip_call_id})
            return
        call.queued = True
        if call.state == "ended":  # the caller gave up while the call was being queued
            self.calls.pop(call.interaction_id, None)
            LIVE_CALLS.set(len(self.calls))
            await self._ng_quietly("delete", {"call-id": call.sip_call_id})
            await self._report(call, "call.abandoned", reason="caller hung up")
            return
        if call.state == "setup":
            call.state = "waiting"
        if not answered:
            self._answered(call, answer["sdp"])
        if call.state == "waiting":
            call.media_task = self._spawn(self._play_waiting(call), f"voice-media-{call.interaction_id}")
            if self.overflow is not None:
                self._spawn(self.overflow.watch(call), f"voice-overflow-{call.interaction_id}")

    def _answered(self, call: VoiceCall, sdp: str) -> None:
        from sippy.CCEvents import CCEventConnect

        self._sip(call.caller_ua, CCEventConnect((200, "OK", _body(sdp))))
        setup = time.perf_counter() - call.invite_at
        self.setup_seconds.append(setup)
        SETUP_SECONDS.observe(setup)

    # ------------------------------------------------------------------ menus (menu.py)

    async def _menu(self, call: VoiceCall, menu: Menu) -> str | None:
        """The queue the caller chose (or the number's own); None when the caller left meanwhile."""
        assert call.number is not None
        prompt = self._menu_prompt(call, menu)
        task = self._spawn(run_menu(self, call, menu, prompt, self.menu_silence), f"voice-menu-{call.interaction_id}")
        call.media_task = task
        await asyncio.wait({task})
        call.media_task = None
        if task.cancelled() or call.state == "ended":
            return None
        error = task.exception()
        if error is not None:
            log.warning("voice: the menu of %s failed (%s): the call joins its queue", call.number.number, error)
            queue_id, choice = call.number.queue_id, "default"
        else:
            queue_id, choice = task.result()
        call.menu_data = {"menu_digits": "".join(call.pressed), "menu_choice": choice}
        log.info("voice: %s chose %s in the menu: queue %s", call.interaction_id, choice, queue_id)
        return queue_id

    def _menu_prompt(self, call: VoiceCall, menu: Menu) -> Path | None:
        if menu.greeting_id:
            path = self.greetings_dir / call.tenant_id / menu.greeting_id
            if path.exists():
                return path
            log.warning("voice: menu prompt %s is missing; the spoken default plays", menu.greeting_id)
        return self.menu_prompt

    def on_key(self, sip_call_id: str, source_tag: str, key: str) -> None:
        """A DTMF key rtpengine heard (menu.DtmfListener): it counts only from the caller of a call in its menu."""
        for call in self.calls.values():
            if call.sip_call_id == sip_call_id and call.caller_tag == source_tag and call.state == "menu":
                call.keys.put_nowait(key)
                return

    async def play_to_caller(self, call: VoiceCall, path: Path) -> dict[str, Any]:
        return await self._play(call, path, repeat=1)

    async def stop_caller_media(self, call: VoiceCall) -> None:
        if call.media:
            call.media = ""
            await self._ng_quietly("stop media", {"call-id": call.sip_call_id, "from-tag": call.caller_tag})

    async def _play_waiting(self, call: VoiceCall) -> None:
        """Greeting once, then hold music until an agent answers (or the caller leaves)."""
        try:
            announcement = self._announcement_file(call)
            if announcement is not None:  # "this call is recorded", before anything else
                call.media = "announcement"
                call.announcing = asyncio.Event()
                # an agent who answers meanwhile is not heard over it (their phone sends as soon as it answers)
                mute = {"call-id": call.sip_call_id, "from-tag": call.callee_tag}
                try:
                    await self.ng.command("block media", mute)
                    played = await self._play(call, announcement, repeat=1)
                    await asyncio.sleep(float(played.get("duration", 0) or 0) / 1000.0)
                finally:
                    call.announcing.set()
                    await self._ng_quietly("unblock media", mute)
            greeting = self._greeting_file(call)
            if greeting is not None and call.state in ("waiting", "ringing"):
                call.media = "greeting"
                played = await self._play(call, greeting, repeat=1)
                duration = float(played.get("duration", 0) or 0) / 1000.0
                if duration > 0:
                    await asyncio.sleep(duration)  # the greeting's own length, as rtpengine measured it
            if call.state in ("waiting", "ringing"):
                call.media = "music"
                await self._play(call, self.hold_music_for(call.tenant_id), repeat=HOLD_MUSIC_REPEATS)
        except NgError as error:
            log.warning("voice: nothing to play to %s: %s", call.interaction_id, error)

    def hold_music_for(self, tenant_id: str) -> Path:
        """The tenant's uploaded hold music when it has some (hold_music.py), else this node's default. Looked up
        each time music starts (a stat or two), so an upload is heard from the next wait or hold on."""
        uploaded = self.tenant_music.path_for(tenant_id) if self.tenant_music is not None else None
        return uploaded if uploaded is not None else self.hold_music

    def _announcement_file(self, call: VoiceCall) -> Path | None:
        voice = call.voice
        if voice is None or voice.recording != "on" or not voice.announcement_greeting_id:
            return None
        path = self.greetings_dir / call.tenant_id / voice.announcement_greeting_id
        if not path.exists():
            log.warning("voice: recording announcement %s is missing", voice.announcement_greeting_id)
            return None
        return path

    def _greeting_file(self, call: VoiceCall) -> Path | None:
        number = call.number
        if number is not None and number.greeting_id:
            path = self.greetings_dir / number.tenant_id / number.greeting_id
            if path.exists():
                return path
            log.warning("voice: greeting %s of %s is missing; the default one plays", number.greeting_id, number.number)
        return self.default_greeting

    async def _play(self, call: VoiceCall, path: Path, *, repeat: int) -> dict[str, Any]:
        return await self.ng.command(
            "play media",
            {
                "call-id": call.sip_call_id,
                "from-tag": call.caller_tag,
                "file": str(path),  # absolute: rtpengine runs in another directory
                "repeat-times": repeat,
            },
        )

    async def _stop_waiting_media(self, call: VoiceCall) -> None:
        if call.media_task is not None:
            call.media_task.cancel()
            call.media_task = None
        if call.media:
            call.media = ""
            await self._ng_quietly("stop media", {"call-id": call.sip_call_id, "from-tag": call.caller_tag})

    async def _caller_gone(self, call: VoiceCall) -> None:
        if call.state == "ended":
            return
        report: TelephonyEventType = "call.ended" if call.state == "bridged" else "call.abandoned"
        await self._tear_down(call, "caller hung up", report=report, caller_gone=True)

    # ------------------------------------------------------------------ agent leg

    def listener(self, tenant_id: str, cc: ContactCenter, events: list[ev.Event]) -> BatchEffects | None:
        """Sees the node's events (in its batch, before commit); acts after the commit."""
        effects: BatchEffects | None = None
        for event in events:
            interaction_id = event.about_interaction
            call = self.calls.get(interaction_id or "")
            if call is None or call.tenant_id != tenant_id:
                continue
            decision = decision_for(event)
            if decision is not None:
                effects = effects or BatchEffects()
                effects.after_commit.append(functools.partial(self.decide, call, decision))
        return effects

    def on_relayed(self, body: dict[str, Any]) -> None:
        """A decision of the node holding the call's tenant, when that is another node (voice_nodes.VoiceRelay)."""
        found = decision_from(body)
        if found is None:
            return
        tenant_id, interaction_id, decision = found
        call = self.calls.get(interaction_id)
        if call is not None and call.tenant_id == tenant_id:
            self._spawn(self.decide(call, decision), f"voice-decision-{interaction_id}")

    async def decide(self, call: VoiceCall, decision: Decision) -> None:
        """Follows one decision of the contact center with the call's SIP legs and media."""
        if decision.kind == "ring" and decision.agent_id is not None:
            await self._ring(call, decision.agent_id)
        elif decision.kind == "transferred":
            if decision.agent_id is not None and call.agent_id not in (None, decision.agent_id):
                # the call is another agent's already: a completed consult moved it, and the holder's decision
                # (from another node, it may come after the media moved) must not take the new agent off it
                return
            await follow_transfer(self, call)
        elif decision.kind == "stop_ringing" and decision.agent_id is not None:
            await self._stop_ringing(call, decision.agent_id)
        elif decision.kind == "ended":
            await self._tear_down(call, "ended in Callbridge", report=None)

    async def _ring(self, call: VoiceCall, agent_id: str) -> None:
        from sippy.CCEvents import CCEventTry
        from sippy.SipHeader import SipHeader
        from sippy.UA import UA

        if call.state not in ("waiting", "ringing", "setup") or taken_by_consult(call, agent_id):
            return
        try:
            # rtpengine's side facing the callee: the agent's phone (or browser) takes the placeholder's place
            target = await ring_target(
                directory=self.directory,
                ng=self.ng,
                softphones=self.softphones,
                call=call,
                agent_id=agent_id,
                plain_options=NG_SDP_OPTIONS,
            )
        except NgError as error:
            log.error("voice: cannot ring %s for %s: %s", agent_id, call.interaction_id, error)
            return
        if target is None:
            log.warning("voice: agent %s has no phone to ring: the call waits for the console", agent_id)
            return
        if call.state not in ("waiting", "ringing", "setup"):
            return
        call.agent_id = agent_id
        call.branch = f"agent-{next(self._branches)}"
        call.state = "ringing"
        call.callee_options = target.answer_options
        leg = _Leg(self, call, agent=True, branch=call.branch)
        call.agent_leg = leg

        def invite() -> None:  # in the SIP thread; runs before any later hang-up handed to it (FIFO)
            ua = UA(self.stack.config, event_cb=leg.on_event, nh_address=self.kamailio)
            leg.ua = ua
            event = CCEventTry((None, _user(call.caller), target.username, _body(target.sdp), None, None))
            event.extra_headers = (SipHeader(name=INTERACTION_HEADER, bodys=call.interaction_id),)
            ua.recvEvent(event)

        self.stack.call(invite)

    async def _stop_ringing(self, call: VoiceCall, agent_id: str) -> None:
        if call.state == "ringing" and call.agent_id == agent_id and call.agent_leg is not None:
            leg, call.agent_leg = call.agent_leg, None
            call.state = "waiting"
            self.stack.call(leg.hang_up)

    def agent_event(self, leg: _Leg, kind: str, data: Any) -> None:
        call = leg.call
        if call is None or call.state == "ended" or leg.branch != call.branch:
            return  # an old branch (an offer that was withdrawn)
        if kind == "connect":
            self._spawn(self._bridge(call, data), f"voice-bridge-{call.interaction_id}")
        elif kind == "fail":
            code, reason = data
            log.info("voice: %s's phone did not answer %s: %s %s", call.agent_id, call.interaction_id, code, reason)
            if call.state == "ringing":
                call.state = "waiting"
                call.agent_leg = None
                if code in NOT_REGISTERED | NO_ANSWER_IN_TIME and call.agent_id is not None:
                    # it will not ring any more: give the call back now rather than at the offer's deadline
                    registered = code in NO_ANSWER_IN_TIME
                    log.warning(
                        "voice: %s's phone %s (%s): the offer of %s is missed",
                        call.agent_id,
                        "did not answer in time" if registered else "is not registered",
                        code,
                        call.interaction_id,
                    )
                    self._spawn(
                        self._missed(call, call.agent_id, phone_registered=registered),
                        f"voice-missed-{call.interaction_id}",
                    )
        elif kind == "disconnect":
            self._spawn(self._agent_gone(call), f"voice-agent-gone-{call.interaction_id}")

    async def _missed(self, call: VoiceCall, agent_id: str, *, phone_registered: bool) -> None:
        """The offer ends as missed now: `timed_out` when the phone is registered (like an offer nobody answered),
        `phone_not_registered` (also the agent's break reason) when nothing could ring."""
        miss = cmd.MissOffer(agent_id, call.interaction_id, phone_registered=phone_registered)
        try:
            await self.node.perform(call.tenant_id, ExecuteCommand.of(miss))
        except DomainError as error:  # the offer ended meanwhile (answered in the console, timed out)
            log.info("voice: offer of %s to %s already over: %s", call.interaction_id, agent_id, error)
        except Exception as error:  # the holder is another node and did not take it: the offer times out instead
            log.warning("voice: offer of %s to %s not ended as missed: %s", call.interaction_id, agent_id, error)

    async def _bridge(self, call: VoiceCall, sdp: str) -> None:
        await settled(call)
        agent_leg = call.agent_leg
        try:
            outcome = await self._report(call, "call.answered", agent_id=call.agent_id)
        except Exception as error:
            log.warning("voice: %s answered %s too late: %s", call.agent_id, call.interaction_id, error)
            outcome = None
        view = (outcome or {}).get("interaction") or {}
        if view.get("state") != "connected" or view.get("agent_id") != call.agent_id:
            if agent_leg is not None:
                self.stack.call(agent_leg.hang_up)
            call.agent_leg = None
            if call.state == "ringing":
                call.state = "waiting"
            return
        call.state = "bridged"
        call.held = False  # a new agent's conversation starts off hold
        call.answered_at = time.perf_counter()
        if call.announcing is not None:  # the caller hears "this call is recorded" to its end first
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(call.announcing.wait(), ANNOUNCEMENT_SECONDS)
        await self._stop_waiting_media(call)
        try:
            # the same answerer, now at the agent's phone: the caller's side (ports, SDP) does not change
            call.callee_remote_sdp = sdp
            await self.ng.command(
                "answer",
                {
                    "call-id": call.sip_call_id,
                    "from-tag": call.caller_tag,
                    "to-tag": call.callee_tag,
                    "sdp": sdp,
                    **call.callee_options,
                },
            )
        except NgError as error:
            await self._tear_down(call, f"media could not be bridged: {error}", report="call.failed")
            return
        if self.recorder is not None and call.voice is not None and call.voice.recording == "on" and not call.recorded:
            try:
                await self.recorder.start(call.sip_call_id)
                call.recorded = True
            except NgError as error:
                log.error("voice: rtpengine did not start recording %s: %s", call.interaction_id, error)

    async def _agent_gone(self, call: VoiceCall) -> None:
        if call.state == "bridged":
            await self._tear_down(call, "agent hung up", report="call.ended", agent_gone=True)

    # ------------------------------------------------------------------ re-INVITEs

    def reoffer(self, leg: _Leg, sdp: str) -> None:
        call = leg.call
        if call is not None and call.state != "ended" and sdp:
            self._spawn(self._reoffer(call, leg, sdp), f"voice-reoffer-{call.interaction_id}")

    async def _reoffer(self, call: VoiceCall, leg: _Leg, sdp: str) -> None:
        """A new offer from one side is answered here, against the other side's last SDP: rtpengine keeps its
        ports (port latching) and the other side is not disturbed."""
        from sippy.CCEvents import CCEventConnect, CCEventFail

        if leg.agent:
            from_tag, to_tag, answering_sdp = call.callee_tag, call.caller_tag, call.caller_sdp
        else:
            from_tag, to_tag, answering_sdp = call.caller_tag, call.callee_tag, call.callee_remote_sdp
        base = {"call-id": call.sip_call_id, "from-tag": from_tag, "to-tag": to_tag, **NG_SDP_OPTIONS}
        try:
            await self.ng.command("offer", {**base, "sdp": sdp})
            answer = await self.ng.command("answer", {**base, "sdp": answering_sdp})
        except NgError as error:
            log.warning("voice: re-INVITE on %s refused (488): %s", call.interaction_id, error)
            self._sip(leg.ua, CCEventFail((488, "Not Acceptable Here")))
            return
        if leg.agent:
            call.callee_remote_sdp = sdp
        else:
            call.caller_sdp = sdp
        self._sip(leg.ua, CCEventConnect((200, "OK", _body(answer["sdp"]))))

    # ------------------------------------------------------------------ hold

    def carries(self, interaction_id: str) -> bool:
        return interaction_id in self.calls

    async def hold(self, interaction_id: str) -> None:
        """Neither side hears the other; the caller hears the hold music. Raises CommandFailed. During a consult
        the caller already hears the music and the agent talks to the colleague: that goes on, and the caller
        stays on hold when the consult is cancelled (consult.py `_caller_back`)."""
        call = self._bridged(interaction_id)
        if call.consult is not None:
            call.held = True
            return
        try:
            for tag in (call.caller_tag, call.callee_tag):
                await self.ng.command("block media", {"call-id": call.sip_call_id, "from-tag": tag})
            call.media = "music"
            await self._play(call, self.hold_music_for(call.tenant_id), repeat=HOLD_MUSIC_REPEATS)
        except NgError as error:
            raise CommandFailed(f"rtpengine could not hold the call: {error}") from error
        call.held = True

    async def resume(self, interaction_id: str) -> None:
        """Both sides hear each other again. During a consult the caller keeps the consult's music until it
        ends (the agent is talking to the colleague), then hears the agent or the colleague."""
        call = self._bridged(interaction_id)
        call.held = False
        if call.consult is not None:
            return
        try:
            await self._stop_waiting_media(call)
            for tag in (call.caller_tag, call.callee_tag):
                await self.ng.command("unblock media", {"call-id": call.sip_call_id, "from-tag": tag})
        except NgError as error:
            raise CommandFailed(f"rtpengine could not resume the call: {error}") from error

    def _bridged(self, interaction_id: str) -> VoiceCall:
        call = self.calls.get(interaction_id)
        if call is None or call.state != "bridged":
            raise CommandFailed("the call is not connected to a phone")
        return call

    # ------------------------------------------------------------------ endings

    async def _tear_down(
        self,
        call: VoiceCall,
        reason: str,
        *,
        report: TelephonyEventType | None,
        caller_gone: bool = False,
        agent_gone: bool = False,
    ) -> None:
        from sippy.CCEvents import CCEventDisconnect

        if call.state == "ended":
            return
        call.state = "ended"
        self.calls.pop(call.interaction_id, None)
        LIVE_CALLS.set(len(self.calls))
        ENDED_CALLS.labels(report or "ended_in_callbridge").inc()
        if call.media_task is not None:
            call.media_task.cancel()
        if not caller_gone:
            self._sip(call.caller_ua, CCEventDisconnect())
        if call.agent_leg is not None and not agent_gone:
            self.stack.call(call.agent_leg.hang_up)
        if call.consult is not None:
            self.stack.call(call.consult.leg.hang_up)
        await self._ng_quietly("delete", {"call-id": call.sip_call_id})
        if call.recorded and self.recorder is not None:
            self._spawn(
                self.recorder.finish(
                    tenant_id=call.tenant_id,
                    interaction_id=call.interaction_id,
                    agent_id=call.agent_id,
                    queue_id=call.number.queue_id if call.number else "",
                    sip_call_id=call.sip_call_id,
                    caller_port=sdp_audio_port(call.caller_sdp),
                ),
                f"voice-recording-{call.interaction_id}",
            )
        if call.voicemail and self.overflow is not None:
            self._spawn(self.overflow.finish(call), f"voice-voicemail-{call.interaction_id}")
        if report is not None and call.queued:  # before it was queued there is no interaction to end
            try:
                await self._report(call, report, reason=reason)
            except Exception:
                log.exception("voice: could not record the end of %s (%s)", call.interaction_id, reason)
        log.info("voice: %s ended: %s", call.interaction_id, reason)

    # ------------------------------------------------------------------ helpers

    async def _report(self, call: VoiceCall, type_: TelephonyEventType, **fields: Any) -> dict[str, Any]:
        """One fact, through the same path as the telephony events API."""
        event = TelephonyEvent(
            event_id=f"{call.interaction_id}.{type_}.{next(call.facts)}",
            type=type_,
            call_id=call.interaction_id,
            from_address=call.caller,
            to_address=call.number.number if call.number else call.dialled,
            data=self._incoming_data(call) if type_ == "call.incoming" else {},
            **fields,
        )
        # through the node: applied here when this node holds the tenant, else forwarded to its holder (a cluster
        # of voice nodes: the controller that took the call need not run its tenant)
        operation = HandleTelephonyEvent(event=event, fingerprint=body_fingerprint(_jsonable(event)))
        outcome: TelephonyOutcome = await self.node.perform(call.tenant_id, operation)
        return outcome.body

    def _incoming_data(self, call: VoiceCall) -> dict[str, str]:
        data = {"sip_call_id": call.sip_call_id[:200], **call.menu_data}
        if self.node.node_id is not None:  # a cluster: which node carries the call (voice_nodes.py)
            data[VOICE_NODE] = self.node.node_id
        if self.recorder is not None and call.voice is not None and call.voice.recording == "on":
            data["recording_url"] = self.recorder.url(call.tenant_id, call.interaction_id)  # the CRM activity links it
        return data

    async def _ng_quietly(self, command: str, arguments: dict[str, Any]) -> None:
        try:
            await self.ng.command(command, arguments)
        except NgError as error:
            log.info("voice: rtpengine %s: %s", command, error)

    async def rtpengine_up(self) -> bool:
        return await self.ng.ping()


class _Leg:
    """The callback sippy calls (in the SIP thread) for one UA; it copies what it needs and posts to the loop."""

    def __init__(self, controller: VoiceController, call: VoiceCall | None, *, agent: bool = False, branch: str = ""):
        self.controller = controller
        self.call = call
        self.agent = agent
        self.branch = branch
        self.ua: Any = None
        self.invite_at = 0.0

    def hang_up(self) -> None:
        """In the SIP thread: CANCEL while ringing, BYE once answered."""
        from sippy.CCEvents import CCEventDisconnect

        if self.ua is not None:
            self.ua.recvEvent(CCEventDisconnect())

    def on_event(self, event: Any, ua: Any) -> None:
        from sippy.CCEvents import CCEventConnect, CCEventDisconnect, CCEventFail, CCEventTry, CCEventUpdate

        post = self.controller.stack.post
        if isinstance(event, CCEventUpdate):  # a re-INVITE (hold from the phone, a session refresh, new media)
            body = event.getData()
            post(self.controller.reoffer, self, str(body) if body is not None else "")
            return
        if self.agent:
            if isinstance(event, CCEventConnect):
                _code, _reason, body = event.getData()
                post(self.controller.agent_event, self, "connect", str(body) if body is not None else "")
            elif isinstance(event, CCEventFail):
                code, reason = event.getData()[:2]
                post(self.controller.agent_event, self, "fail", (code, reason))
            elif isinstance(event, CCEventDisconnect):
                post(self.controller.agent_event, self, "disconnect", None)
            return
        if isinstance(event, CCEventTry):
            call_id, caller, dialled, body, _auth, _name = event.getData()
            data = (str(call_id), ua.rUri.getTag() or "", caller or "", dialled or "", str(body) if body else "")
            post(self.controller.caller_event, self, "try", data)
        elif isinstance(event, CCEventDisconnect):
            post(self.controller.caller_event, self, "disconnect", None)
        elif isinstance(event, CCEventFail):
            post(self.controller.caller_event, self, "fail", None)


def _body(sdp: str) -> Any:
    from sippy.MsgBody import MsgBody

    return MsgBody(sdp)


def _user(address: str) -> str:
    return address or "anonymous"


def _jsonable(event: TelephonyEvent) -> dict[str, Any]:
    body = dataclasses.asdict(event)
    body["data"] = dict(event.data)
    return body
