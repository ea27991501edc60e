"""Several nodes relay one auto-log outbox: each relay claims due rows with `FOR UPDATE SKIP LOCKED` and a
claim lease, so every log reaches the CRM exactly once however the relays' claims interleave (PostgreSQL: three
relays with their own connection pools, as three nodes have)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, insert, select

from callbridge.connectors.base import ActivityLog, ActivityWritten, CrmConnector
from callbridge.connectors.fake import FakeCrm
from callbridge.services.outbox import AutoLogRelay, RelaySettings
from callbridge.store import crm_outbox
from callbridge.store.crm_tables import crm_outbox as crm_outbox_table
from callbridge.store.tables import tenants
from tests.integration.cluster.conftest import DEADLINE_SECONDS

LOGS = 300
RELAYS = 3


class CountingCrm(FakeCrm):
    """The fake CRM, counting every write it is asked for (its upsert would hide a second one)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: Counter[str] = Counter()

    async def write_activity(self, log: ActivityLog) -> ActivityWritten:
        self.writes[log.external_id] += 1
        await asyncio.sleep(random.uniform(0, 0.01))  # a CRM's round trip: claims of the relays interleave
        return await super().write_activity(log)


class TheTenantsCrm:
    """What a relay asks of the CRM connections: the tenant's connector (here the counting fake, for every node)."""

    def __init__(self, crm: CrmConnector) -> None:
        self.crm = crm

    async def get(self, tenant_id: str, crm: str, *, agent_id: str | None = None) -> CrmConnector | None:
        return self.crm


@pytest.fixture
def node_engines(pg_schema: tuple[str, str], pg_engine: Engine) -> Iterator[list[Engine]]:
    url, schema = pg_schema
    engines = [create_engine(url, connect_args={"options": f"-csearch_path={schema}"}) for _ in range(RELAYS)]
    yield engines
    for engine in engines:
        engine.dispose()


def test_three_relays_deliver_every_log_exactly_once(pg_engine: Engine, node_engines: list[Engine]) -> None:
    with pg_engine.begin() as connection:
        connection.execute(insert(tenants).values(id="acme", name="Acme", created_at=0.0))
        for n in range(LOGS):
            payload = {"subject": f"Call {n}", "comments": "", "channel": "phone", "direction": "inbound"}
            crm_outbox.add_entry(connection, "acme", f"i{n}", "fake", payload, now=0.0)
    crm = CountingCrm()
    settings = RelaySettings(batch_size=20, lease_seconds=DEADLINE_SECONDS)
    relays = [AutoLogRelay(engine, TheTenantsCrm(crm), settings) for engine in node_engines]  # type: ignore[arg-type]

    async def relay_until_done(relay: AutoLogRelay) -> int:
        delivered = 0
        while claimed := await relay.run_once():
            delivered += claimed
        return delivered

    async def all_relays() -> list[int]:
        async with asyncio.timeout(DEADLINE_SECONDS * 4):
            return await asyncio.gather(*(relay_until_done(relay) for relay in relays))

    per_relay = asyncio.run(all_relays())

    assert sum(per_relay) == LOGS
    assert sum(1 for claimed in per_relay if claimed > 0) >= 2, f"the relays shared the work: {per_relay}"
    assert set(crm.writes) == {f"i{n}" for n in range(LOGS)}
    assert [external_id for external_id, count in crm.writes.items() if count != 1] == []
    with pg_engine.connect() as connection:
        statuses = Counter(connection.execute(select(crm_outbox_table.c.status)).scalars())
    assert statuses == {"sent": LOGS}
