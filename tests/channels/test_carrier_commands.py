"""Commands for the node carrying a call (channels/voice_nodes.py CarrierCommands): run in place when this node
carries it, else sent by name over the bus and answered with the outcome or the carrier's refusal; a carrier that
is gone or silent is a 503 in the agent's words. The bus is a fake that hands each request to the other node's
`serve`; the real one is exercised by tests/integration/cluster/test_voice_processes.py."""

from __future__ import annotations

from typing import Any

import pytest

from callbridge.channels.base import CommandFailed
from callbridge.channels.voice_nodes import CarrierCommands, HoldMedia, carrier_subject
from callbridge.domain.errors import InvalidTransition
from callbridge.services.forwarding import NoAnswer


class Controller:
    def __init__(self, refusal: Exception | None = None) -> None:
        self.done: list[tuple[str, str]] = []
        self.refusal = refusal

    def carries(self, interaction_id: str) -> bool:
        return interaction_id == "here"

    async def hold(self, interaction_id: str) -> None:
        if self.refusal is not None:
            raise self.refusal
        self.done.append(("hold", interaction_id))

    async def resume(self, interaction_id: str) -> None:
        self.done.append(("resume", interaction_id))


class Voice:
    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self.outside = None


class Bus:
    """Hands each request to the node serving its subject, or fails as NATS would."""

    def __init__(self) -> None:
        self.serving: dict[str, CarrierCommands] = {}
        self.asked: list[tuple[str, dict[str, Any]]] = []
        self.silent = False

    async def ask(self, subject: str, body: dict[str, Any], wait_seconds: float | None = None) -> dict[str, Any]:
        self.asked.append((subject, body))
        if self.silent:
            raise NoAnswer("no answer", applied=None)
        node = self.serving.get(subject)
        if node is None:
            raise NoAnswer("nobody serves it", applied=False)
        return await node.serve(body)


def nodes(refusal: Exception | None = None) -> tuple[CarrierCommands, Controller, Controller, Bus]:
    bus = Bus()
    here, there = Controller(), Controller(refusal)
    asking = CarrierCommands(Voice(here), "node-a", bus)  # type: ignore[arg-type]
    carrying = CarrierCommands(Voice(there), "node-b", bus)  # type: ignore[arg-type]
    bus.serving[carrier_subject("node-b")] = carrying
    return asking, here, there, bus


def hold(interaction_id: str, held: bool = True) -> HoldMedia:
    return HoldMedia(tenant_id="acme", interaction_id=interaction_id, held=held)


async def test_an_operation_for_a_call_carried_elsewhere_is_run_by_its_carrier_by_name() -> None:
    asking, here, there, bus = nodes()
    await asking.send("node-b", hold("sip-1"))
    await asking.send("node-b", hold("sip-1", held=False))
    assert there.done == [("hold", "sip-1"), ("resume", "sip-1")]
    assert here.done == []
    subject, body = bus.asked[0]
    assert subject == carrier_subject("node-b")
    assert body == {"op": "hold_media", "args": {"tenant_id": "acme", "interaction_id": "sip-1", "held": True}}


async def test_a_call_carried_here_is_run_in_place() -> None:
    asking, here, _there, bus = nodes()
    await asking.send(asking.here, hold("here"))
    assert here.done == [("hold", "here")]
    assert bus.asked == []


@pytest.mark.parametrize(
    ("refusal", "kind"),
    [
        (CommandFailed("rtpengine could not hold the call"), CommandFailed),
        (InvalidTransition("not bridged"), InvalidTransition),
    ],
)
async def test_the_carriers_refusal_comes_back_as_itself(refusal: Exception, kind: type[Exception]) -> None:
    asking, _here, _there, _bus = nodes(refusal)
    with pytest.raises(kind, match=str(refusal)):
        await asking.send("node-b", hold("sip-1"))


async def test_a_carrier_that_is_gone_or_silent_is_a_refusal_in_the_agents_words() -> None:
    asking, _here, _there, bus = nodes()
    with pytest.raises(CommandFailed, match="the voice server carrying this call has stopped"):
        await asking.send("node-c", hold("sip-1"))
    bus.silent = True
    with pytest.raises(CommandFailed, match="did not answer within 5 s: it may or may not have done it"):
        await asking.send("node-b", hold("sip-1"))


async def test_an_operation_of_another_version_is_refused_by_name() -> None:
    _asking, _here, _there, bus = nodes()
    answer = await bus.serving[carrier_subject("node-b")].serve({"op": "teleport", "args": {}})
    assert answer["error"]["kind"] == "RemoteError"
    assert "teleport" in answer["error"]["message"]
