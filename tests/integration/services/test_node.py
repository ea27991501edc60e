"""The node answers every caller once, in order, and survives callers that stop waiting."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import insert

from callbridge.domain import commands as cmd
from callbridge.domain.model import AgentProfile, Channel, Queue
from callbridge.realtime.hub import Hub
from callbridge.services.clock import ManualClock
from callbridge.services.node import ContactCenterNode
from callbridge.store.database import make_engine, upgrade
from callbridge.store.tables import tenants
from tests.conftest import run_coroutine


def test_a_caller_that_stops_waiting_does_not_stop_the_others(tmp_path: Path) -> None:
    run_coroutine(callers_that_stop_waiting(tmp_path))


async def callers_that_stop_waiting(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'node.db'}")
    upgrade(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(tenants).values(id="acme", name="Acme", created_at=0.0, allowed_origins=[], settings={})
        )
    node = ContactCenterNode(engine, Hub(), ManualClock())
    await node.start()
    try:
        queue = Queue("sales", "Sales", Channel.PHONE)
        await node.configure("acme", lambda cc, now: cc.upsert_queue(queue, now), lambda connection: None)
        abandoned = [
            asyncio.ensure_future(node.read("acme", lambda cc: len(cc.interactions))),
            asyncio.ensure_future(node.execute("acme", cmd.SignIn("nobody"))),  # refused: unknown agent
        ]
        submits = [
            asyncio.ensure_future(node.execute("acme", cmd.SubmitInteraction(f"call{n}", "sales", Channel.PHONE)))
            for n in range(3)
        ]
        await asyncio.sleep(0)  # everything is submitted and waits for its answer
        for caller in [*abandoned, submits[0]]:
            caller.cancel()  # e.g. the client hung up before the answer
        answered = await asyncio.wait_for(asyncio.gather(*submits[1:]), timeout=5)
        assert all(events for events in answered)
        waiting = await node.read("acme", lambda cc: [i.id for i in cc.waiting_in("sales")])
        assert waiting == ["call0", "call1", "call2"], "the cancelled caller's command still happened, in order"
        profile = AgentProfile("a1", "a1@acme.example", "A1", queue_ids=("sales",))
        events = await asyncio.wait_for(
            node.configure("acme", lambda cc, now: cc.upsert_agent(profile, now), lambda connection: None), timeout=5
        )
        assert events == [], "the node keeps serving"
    finally:
        await node.stop()
        engine.dispose()
