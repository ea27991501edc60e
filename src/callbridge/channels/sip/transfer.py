"""Transfers of the calls the voice controller carries.

A blind transfer to a queue or to an agent is a decision of the contact center (`TransferToQueue`,
`TransferToAgent`): the same interaction goes back to waiting, and the node routes it again. The controller
only follows it with the media:

    agent A ⇄ caller     ── InteractionTransferred ──▶  BYE to A's phone
                                                       rtpengine answer: the placeholder takes A's place
                                                       (port latching: the caller is not re-INVITEd)
                                                       unblock media (the call may have been on hold)
                                                       play media: hold music
    InteractionOffered(B) ──▶ B's phone rings (controller._ring), B answers → caller ⇄ B

The caller's dialog never changes: every step happens on the callee side of rtpengine's call.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from callbridge.channels.sip.ng import NgError

if TYPE_CHECKING:
    from callbridge.channels.sip.controller import VoiceCall, VoiceController

log = logging.getLogger(__name__)


def release_agent(controller: VoiceController, call: VoiceCall) -> bool:
    """The synchronous half of going back to waiting: the agent's phone is hung up and the call waits again.
    Runs before the first await of the transfer's task, so an offer made in the same batch (started after it)
    sees a waiting call and rings the next phone."""
    if call.state != "bridged" or call.consult is not None:  # a completed consult moves the media itself
        return False
    leg, call.agent_leg = call.agent_leg, None
    call.branch = ""  # the old leg's late events (its BYE's answer) are ignored
    call.agent_id = None
    call.state = "waiting"
    if leg is not None:
        controller.stack.call(leg.hang_up)
    return True


async def back_to_waiting(controller: VoiceController, call: VoiceCall) -> None:
    """The caller of a transferred call hears the hold music until the next agent answers."""
    from callbridge.channels.sip.controller import HOLD_MUSIC_REPEATS, NG_SDP_OPTIONS, PLACEHOLDER_SDP

    base = {"call-id": call.sip_call_id, "from-tag": call.caller_tag, "to-tag": call.callee_tag, **NG_SDP_OPTIONS}
    try:
        call.callee_remote_sdp = PLACEHOLDER_SDP
        await controller.ng.command("answer", {**base, "sdp": PLACEHOLDER_SDP})
        for tag in (call.caller_tag, call.callee_tag):  # a call transferred while on hold was blocked
            await controller.ng.command("unblock media", {"call-id": call.sip_call_id, "from-tag": tag})
        if call.state in ("waiting", "ringing", "outside") and call.media != "music":
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
        log.warning("voice: the caller of %s may hear nothing until the next agent: %s", call.interaction_id, error)


async def follow_transfer(controller: VoiceController, call: VoiceCall) -> None:
    """After the node transferred a call this controller carries (an after-commit task)."""
    if not release_agent(controller, call):
        return  # not bridged: nothing is connected to take apart
    task = asyncio.current_task()
    call.transition = task
    try:
        await back_to_waiting(controller, call)
    finally:
        if call.transition is task:
            call.transition = None


async def settled(call: VoiceCall) -> None:
    """Waits until the caller's media is back on the placeholder, so a new agent's answer is not undone by it."""
    transition = call.transition
    if transition is not None and transition is not asyncio.current_task():
        await asyncio.shield(transition)
