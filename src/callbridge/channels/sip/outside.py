"""Calls Callbridge places through the carrier trunk: blind transfers to an outside number (and click to dial).

A transfer out ends the agent's part at once (the interaction goes to wrap-up, its log says `transferred` with
the number); the controller keeps carrying the caller's media to the outside party until either hangs up:

    caller ⇄ rtpengine ⇄ agent      transfer ──▶ TransferOut (wrap-up); BYE to the agent's phone;
                                                 the placeholder answers again; hold music to the caller
    INVITE sip:<number>@<trunk> ──▶ Kamailio (only the controller, only to the configured trunk) ──▶ carrier
    From: the number the caller dialled (the tenant's number: its caller id)
    200 OK (their SDP) ──▶ rtpengine answer with it (the caller is not re-INVITEd), stop the music
    busy / no answer / failure: the caller is hung up (nobody is left to talk to), a line in the log

The outside leg is a UA whose request URI names the trunk while its requests go to Kamailio (the UA's
outbound proxy), so Kamailio's script, not the controller, decides what may leave.
"""

from __future__ import annotations

import itertools
import logging
from typing import TYPE_CHECKING, Any

from callbridge.channels.base import CommandFailed
from callbridge.channels.sip.ng import NgError
from callbridge.channels.sip.transfer import back_to_waiting, release_agent, settled
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
            post(self.outside.leg_event, self, "fail", (code, reason))
        elif isinstance(event, CCEventDisconnect):
            post(self.outside.leg_event, self, "disconnect", None)


class OutsideCalls:
    def __init__(self, controller: VoiceController, trunk: tuple[str, int] | None) -> None:
        self.controller = controller
        self.trunk = trunk
        self._branches = itertools.count(1)

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
        controller._spawn(back_to_waiting(controller, call), f"voice-transfer-out-{interaction_id}")
        log.info("voice: %s transferred by %s to %s", interaction_id, agent_id, number)

    def _dial(self, call: VoiceCall, number: str, caller_id: str) -> None:
        from sippy.CCEvents import CCEventTry
        from sippy.UA import UA

        assert self.trunk is not None
        controller = self.controller
        leg = OutsideLeg(self, call, f"outside-{next(self._branches)}")
        call.agent_leg = leg  # type: ignore[assignment]  # hung up with the call, like an agent's phone
        call.branch = leg.branch
        offer_sdp = call.callee_sdp
        trunk = self.trunk

        def invite() -> None:  # in the SIP thread
            # the request URI names the trunk; the request itself goes to Kamailio, which relays it there
            ua = UA(controller.stack.config, event_cb=leg.on_event, nh_address=trunk, expire_time=RING_SECONDS)
            ua.outbound_proxy = controller.kamailio
            leg.ua = ua
            ua.recvEvent(CCEventTry((None, caller_id, number, _body(offer_sdp), None, None)))

        controller.stack.call(invite)

    def leg_event(self, leg: OutsideLeg, kind: str, data: Any) -> None:
        call = leg.call
        if call.state == "ended" or leg.branch != call.branch:
            return
        if kind == "connect":
            self.controller._spawn(self._connect(call, leg, data), f"voice-outside-{call.interaction_id}")
        elif kind == "fail":
            code, reason = data
            log.warning("voice: outside number for %s did not take the call: %s %s", call.interaction_id, code, reason)
            self.controller._spawn(
                self.controller._tear_down(call, f"outside number: {code} {reason}", report=None, agent_gone=True),
                f"voice-outside-failed-{call.interaction_id}",
            )
        elif kind == "disconnect":
            self.controller._spawn(
                self.controller._tear_down(call, "outside party hung up", report=None, agent_gone=True),
                f"voice-outside-gone-{call.interaction_id}",
            )

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


def _body(sdp: str) -> Any:
    from sippy.MsgBody import MsgBody

    return MsgBody(sdp)
