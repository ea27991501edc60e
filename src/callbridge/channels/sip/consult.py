"""Warm transfer of a call the voice controller carries: the agent consults a colleague while the caller
holds, then completes (caller ⇄ colleague) or cancels (caller ⇄ agent again).

Everything happens inside the call's one rtpengine call, by pairing its monologues differently; nobody is
re-INVITEd (port latching keeps every side's ports):

    caller ⇄ A                 consult B ──▶ block what the caller sends; play music to the caller
                                            offer  from A's tag to B's new tag (A's last SDP) ──▶ INVITE B
                                            B answers: answer with B's SDP          A ⇄ B, caller hears music
    complete ──▶ TransferToAgent(B) + AcceptOffer(B) (the interaction's log: transferred, connected to B)
                 offer from the caller's tag to B's (caller's SDP), answer with B's SDP; stop music,
                 unblock; BYE A
    cancel   ──▶ CANCEL/BYE B; offer from the caller's tag to A's, answer with A's SDP; stop music, unblock;
                 EndConsult (B may be offered calls again)

From `consult` on, B is busy in routing (StartConsult: the consult takes one of B's phone places), so the node
offers B no other call while B talks to A; completing hands B the call itself (TransferToAgent ends the consult),
a cancel, a decline or no answer frees B (EndConsult), and so does the call ending.

Either way the interaction stays the same; only a completed consult is a transfer.

Any side may be a browser softphone (webrtc.py): the agent's, the colleague's (rung as their phone choice says,
`voice_phones`), or both. Each pairing then keeps every side's own kind (`webrtc.pairing`): a browser's monologue
stays WebRTC (ICE, DTLS-SRTP, Opus), a desk phone's and the caller's plain RTP with G.711, and rtpengine
transcodes between them. The INVITE to a colleague's browser names the interaction and the consulting agent
(`X-Callbridge-Interaction`, `X-Callbridge-Consult`), so their console shows who asks before they answer. An
answered consult that ends while the agent's phone is their browser calls that browser again (`_rejoin_browser`):
the one place where a phone gets new SDP, because Chromium would not hear the caller on the old call.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from callbridge.channels.base import CommandFailed
from callbridge.channels.sip.ng import NgError
from callbridge.domain import commands as cmd
from callbridge.domain.errors import DomainError, InvalidTransition

if TYPE_CHECKING:
    from callbridge.channels.sip.controller import VoiceCall, VoiceController

log = logging.getLogger(__name__)

_branches = itertools.count(1)
RING_SECONDS = 30.0  # a colleague who does not answer by then: the consult ends, the caller is back with the agent


@dataclass(eq=False)
class Consult:
    """A consult in progress on one call."""

    agent_id: str  # the colleague consulted
    tag: str  # their monologue in the call's rtpengine call
    leg: ConsultLeg
    webrtc: bool = False  # the colleague's phone is their browser
    state: str = "ringing"  # ringing → talking → completing → done
    sdp: str = ""  # what the colleague's phone answered
    answered: asyncio.Future[str] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class ConsultLeg:
    """sippy's callback for the colleague's phone (SIP thread → event loop)."""

    agent = True  # after a completed consult it is the call's agent side (the controller's re-INVITE handling)

    def __init__(self, controller: VoiceController, call: VoiceCall, branch: str) -> None:
        self.controller = controller
        self.call = call
        self.branch = branch
        self.ua: Any = None

    def hang_up(self) -> None:
        from sippy.CCEvents import CCEventDisconnect

        if self.ua is not None:
            self.ua.recvEvent(CCEventDisconnect())

    def on_event(self, event: Any, ua: Any) -> None:
        from sippy.CCEvents import CCEventConnect, CCEventDisconnect, CCEventFail, CCEventUpdate

        post = self.controller.stack.post
        if isinstance(event, CCEventUpdate):
            body = event.getData()
            post(_reoffer, self, str(body) if body is not None else "")
        elif isinstance(event, CCEventConnect):
            _code, _reason, body = event.getData()
            post(_leg_event, self, "connect", str(body) if body is not None else "")
        elif isinstance(event, CCEventFail):
            post(_leg_event, self, "fail", tuple(event.getData()[:2]))
        elif isinstance(event, CCEventDisconnect):
            post(_leg_event, self, "disconnect", None)


def _reoffer(leg: ConsultLeg, sdp: str) -> None:
    call = leg.call
    if call.consult is None and _same(call.agent_leg, leg):  # completed: it is the agent side now
        leg.controller.reoffer(leg, sdp)  # type: ignore[arg-type]


class RejoinLeg(ConsultLeg):
    """A new call to the agent's browser after a consult they cancelled (see `_rejoin_browser`)."""

    def __init__(self, controller: VoiceController, call: VoiceCall, branch: str) -> None:
        super().__init__(controller, call, branch)
        self.answered: asyncio.Future[str] = asyncio.get_running_loop().create_future()


def _leg_event(leg: ConsultLeg, kind: str, data: Any) -> None:
    call = leg.call
    controller = leg.controller
    if isinstance(leg, RejoinLeg) and not leg.answered.done():
        if kind == "connect":
            leg.answered.set_result(data)
        elif kind in ("fail", "disconnect"):
            leg.answered.set_exception(CommandFailed(f"the agent's browser did not answer ({kind})"))
        return
    consult = call.consult
    if consult is not None and consult.leg is leg:
        if kind == "connect" and not consult.answered.done():
            consult.answered.set_result(data)
        elif kind in ("fail", "disconnect") and consult.state != "completing":
            reason = f"{data[0]} {data[1]}" if kind == "fail" else "hung up"
            log.info("voice: %s's phone left the consult of %s: %s", consult.agent_id, call.interaction_id, reason)
            if not consult.answered.done():
                consult.answered.set_exception(CommandFailed(f"{consult.agent_id}'s phone did not answer ({reason})"))
            else:
                controller._spawn(_back_to_agent(controller, call, consult), f"voice-consult-end-{call.interaction_id}")
        return
    if _same(call.agent_leg, leg) and kind == "disconnect":  # after completing: the new agent hung up
        controller._spawn(controller._agent_gone(call), f"voice-agent-gone-{call.interaction_id}")


def _bridged(controller: VoiceController, tenant_id: str, interaction_id: str, agent_id: str) -> VoiceCall:
    call = controller.calls.get(interaction_id)
    if call is None or call.tenant_id != tenant_id or call.state != "bridged" or call.agent_id != agent_id:
        raise InvalidTransition(
            f"call {interaction_id!r} is not connected to your phone: only a conversation in progress can be "
            "transferred"
        )
    return call


async def _pair(
    controller: VoiceController,
    call: VoiceCall,
    from_tag: str,
    from_sdp: str,
    to_tag: str,
    to_sdp: str,
    *,
    webrtc: bool = False,
    from_webrtc: bool = False,
) -> None:
    """Makes two monologues of the call each other's peers, with the SDPs their phones last gave; `webrtc`: the
    `to_tag` side is a browser, `from_webrtc`: the `from_tag` side is; each is kept on its own profile
    (webrtc.pairing)."""
    from callbridge.channels.sip.controller import NG_SDP_OPTIONS
    from callbridge.channels.sip.webrtc import pairing

    base = {"call-id": call.sip_call_id, "from-tag": from_tag, "to-tag": to_tag}
    offer, answer = pairing(offerer_browser=from_webrtc, answerer_browser=webrtc, plain=NG_SDP_OPTIONS)
    await controller.ng.command("offer", {**base, **offer, "sdp": from_sdp})
    await controller.ng.command("answer", {**base, **answer, "sdp": to_sdp})


async def start(controller: VoiceController, tenant_id: str, interaction_id: str, agent_id: str, target: str) -> None:
    """Rings the colleague's phone, their browser or desk phone as they chose (the caller hears the hold music from
    now on) and, once answered, connects the agent to them; returns once the phone is rung. Raises
    InvalidTransition (not connected, a consult already on) or CommandFailed (no phone, media)."""
    from sippy.CCEvents import CCEventTry
    from sippy.SipHeader import SipHeader
    from sippy.UA import UA

    from callbridge.channels.sip.controller import HOLD_MUSIC_REPEATS, NG_SDP_OPTIONS
    from callbridge.channels.sip.webrtc import CONSULT_HEADER, INTERACTION_HEADER, browser_sdp, pairing

    call = _bridged(controller, tenant_id, interaction_id, agent_id)
    if call.consult is not None:
        raise InvalidTransition(f"call {interaction_id!r} is already in a consult: complete or cancel it first")
    if target == agent_id:
        raise InvalidTransition("you cannot consult yourself")
    username, webrtc = await _phone_of(controller, tenant_id, target)
    # the colleague is busy from now on (offered no call) until the consult ends: refused (DomainError) when they
    # are signed out, on a call or already consulted
    await controller.node.execute(tenant_id, cmd.StartConsult(agent_id, interaction_id, target))
    leg = ConsultLeg(controller, call, f"consult-{next(_branches)}")
    consult = Consult(target, f"consult-{call.interaction_id}-{leg.branch}", leg, webrtc)
    call.consult = consult
    offer_options, _answer = pairing(offerer_browser=call.callee_webrtc, answerer_browser=webrtc, plain=NG_SDP_OPTIONS)
    try:
        offer = await controller.ng.command(
            "offer",
            {
                "call-id": call.sip_call_id,
                "from-tag": call.callee_tag,
                "to-tag": consult.tag,
                "sdp": call.callee_remote_sdp,
                **offer_options,
            },
        )
        # the agent must not hear the caller any more (rtpengine still forwards the caller's media to the
        # agent's monologue): block what the caller sends; the caller hears music until the consult ends
        await controller.ng.command("block media", {"call-id": call.sip_call_id, "from-tag": call.caller_tag})
        call.media = "music"
        await controller.ng.command(
            "play media",
            {
                "call-id": call.sip_call_id,
                "from-tag": call.caller_tag,
                "file": str(controller.hold_music_for(call.tenant_id)),
                "repeat-times": HOLD_MUSIC_REPEATS,
            },
        )
    except NgError as error:
        call.consult = None
        await _free_colleague(controller, call, consult)
        await _restore(controller, call)
        raise CommandFailed(f"rtpengine could not start the consult: {error}") from error

    caller = call.caller or "anonymous"
    sdp = browser_sdp(offer["sdp"]) if webrtc else offer["sdp"]

    def invite() -> None:  # in the SIP thread
        ua = UA(controller.stack.config, event_cb=leg.on_event, nh_address=controller.kamailio)
        leg.ua = ua
        event = CCEventTry((None, caller, username, _body(sdp), None, None))
        event.extra_headers = (
            SipHeader(name=INTERACTION_HEADER, bodys=call.interaction_id),
            SipHeader(name=CONSULT_HEADER, bodys=agent_id),
        )
        ua.recvEvent(event)

    controller.stack.call(invite)
    controller._spawn(_connect(controller, call, consult), f"voice-consult-{call.interaction_id}")
    log.info("voice: %s consults %s on %s", agent_id, target, interaction_id)


async def _phone_of(controller: VoiceController, tenant_id: str, agent_id: str) -> tuple[str, bool]:
    """The SIP user to ring for a colleague, and whether it is their browser. Raises CommandFailed."""
    from callbridge.channels.sip.webrtc import softphone_user

    choice = await asyncio.to_thread(controller.directory.agent_phone, tenant_id, agent_id)
    if choice is None:
        raise CommandFailed(f"agent {agent_id!r} does not exist")
    if choice.rings == "browser" and controller.softphones is not None:
        return softphone_user(tenant_id, agent_id), True
    if choice.desk_phone is None:
        raise CommandFailed(
            f"agent {agent_id!r} has no phone to consult: their phone is a desk phone that is not set up "
            "(an admin sets it under Voice, desk phones)"
        )
    return choice.desk_phone, False


async def _connect(controller: VoiceController, call: VoiceCall, consult: Consult) -> None:
    """Once the colleague answers: the agent and the colleague hear each other. A phone that does not answer
    (or is not registered) ends the consult: the caller is back with the agent."""
    try:
        async with asyncio.timeout(RING_SECONDS):
            sdp = await consult.answered
        consult.sdp = sdp
        await _pair(
            controller,
            call,
            call.callee_tag,
            call.callee_remote_sdp,
            consult.tag,
            sdp,
            webrtc=consult.webrtc,
            from_webrtc=call.callee_webrtc,
        )
    except (CommandFailed, NgError, TimeoutError) as error:
        log.info(
            "voice: the consult of %s with %s ended: %s", call.interaction_id, consult.agent_id, error or "no answer"
        )
        if not consult.answered.done():
            consult.answered.cancel()
        if call.consult is consult:
            call.consult = None
            controller.stack.call(consult.leg.hang_up)
            await _free_colleague(controller, call, consult)
            await _restore(controller, call)
        return
    if call.consult is consult:
        consult.state = "talking"


async def complete(controller: VoiceController, tenant_id: str, interaction_id: str, agent_id: str) -> None:
    """The caller is connected to the colleague consulted; the agent's phone is hung up."""
    from callbridge.channels.sip.controller import NG_SDP_OPTIONS
    from callbridge.channels.sip.webrtc import WEBRTC_ANSWER

    call = _bridged(controller, tenant_id, interaction_id, agent_id)
    consult = call.consult
    if consult is None or consult.state != "talking":
        raise InvalidTransition(f"call {interaction_id!r} has no consult with an answered colleague to complete")
    consult.state = "completing"
    try:
        await controller.node.execute(tenant_id, cmd.TransferToAgent(agent_id, interaction_id, consult.agent_id))
    except DomainError:
        consult.state = "talking"
        raise
    first_leg = call.agent_leg
    try:
        await controller.node.execute(tenant_id, cmd.AcceptOffer(consult.agent_id, interaction_id))
        await _pair(controller, call, call.caller_tag, call.caller_sdp, consult.tag, consult.sdp, webrtc=consult.webrtc)
    except (DomainError, NgError) as error:
        await controller._tear_down(call, f"the transfer to {consult.agent_id} failed: {error}", report="call.failed")
        raise CommandFailed(f"the transfer failed: {error}") from error
    call.consult = None
    call.agent_id = consult.agent_id
    call.agent_leg = consult.leg  # type: ignore[assignment]
    call.branch = consult.leg.branch
    call.callee_tag = consult.tag
    call.callee_remote_sdp = consult.sdp
    call.callee_webrtc = consult.webrtc
    call.callee_options = WEBRTC_ANSWER if consult.webrtc else NG_SDP_OPTIONS
    call.state = "bridged"
    call.held = False  # the colleague takes the caller off hold (so does the node: hold.py)
    await controller._stop_waiting_media(call)
    await controller._ng_quietly("unblock media", {"call-id": call.sip_call_id, "from-tag": call.caller_tag})
    if first_leg is not None:
        controller.stack.call(first_leg.hang_up)
    log.info("voice: %s transferred %s to %s after a consult", agent_id, interaction_id, consult.agent_id)


async def cancel(controller: VoiceController, tenant_id: str, interaction_id: str, agent_id: str) -> None:
    """The colleague's phone is hung up and the caller is back with the agent."""
    call = _bridged(controller, tenant_id, interaction_id, agent_id)
    consult = call.consult
    if consult is None or consult.state == "completing":
        raise InvalidTransition(f"call {interaction_id!r} has no consult to cancel")
    controller.stack.call(consult.leg.hang_up)
    if not consult.answered.done():
        consult.answered.set_exception(CommandFailed("the consult was cancelled"))
        return  # _connect puts the caller back
    await _back_to_agent(controller, call, consult)


def taken_by_consult(call: VoiceCall, agent_id: str) -> bool:
    """An offer made by completing a consult: the colleague's phone already carries the call, nothing rings."""
    consult = call.consult
    return consult is not None and consult.state == "completing" and consult.agent_id == agent_id


async def _back_to_agent(controller: VoiceController, call: VoiceCall, consult: Consult) -> None:
    """After an answered consult: the caller is back with the agent."""
    if call.consult is not consult:
        return
    call.consult = None
    await _free_colleague(controller, call, consult)
    if call.callee_webrtc and call.state == "bridged" and await _rejoin_browser(controller, call):
        return
    await _restore(controller, call)


async def _free_colleague(controller: VoiceController, call: VoiceCall, consult: Consult) -> None:
    """The consult ended without a transfer (cancelled, declined, not answered): the colleague may be offered calls
    again. Nothing to do when the call itself ended meanwhile (the node freed them with it)."""
    try:
        await controller.node.execute(
            call.tenant_id, cmd.EndConsult(call.agent_id or "", call.interaction_id, consult.agent_id)
        )
    except DomainError:
        pass
    except Exception:
        log.exception("voice: %s could not be freed after the consult on %s", consult.agent_id, call.interaction_id)


REJOIN_SECONDS = 10.0


async def _rejoin_browser(controller: VoiceController, call: VoiceCall) -> bool:
    """Caller ⇄ the agent's browser again, on a new call to it, which the console answers at once (it is the
    agent's connected call). Pairing the old leg again is not enough for a browser: it heard the colleague's stream
    during the consult, and Chromium (given no `a=ssrc`, webrtc.py) drops the caller's returning stream, whose
    SSRC it saw before. A new peer connection takes any. False: the browser did not answer (the old leg is
    paired again instead)."""
    from sippy.CCEvents import CCEventTry
    from sippy.SipHeader import SipHeader
    from sippy.UA import UA

    from callbridge.channels.sip.webrtc import (
        INTERACTION_HEADER,
        WEBRTC_ANSWER,
        WEBRTC_OFFER,
        browser_sdp,
        softphone_user,
    )

    if call.agent_id is None:
        return False
    leg = RejoinLeg(controller, call, f"rejoin-{next(_branches)}")
    tag = f"rejoin-{call.interaction_id}-{leg.branch}"
    base = {"call-id": call.sip_call_id, "from-tag": call.caller_tag, "to-tag": tag}
    try:
        offer = await controller.ng.command("offer", {**base, "sdp": call.caller_sdp, **WEBRTC_OFFER})
    except NgError as error:
        log.warning("voice: no new call to %s's browser on %s: %s", call.agent_id, call.interaction_id, error)
        return False
    username, caller = softphone_user(call.tenant_id, call.agent_id), call.caller or "anonymous"
    sdp = browser_sdp(offer["sdp"])

    def invite() -> None:  # in the SIP thread
        ua = UA(controller.stack.config, event_cb=leg.on_event, nh_address=controller.kamailio)
        leg.ua = ua
        event = CCEventTry((None, caller, username, _body(sdp), None, None))
        event.extra_headers = (SipHeader(name=INTERACTION_HEADER, bodys=call.interaction_id),)
        ua.recvEvent(event)

    controller.stack.call(invite)
    try:
        async with asyncio.timeout(REJOIN_SECONDS):
            answer = await leg.answered
        if call.state != "bridged" or call.consult is not None:
            raise CommandFailed("the call moved on meanwhile")
        await controller.ng.command("answer", {**base, "sdp": answer, **WEBRTC_ANSWER})
    except (CommandFailed, NgError, TimeoutError) as error:
        log.warning("voice: %s's browser did not take %s back: %s", call.agent_id, call.interaction_id, error)
        if not leg.answered.done():
            leg.answered.cancel()
        controller.stack.call(leg.hang_up)
        return False
    old, call.agent_leg = call.agent_leg, leg  # type: ignore[assignment]
    call.branch = leg.branch  # the old leg's BYE is not the agent hanging up
    call.callee_tag = tag
    call.callee_remote_sdp = answer
    call.callee_options = WEBRTC_ANSWER
    await _caller_back(controller, call)
    if old is not None:
        controller.stack.call(old.hang_up)
    log.info("voice: %s's browser took %s back after the consult", call.agent_id, call.interaction_id)
    return True


async def _restore(controller: VoiceController, call: VoiceCall) -> None:
    """Caller ⇄ agent again (the monologues paired as before the consult), music stopped."""
    if call.state != "bridged":
        return
    try:
        await _pair(
            controller,
            call,
            call.caller_tag,
            call.caller_sdp,
            call.callee_tag,
            call.callee_remote_sdp,
            webrtc=call.callee_webrtc,  # a browser agent's leg stays WebRTC, or it would hear nothing again
        )
    except NgError as error:
        await controller._tear_down(call, f"media could not be restored after a consult: {error}", report="call.failed")
        return
    await _caller_back(controller, call)


async def _caller_back(controller: VoiceController, call: VoiceCall) -> None:
    """The caller hears the agent again after a consult, unless the agent put the call on hold during it: then
    the caller keeps the music and neither side hears the other until Resume (as `VoiceController.hold`)."""
    if call.held:
        await controller._ng_quietly("block media", {"call-id": call.sip_call_id, "from-tag": call.callee_tag})
        return
    await controller._stop_waiting_media(call)
    await controller._ng_quietly("unblock media", {"call-id": call.sip_call_id, "from-tag": call.caller_tag})


def _same(one: object, other: object) -> bool:
    return one is other


def _body(sdp: str) -> Any:
    from sippy.MsgBody import MsgBody

    return MsgBody(sdp)
