"""Calls Callbridge places through the carrier trunk: blind transfers to an outside number, and click to dial.

A transfer out ends the agent's part at once (the interaction goes to wrap-up, its log says `transferred` with
the number); the controller keeps carrying the caller's media to the outside party until either hangs up:

    caller ⇄ rtpengine ⇄ agent      transfer ──▶ TransferOut (wrap-up); BYE to the agent's phone;
                                                 the placeholder answers again; hold music to the caller
    INVITE sip:<number>@<trunk> ──▶ Kamailio (only the controller, only to the configured trunk) ──▶ carrier
    From: the number the caller dialled (the tenant's number: its caller id)
    200 OK (their SDP) ──▶ rtpengine answer with it (the caller is not re-INVITEd), stop the music
    busy / no answer / failure: the caller is hung up (nobody is left to talk to), a line in the log

Click to dial (the agent has a desk phone, or their phone is the browser): the agent's phone rings first, then
the customer is dialled and both are bridged in one rtpengine call, the customer on its "caller" side (so hold
plays music to them). A browser's side is offered and paired with webrtc.py's flags, as for an inbound call;
its INVITE names the interaction, which the console shows connected and so answers at once:

    offer (customer tag, placeholder SDP) ──▶ INVITE the agent's phone; it answers ──▶ answer (agent tag)
    INVITE sip:<customer>@<trunk> with rtpengine's customer-side SDP, From: the tenant's number
    the customer answers ──▶ offer (customer tag, their SDP) + answer (agent's SDP): agent ⇄ customer
    busy (486, 600) / no answer (408, 480, 487, 60 s) ──▶ outbound.ended "busy" / "no_answer"; other
    failures ──▶ call.failed with the SIP status; the agent's phone is hung up; the console shows the reason

The outside leg is a UA whose request URI names the trunk while its requests go to Kamailio (the UA's
outbound proxy), so Kamailio's script, not the controller, decides what may leave.

Over TLS (CALLBRIDGE_VOICE_TRUNK_TRANSPORT=tls) Kamailio checks the carrier's certificate against the configured
CAs and answers 503 "No TLS connection to the carrier" when none could be made; the controller then tries a TLS
handshake itself, with the same CAs, to tell the agent and the log why (an untrusted certificate, or nothing
answering there).

A carrier that asks for credentials (401 WWW-Authenticate, 407 Proxy-Authenticate) gets the trunk's
(CALLBRIDGE_VOICE_TRUNK_USERNAME / _PASSWORD): sippy's UA answers the challenge itself, once, re-sending the INVITE
with them. A carrier that refuses them (403, or a second challenge) fails the call like any other refusal, the
agent told that the credentials were refused, the admin by a line in the log (never the password).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import re
import socket
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any

from callbridge.channels.base import CommandFailed
from callbridge.channels.sip.engines import TRUNK_TLS_FAILED
from callbridge.channels.sip.ng import NgError
from callbridge.channels.sip.transfer import back_to_waiting, release_agent, settled
from callbridge.channels.sip.webrtc import INTERACTION_HEADER, ring_target
from callbridge.domain import commands as cmd
from callbridge.domain.errors import InvalidTransition

if TYPE_CHECKING:
    from callbridge.channels.sip.controller import VoiceCall, VoiceController

log = logging.getLogger(__name__)

RING_SECONDS = 60  # an outside number that neither answers nor refuses is given up after this


class OutsideLeg:
    """sippy's callback for one leg towards the trunk: runs in the SIP thread, posts to the event loop."""

    agent = True  # the callee side of rtpengine's call (what the controller's re-INVITE handling needs to know)

    def __init__(self, outside: OutsideCalls, call: VoiceCall, branch: str) -> None:
        self.outside = outside
        self.controller = outside.controller
        self.call = call
        self.branch = branch
        self.ua: Any = None

    def hang_up(self) -> None:
        """In the SIP thread: CANCEL while ringing, BYE once answered."""
        from sippy.CCEvents import CCEventDisconnect

        if self.ua is not None:
            self.ua.recvEvent(CCEventDisconnect())

    def on_event(self, event: Any, ua: Any) -> None:
        from sippy.CCEvents import CCEventConnect, CCEventDisconnect, CCEventFail, CCEventUpdate

        post = self.controller.stack.post
        if isinstance(event, CCEventUpdate):
            body = event.getData()
            post(self.controller.reoffer, self, str(body) if body is not None else "")
        elif isinstance(event, CCEventConnect):
            _code, _reason, body = event.getData()
            post(self.outside.leg_event, self, "connect", str(body) if body is not None else "")
        elif isinstance(event, CCEventFail):
            code, reason = event.getData()[:2]
            post(self.outside.leg_event, self, "fail", (code, reason, _sent_credentials(ua)))
        elif isinstance(event, CCEventDisconnect):
            post(self.outside.leg_event, self, "disconnect", None)


BUSY = frozenset({486, 600})
NO_ANSWER = frozenset({408, 480, 487})
AGENT_RING_SECONDS = 30
DIALLABLE = re.compile(r"^\+[1-9][0-9]{6,14}$")


def diallable(address: str) -> str | None:
    """An E.164 number from what the agent clicked ("+1 (415) 555-0123" → "+14155550123"), or None."""
    number = re.sub(r"[\s().\-]", "", address)
    return number if DIALLABLE.match(number) else None


class DialRefused(Exception):
    """The number clicked cannot be dialled."""


class DialLeg:
    """One leg of a click-to-dial call (the agent's phone or the customer): SIP thread → event loop."""

    def __init__(self, outside: OutsideCalls, call: VoiceCall, *, agent: bool) -> None:
        self.outside = outside
        self.controller = outside.controller
        self.call = call
        self.agent = agent
        self.branch = "dial"
        self.ua: Any = None

    def hang_up(self) -> None:
        from sippy.CCEvents import CCEventDisconnect

        if self.ua is not None:
            self.ua.recvEvent(CCEventDisconnect())

    def recvEvent(self, event: Any) -> None:  # noqa: N802 - sippy's UA interface: the controller hangs up the call's "caller" this way
        if self.ua is not None:
            self.ua.recvEvent(event)

    def on_event(self, event: Any, ua: Any) -> None:
        from sippy.CCEvents import CCEventConnect, CCEventDisconnect, CCEventFail, CCEventUpdate

        post = self.controller.stack.post
        if isinstance(event, CCEventUpdate):
            body = event.getData()
            post(self.controller.reoffer, self, str(body) if body is not None else "")
        elif isinstance(event, CCEventConnect):
            _code, _reason, body = event.getData()
            post(self.outside.dial_event, self, "connect", str(body) if body is not None else "")
        elif isinstance(event, CCEventFail):
            code, reason = event.getData()[:2]
            post(self.outside.dial_event, self, "fail", (code, reason, _sent_credentials(ua)))
        elif isinstance(event, CCEventDisconnect):
            post(self.outside.dial_event, self, "disconnect", None)


def tls_problem(address: tuple[str, int], ca_file: Path | None, timeout: float = 5.0) -> str:
    """Why no TLS connection to the carrier at `address` could be made, checking its certificate as Kamailio does
    (the chain against `ca_file`; None: not checked), in the agent's words. Blocking: run it in a thread."""
    if ca_file is not None:
        context = ssl.create_default_context(cafile=str(ca_file))
        context.check_hostname = False  # Kamailio checks the chain; the trunk's address is an IP address
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(address, timeout=timeout) as raw, context.wrap_socket(raw):
            pass
    except ssl.SSLCertVerificationError as error:
        return f"the carrier's TLS certificate is not trusted ({error.verify_message})"
    except (OSError, ssl.SSLError) as error:
        return f"the carrier could not be reached over TLS ({error.strerror or error})"
    return "the carrier did not answer over TLS"


class OutsideCalls:
    def __init__(
        self,
        controller: VoiceController,
        trunk: tuple[str, int] | None,
        *,
        tls: bool = False,
        ca_file: Path | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.controller = controller
        self.trunk = trunk
        self.tls = tls  # calls to the trunk go over TLS (Kamailio checks its certificate against ca_file)
        self.ca_file = ca_file
        self.credentials = credentials  # (user name, password) for the carrier's digest challenge; None: none
        self._branches = itertools.count(1)

    async def failure_reason(self, code: int, reason: str, sent_credentials: bool = False) -> str:
        """What to tell the agent about a call the trunk did not take (`code`, `reason`: the final reply;
        `sent_credentials`: the INVITE was re-sent with the trunk's credentials, answering a challenge); refused
        credentials and a missing TLS connection are looked into (an admin-visible line in the log)."""
        if code in (401, 403, 407) and sent_credentials:
            assert self.credentials is not None
            log.warning(
                "voice: the carrier refused the trunk's credentials (user %r): %s %s "
                "(CALLBRIDGE_VOICE_TRUNK_USERNAME, CALLBRIDGE_VOICE_TRUNK_PASSWORD)",
                self.credentials[0],
                code,
                reason,
            )
            return f"the call could not be placed: the carrier refused the trunk's credentials ({code} {reason})"
        if code in (401, 407):
            if self.credentials is None:
                log.warning(
                    "voice: the carrier asks for credentials (%s %s) and none are set "
                    "(CALLBRIDGE_VOICE_TRUNK_USERNAME, CALLBRIDGE_VOICE_TRUNK_PASSWORD)",
                    code,
                    reason,
                )
                return f"the call could not be placed: the carrier asks for credentials and none are set ({code})"
            return f"the call could not be placed: the carrier's challenge could not be answered ({code} {reason})"
        if not (self.tls and self.trunk is not None and code == 503 and reason == TRUNK_TLS_FAILED):
            return f"the call could not be placed: {code} {reason}"
        why = await asyncio.to_thread(tls_problem, self.trunk, self.ca_file)
        log.warning(
            "voice: no call reaches the carrier at %s:%s over TLS: %s (CAs: %s; CALLBRIDGE_VOICE_TRUNK_CA_FILE)",
            *self.trunk,
            why,
            self.ca_file or "not checked",
        )
        return f"the call could not be placed: {why}"

    async def transfer_out(self, tenant_id: str, interaction_id: str, agent_id: str, number: str) -> None:
        """Raises InvalidTransition (the call is not connected to this agent) or CommandFailed (no trunk)."""
        controller = self.controller
        call = controller.calls.get(interaction_id)
        if call is None or call.tenant_id != tenant_id or call.state != "bridged" or call.agent_id != agent_id:
            raise InvalidTransition(
                f"call {interaction_id!r} is not connected to your phone: only a conversation in progress can be "
                "transferred"
            )
        if self.trunk is None:
            raise CommandFailed("no carrier trunk is set up for calls out (CALLBRIDGE_VOICE_TRUNK_ADDRESS)")
        caller_id = call.number.number if call.number is not None else call.dialled
        # rtpengine's side facing the call's callee now, offered plain: after a completed consult (or to a browser)
        # the SDP first offered to the callee names another monologue's ports, and the outside party would send
        # its media where nobody listens
        try:
            offer = await controller.ng.command(
                "offer",
                {
                    "call-id": call.sip_call_id,
                    "from-tag": call.caller_tag,
                    "to-tag": call.callee_tag,
                    "sdp": call.caller_sdp,
                    **_ng(),
                },
            )
        except NgError as error:
            raise CommandFailed(f"rtpengine could not offer the call to the outside number: {error}") from error
        if call.state != "bridged" or controller.calls.get(interaction_id) is not call:
            raise InvalidTransition(f"call {interaction_id!r} ended or changed while it was being transferred")
        call.callee_sdp, call.callee_webrtc = offer["sdp"], False
        # the call leaves the controller's table first: the wrap-up the node starts must not hang it up
        del controller.calls[interaction_id]
        try:
            await controller.node.execute(tenant_id, cmd.TransferOut(agent_id, interaction_id, number))
        except BaseException:
            if call.state != "ended":
                controller.calls[interaction_id] = call
            raise
        call.queued = False  # its interaction is over: nothing more is reported about it
        if call.state == "ended" or not release_agent(controller, call):
            return
        call.state = "outside"
        self._dial(call, number, caller_id)
        # the outside party's answer waits for the placeholder to be back (`settled`): an answer that came first
        # would be undone by it, and the caller would hear the music instead of them
        call.transition = controller._spawn(back_to_waiting(controller, call), f"voice-transfer-out-{interaction_id}")
        log.info("voice: %s transferred by %s to %s", interaction_id, agent_id, number)

    def _dial(self, call: VoiceCall, number: str, caller_id: str) -> None:
        from sippy.CCEvents import CCEventTry

        assert self.trunk is not None
        controller = self.controller
        leg = OutsideLeg(self, call, f"outside-{next(self._branches)}")
        call.agent_leg = leg  # type: ignore[assignment]  # hung up with the call, like an agent's phone
        call.branch = leg.branch
        offer_sdp = call.callee_sdp
        trunk = self.trunk

        credentials = self.credentials

        def invite() -> None:  # in the SIP thread
            # the request URI names the trunk; the request itself goes to Kamailio, which relays it there
            ua = trunk_ua(controller, leg, trunk, RING_SECONDS, credentials)
            ua.recvEvent(CCEventTry((None, caller_id, number, _body(offer_sdp), None, None)))

        controller.stack.call(invite)

    def leg_event(self, leg: OutsideLeg, kind: str, data: Any) -> None:
        call = leg.call
        if call.state == "ended" or leg.branch != call.branch:
            return
        if kind == "connect":
            self.controller._spawn(self._connect(call, leg, data), f"voice-outside-{call.interaction_id}")
        elif kind == "fail":
            code, reason, sent_credentials = data
            log.warning("voice: outside number for %s did not take the call: %s %s", call.interaction_id, code, reason)
            self.controller._spawn(
                self._failed(call, code, reason, sent_credentials), f"voice-outside-failed-{call.interaction_id}"
            )
        elif kind == "disconnect":
            self.controller._spawn(
                self.controller._tear_down(call, "outside party hung up", report=None, agent_gone=True),
                f"voice-outside-gone-{call.interaction_id}",
            )

    async def _failed(self, call: VoiceCall, code: int, reason: str, sent_credentials: bool) -> None:
        why = await self.failure_reason(code, reason, sent_credentials)  # refused credentials, no TLS: logged, why
        await self.controller._tear_down(call, f"outside number: {why}", report=None, agent_gone=True)

    async def _connect(self, call: VoiceCall, leg: OutsideLeg, sdp: str) -> None:
        from callbridge.channels.sip.controller import NG_SDP_OPTIONS

        await settled(call)
        if call.state == "ended":
            return
        await self.controller._stop_waiting_media(call)
        try:
            call.callee_remote_sdp = sdp
            await self.controller.ng.command(
                "answer",
                {
                    "call-id": call.sip_call_id,
                    "from-tag": call.caller_tag,
                    "to-tag": call.callee_tag,
                    "sdp": sdp,
                    **NG_SDP_OPTIONS,
                },
            )
        except NgError as error:
            await self.controller._tear_down(call, f"media could not be bridged: {error}", report=None)

    # ------------------------------------------------------------------ click to dial

    async def dials_for(self, tenant_id: str, agent_id: str, to_address: str) -> bool:
        """Whether click to dial places a real call for this agent (a desk phone, or the browser). Raises
        DialRefused (naming `to_address`) or CommandFailed (no trunk, no caller id) when it cannot, before the
        interaction is created."""
        if not await self._has_phone(tenant_id, agent_id):
            return False
        if diallable(to_address) is None:
            raise DialRefused(f"{to_address!r} is not a phone number that can be dialled (E.164, e.g. +14155550123)")
        if self.trunk is None:
            raise CommandFailed("no carrier trunk is set up for calls out (CALLBRIDGE_VOICE_TRUNK_ADDRESS)")
        if await asyncio.to_thread(self._caller_id, tenant_id) is None:
            raise CommandFailed("the tenant has no voice number to show as caller id: an admin maps one")
        return True

    async def place_call(self, tenant_id: str, interaction_id: str, agent_id: str, to_address: str) -> bool:
        """Rings the agent's desk phone or browser, then dials the customer; returns False (nothing done) when
        the agent has no phone that can ring, so the call stays with whatever dials for them. The outcome
        reaches the interaction later: connected stays connected, busy / no answer / failure end it with that
        reason."""
        from callbridge.channels.sip.controller import PLACEHOLDER_SDP, VoiceCall

        controller = self.controller
        if not await self._has_phone(tenant_id, agent_id):
            return False
        number = diallable(to_address)
        call = VoiceCall(f"dial-{interaction_id}", f"customer-{interaction_id}", "", to_address, None)
        call.interaction_id, call.tenant_id, call.queued = interaction_id, tenant_id, True
        call.agent_id, call.state, call.callee_tag = agent_id, "ringing", f"agent-{interaction_id}"
        customer = DialLeg(self, call, agent=False)
        call.caller_ua = customer
        controller.calls[interaction_id] = call
        if number is None:
            await self._end(call, "call.failed", f"{to_address!r} is not a number that can be dialled (E.164)")
            return True
        if self.trunk is None:
            await self._end(call, "call.failed", "no carrier trunk is set up for calls out")
            return True
        caller_id = await asyncio.to_thread(self._caller_id, tenant_id)
        if caller_id is None:
            await self._end(call, "call.failed", "the tenant has no voice number to show as caller id")
            return True
        call.caller, call.dialled, call.caller_sdp = caller_id, number, PLACEHOLDER_SDP
        try:
            offer = await controller.ng.command(
                "offer", {"call-id": call.sip_call_id, "from-tag": call.caller_tag, "sdp": PLACEHOLDER_SDP, **_ng()}
            )
        except NgError as error:
            await self._end(call, "call.failed", f"media unavailable: {error}")
            return True
        call.callee_sdp = offer["sdp"]
        try:  # a browser gets its side of rtpengine re-offered as WebRTC, exactly as for an inbound call
            target = await ring_target(
                directory=controller.directory,
                ng=controller.ng,
                softphones=controller.softphones,
                call=call,
                agent_id=agent_id,
                plain_options=_ng(),
            )
        except NgError as error:
            await self._end(call, "call.failed", f"media unavailable: {error}")
            return True
        if target is None:
            await self._end(call, "call.failed", "the agent's phone went away before it could ring")
            return True
        call.callee_options = target.answer_options
        agent = DialLeg(self, call, agent=True)
        call.agent_leg = agent  # type: ignore[assignment]

        def invite() -> None:  # in the SIP thread: the agent's phone (or browser) first
            ua = UA_(controller, agent, controller.kamailio, AGENT_RING_SECONDS)
            event = _try(number, target.username, target.sdp)
            # the console answers a browser INVITE naming an interaction it shows as connected (its own dial)
            event.extra_headers = (_header(INTERACTION_HEADER, interaction_id),)
            ua.recvEvent(event)

        controller.stack.call(invite)
        return True

    async def _has_phone(self, tenant_id: str, agent_id: str) -> bool:
        """The agent's chosen phone can ring: a desk phone, or the browser when softphones are on."""
        choice = await asyncio.to_thread(self.controller.directory.agent_phone, tenant_id, agent_id)
        if choice is None:
            return False
        if choice.rings == "browser" and self.controller.softphones is not None:
            return True
        return choice.desk_phone is not None

    def _caller_id(self, tenant_id: str) -> str | None:
        numbers = self.controller.directory.numbers(tenant_id)
        return numbers[0].number if numbers else None

    def dial_event(self, leg: DialLeg, kind: str, data: Any) -> None:
        call = leg.call
        if call.state == "ended":
            return
        self.controller._spawn(self._dial_step(call, leg, kind, data), f"voice-dial-{call.interaction_id}")

    async def _dial_step(self, call: VoiceCall, leg: DialLeg, kind: str, data: Any) -> None:
        controller = self.controller
        if kind == "disconnect":
            who = "the agent" if leg.agent else "the customer"
            await self._end(call, "outbound.ended", f"{who} hung up", gone=leg)
        elif kind == "fail":
            code, reason, sent_credentials = data
            if leg.agent:
                await self._end(call, "outbound.ended", f"your phone did not answer ({code} {reason})", gone=leg)
            elif code in BUSY:
                await self._end(call, "outbound.ended", "busy", gone=leg)
            elif code in NO_ANSWER:
                await self._end(call, "outbound.ended", "no_answer", gone=leg)
            else:
                why = await self.failure_reason(code, reason, sent_credentials)
                await self._end(call, "call.failed", why, gone=leg)
        elif kind == "connect" and leg.agent:
            call.callee_remote_sdp = data
            try:  # rtpengine's customer-side SDP: what the customer is offered
                answer = await controller.ng.command(
                    "answer",
                    {
                        "call-id": call.sip_call_id,
                        "from-tag": call.caller_tag,
                        "to-tag": call.callee_tag,
                        "sdp": data,
                        **call.callee_options,
                    },
                )
            except NgError as error:
                await self._end(call, "call.failed", f"media unavailable: {error}")
                return
            customer = call.caller_ua
            assert self.trunk is not None
            trunk, number, caller_id, credentials = self.trunk, call.dialled, call.caller, self.credentials

            def invite() -> None:  # in the SIP thread: then the customer, through Kamailio to the trunk
                ua = trunk_ua(controller, customer, trunk, RING_SECONDS, credentials)
                ua.recvEvent(_try(caller_id, number, answer["sdp"]))

            controller.stack.call(invite)
        elif kind == "connect":
            from callbridge.channels.sip.consult import _pair

            try:
                await _pair(
                    controller,
                    call,
                    call.caller_tag,
                    data,
                    call.callee_tag,
                    call.callee_remote_sdp,
                    # a browser's side stays WebRTC (ICE, DTLS-SRTP, Opus) when the customer's answer is paired
                    webrtc=call.callee_webrtc,
                )
            except NgError as error:
                await self._end(call, "call.failed", f"media could not be bridged: {error}")
                return
            call.caller_sdp = data
            call.state = "bridged"
            log.info("voice: click to dial %s: %s answered", call.interaction_id, call.dialled)

    async def _end(self, call: VoiceCall, report: Any, reason: str, *, gone: DialLeg | None = None) -> None:
        """Ends a click-to-dial call: both legs hung up (but the one that left), its interaction ended."""
        log.info("voice: click to dial %s to %s ended: %s", call.interaction_id, call.dialled, reason)
        await self.controller._tear_down(
            call,
            reason,
            report=report,
            caller_gone=gone is not None and not gone.agent,
            agent_gone=gone is not None and gone.agent,
        )


def _body(sdp: str) -> Any:
    from sippy.MsgBody import MsgBody

    return MsgBody(sdp)


def _header(name: str, value: str) -> Any:
    from sippy.SipHeader import SipHeader

    return SipHeader(name=name, bodys=value)


def _ng() -> dict[str, Any]:
    from callbridge.channels.sip.controller import NG_SDP_OPTIONS

    return NG_SDP_OPTIONS


def UA_(controller: VoiceController, leg: Any, next_hop: tuple[str, int], ring_seconds: int) -> Any:  # noqa: N802
    """A UA for one outgoing leg (in the SIP thread), its events to `leg`."""
    from sippy.UA import UA

    ua = UA(controller.stack.config, event_cb=leg.on_event, nh_address=next_hop, expire_time=ring_seconds)
    leg.ua = ua
    return ua


def trunk_ua(
    controller: VoiceController,
    leg: Any,
    trunk: tuple[str, int],
    ring_seconds: int,
    credentials: tuple[str, str] | None,
) -> Any:
    """A UA for one leg to the carrier (in the SIP thread): its request URI names the trunk, its requests go to
    Kamailio (the outbound proxy), which relays them there; given the trunk's credentials, sippy answers the
    carrier's 401/407 challenge with them, once."""
    username, password = credentials if credentials is not None else (None, None)
    ua = _trunk_ua_class()(
        controller.stack.config,
        event_cb=leg.on_event,
        username=username,
        password=password,
        nh_address=trunk,
        expire_time=ring_seconds,
    )
    ua.outbound_proxy = controller.kamailio
    leg.ua = ua
    return ua


@functools.cache
def _trunk_ua_class() -> Any:
    from sippy.UA import UA

    class TrunkUA(UA):  # type: ignore[misc]
        """sippy's UA, noting when it answered a digest challenge: a refusal after that is of the credentials."""

        sent_credentials = False

        def processChallenge(self, *args: Any) -> bool:  # noqa: N802 - sippy's method
            answered = bool(super().processChallenge(*args))
            self.sent_credentials = self.sent_credentials or answered
            return answered

    return TrunkUA


def _sent_credentials(ua: Any) -> bool:
    """Whether this leg's INVITE was re-sent with the trunk's credentials (in the SIP thread)."""
    return bool(getattr(ua, "sent_credentials", False))


def _try(caller_id: str, callee: str, sdp: str) -> Any:
    from sippy.CCEvents import CCEventTry

    return CCEventTry((None, caller_id, callee, _body(sdp), None, None))


def voice_calls(request: Any) -> OutsideCalls | None:
    """The running voice channel's calls out (None when voice is off)."""
    voice = request.app.state.channels.voice
    outside: OutsideCalls | None = voice.outside if voice is not None else None
    return outside
