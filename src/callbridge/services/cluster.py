"""Several nodes on one PostgreSQL database: who runs which tenant (leases), and when a tenant moves.

`LeaseKeeper` runs beside a clustered `ContactCenterNode`. Every `lease_seconds / 3` it (in a worker
thread, so the event loop keeps serving) marks this node alive in `cluster_nodes`, renews the leases of
the tenants the node runs, and reads every tenant's lease. Then, on the loop:

- a tenant whose lease did not renew (it expired, or another node took it) is dropped from the node;
- if the node could not renew for so long that its lease may be about to run out (the database
  unreachable), it drops the tenant before the lease expires by the database's clock;
- the node takes free or expired leases up to its fair share (tenants / live nodes, rounded up) and
  loads those tenants; it gives up its excess when other nodes join, so tenants spread over the live
  nodes and move back to a node that rejoins, without moving more than needed;
- on a graceful stop, it drops every tenant and releases their leases at once: the other nodes take
  them on their next round instead of waiting for expiry.

The keeper only decides who should run what. Safety does not depend on its timing: every batch the node
commits is fenced by the lease row's holder and epoch inside the batch's own transaction (see
`store.leases.fence`), so a node that was paused past its lease writes nothing when it wakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from prometheus_client import Counter, Gauge
from sqlalchemy import Engine

from callbridge.services.node import ContactCenterNode
from callbridge.store import leases as lease_store
from callbridge.store.leases import Lease, Round

log = logging.getLogger(__name__)

LEASES_HELD = Gauge("callbridge_leases_held", "Tenant leases this node holds (tenants it runs)")
LEASES_TAKEN = Counter(
    "callbridge_leases_taken_total",
    "Tenant leases taken: free (never held or released by a node that stopped) or takeover (expired while "
    "another node held it: a failover)",
    ["kind"],
)
LEASES_LOST = Counter(
    "callbridge_leases_lost_total",
    "Tenants this node stopped running: moved (another node holds the lease), expired (not renewed in time), "
    "handed_over (released to balance the nodes)",
    ["reason"],
)
# how long after another node's lease should have run out (by the last round's reading) to look again
EXPIRY_MARGIN_SECONDS = 0.05

CLUSTER_NODES = Gauge("callbridge_cluster_nodes", "Live nodes of the cluster, as this node last saw them")


@dataclass
class _Held:
    epoch: int
    renewed_at: float  # monotonic, before the renewing transaction started
    age_seconds: float  # the lease's age (by the database) at renewal


class LeaseKeeper:
    def __init__(
        self,
        engine: Engine,
        node: ContactCenterNode,
        *,
        node_id: str,
        address: str,
        lease_seconds: float = 5.0,
    ) -> None:
        self.engine = engine
        self.node = node
        self.node_id = node_id
        self.address = address
        self.lease_seconds = lease_seconds
        self.interval = lease_seconds / 3
        self._held: dict[str, _Held] = {}
        self._nodes: list[str] = []
        self._addresses: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = False
        self._next_expiry = math.inf  # monotonic time when the next lease held by another node runs out
        # called after every round with the live nodes (channels.voice_nodes fails calls carried by gone ones)
        self.on_round: list[Callable[[list[str]], Awaitable[object]]] = []
        # a batch left idle this long (its node paused mid-batch) is ended by the database, which releases
        # the lease rows its fence keeps locked: a takeover never waits longer than a lease for it
        node.batch_idle_limit_seconds = lease_seconds

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Joins the cluster and takes this node's share of the tenants before serving."""
        self._loop = asyncio.get_running_loop()
        await self.run_once()
        self._task = asyncio.create_task(self._run(), name="lease-keeper")

    async def stop(self) -> None:
        """Graceful: drops every tenant, then releases their leases and leaves at once."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        held = list(self._held)
        for tenant_id in held:
            with contextlib.suppress(Exception):
                await self.node.drop(tenant_id)
        self._held.clear()
        LEASES_HELD.set(0)
        try:
            await asyncio.to_thread(self._leave, held)
        except Exception:
            log.exception("releasing the leases failed: they expire on their own")

    def _leave(self, tenant_ids: list[str]) -> None:
        lease_store.depart(self.engine, self.node_id, tenant_ids)

    def wake(self) -> None:
        """Run a round now (a tenant was created). Safe from any thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _run(self) -> None:
        while not self._stopping:
            # the next round comes after one interval, or just after another node's lease runs out if that is
            # sooner (its holder stopped renewing): a takeover then waits for the lease only, not a round more
            wait = min(self.interval, max(0.0, self._next_expiry - time.monotonic()) + EXPIRY_MARGIN_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()
            try:
                await self.run_once()
            except Exception:
                log.exception("lease round failed")

    # ---------------------------------------------------------------------- rounds

    async def run_once(self) -> None:
        started = time.monotonic()
        epochs = self.node.held_epochs()
        try:
            found = await asyncio.to_thread(self._exchange, epochs)
        except Exception:
            log.exception("could not reach the database to renew leases")
            await self._drop_overdue()
            raise
        self._nodes, self._addresses = found.nodes, found.addresses
        CLUSTER_NODES.set(len(found.nodes))
        for tenant_id in epochs:
            lease = found.renewed.get(tenant_id)
            if lease is None:
                current = found.leases.get(tenant_id)
                holder = current.holder if current is not None and current.live else None
                LEASES_LOST.labels("moved" if holder else "expired").inc()
                log.warning("lease lost", extra={"tenant_id": tenant_id, "holder": holder})
                self._held.pop(tenant_id, None)
                await self.node.drop(tenant_id, holder, self._addresses.get(holder or ""))
            else:
                held = self._held.get(tenant_id)
                if held is None:
                    held = self._held[tenant_id] = _Held(lease.epoch, started, lease.age_seconds)
                held.renewed_at, held.age_seconds = started, lease.age_seconds
        # leases this keeper took whose tenant the node no longer runs (it was fenced off): gone
        for tenant_id in [t for t in self._held if t not in epochs]:
            self._held.pop(tenant_id)
        await self._balance(found)
        self._publish_elsewhere(found)
        others = [lease.seconds_left for lease in found.leases.values() if lease.live and lease.holder != self.node_id]
        self._next_expiry = started + min(others) if others else math.inf
        LEASES_HELD.set(len(self._held))
        for hook in self.on_round:
            try:
                await hook(list(self._nodes))
            except Exception:
                log.exception("after the lease round: %s failed", hook)

    def _exchange(self, epochs: dict[str, int]) -> Round:
        return lease_store.exchange(self.engine, self.node_id, self.address, epochs, self.lease_seconds)

    async def _drop_overdue(self) -> None:
        """The database cannot be reached: stop running tenants before their leases may expire (one round
        early, since the next check comes a round later)."""
        now = time.monotonic()
        for tenant_id, held in list(self._held.items()):
            if now >= held.renewed_at + self.lease_seconds - self.interval:
                LEASES_LOST.labels("expired").inc()
                log.warning("lease not renewed in time", extra={"tenant_id": tenant_id})
                self._held.pop(tenant_id)
                await self.node.drop(tenant_id)

    async def _balance(self, found: Round) -> None:
        if self._stopping or not found.tenant_ids:
            return
        share = math.ceil(len(found.tenant_ids) / max(1, len(found.nodes)))
        mine = sorted(self._held)
        if len(mine) > share:
            # nodes joined: hand the excess over (drop first, so nothing is refused, then release)
            for tenant_id in mine[share:]:
                await self.node.drop(tenant_id)
                self._held.pop(tenant_id, None)
                LEASES_LOST.labels("handed_over").inc()
            await asyncio.to_thread(self._release, mine[share:])
            return
        # free: never leased, released, expired, or still in this node's name from before it restarted
        free = [
            t
            for t in found.tenant_ids
            if t not in self._held and not _held_by_another(found.leases.get(t), self.node_id)
        ]
        for tenant_id in free[: share - len(mine)]:
            await self._take(tenant_id, found.leases.get(tenant_id))

    def _release(self, tenant_ids: list[str]) -> None:
        lease_store.hand_over(self.engine, self.node_id, tenant_ids)

    async def _take(self, tenant_id: str, before: Lease | None) -> None:
        started = time.monotonic()
        try:
            lease = await asyncio.to_thread(self._acquire, tenant_id)
        except Exception:
            log.exception("taking a lease failed", extra={"tenant_id": tenant_id})
            return
        if lease is None:
            return  # another node was quicker
        try:
            await self.node.adopt(tenant_id, lease.epoch)
        except Exception:
            log.exception("loading a tenant failed; releasing its lease", extra={"tenant_id": tenant_id})
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._release, [tenant_id])
            return
        self._held[tenant_id] = _Held(lease.epoch, started, lease.age_seconds)
        takeover = before is not None and before.holder not in (None, self.node_id)
        LEASES_TAKEN.labels("takeover" if takeover else "free").inc()
        log.info(
            "tenant taken",
            extra={"tenant_id": tenant_id, "epoch": lease.epoch, "previous_holder": before.holder if before else None},
        )

    def _acquire(self, tenant_id: str) -> Lease | None:
        # a paused node's batch may hold the row locked: do not wait for it, try again next round
        return lease_store.take(
            self.engine, tenant_id, self.node_id, self.lease_seconds, lock_wait_seconds=min(1.0, self.interval)
        )

    def _publish_elsewhere(self, found: Round) -> None:
        where: dict[str, tuple[str | None, str | None]] = {}
        for tenant_id in found.tenant_ids:
            if tenant_id in self._held:
                continue
            lease = found.leases.get(tenant_id)
            holder = lease.holder if lease is not None and lease.live and lease.holder != self.node_id else None
            where[tenant_id] = (holder, found.addresses.get(holder) if holder else None)
        self.node.set_elsewhere(where)

    # ---------------------------------------------------------------------- status

    def status(self) -> dict[str, object]:
        """What /readyz shows: this node, the live nodes, and the tenants held here with their leases."""
        now = time.monotonic()
        return {
            "node_id": self.node_id,
            "address": self.address,
            "nodes": [{"node_id": n, "address": self._addresses.get(n)} for n in self._nodes],
            "lease_seconds": self.lease_seconds,
            "tenants": {
                tenant_id: {
                    "epoch": held.epoch,
                    "lease_age_seconds": round(held.age_seconds + (now - held.renewed_at), 3),
                    "renewed_seconds_ago": round(now - held.renewed_at, 3),
                }
                for tenant_id, held in sorted(self._held.items())
            },
        }


def _held_by_another(lease: Lease | None, node_id: str) -> bool:
    return lease is not None and lease.live and lease.holder != node_id
