"""Several nodes on one PostgreSQL database: who runs which tenant (leases), and when a tenant moves.

`LeaseKeeper` runs beside a clustered `ContactCenterNode`. Renewing is kept apart from everything else the
node does, so that a busy node keeps its tenants: a thread of its own (`lease-renewer`), on a connection pool of
its own, marks this node alive in `cluster_nodes` and renews the leases of the tenants it runs, in one
statement, every `lease_seconds / 4`. It never waits behind the requests' database work (the default thread
pool) nor for the event loop to be free. It renews only while the event loop shows it is running (a pulse
it leaves every few hundred milliseconds): a node whose loop is wedged serves nobody, and its leases run out
`lease_seconds` after it stopped (`liveness_seconds`) plus one lease at most.

Every `lease_seconds / 3` the keeper also reads every tenant's lease (in its own worker thread). Then, on the
loop:

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
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from prometheus_client import Counter, Gauge, Histogram
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

LEASE_RENEWALS = Counter(
    "callbridge_lease_renewals_total",
    "Renewals of this node's leases: done, failed (the database did not answer in time), skipped (the event loop "
    "has not run for longer than a lease: the node lets its leases run out)",
    ["outcome"],
)
LEASE_RENEWAL_GAP = Histogram(
    "callbridge_lease_renewal_gap_seconds",
    "Time between two successful renewals of this node's leases (a quarter of a lease when all is well; a lease "
    "runs out if it reaches the lease)",
    buckets=(0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0),
)
T = TypeVar("T")

CLUSTER_NODES = Gauge("callbridge_cluster_nodes", "Live nodes of the cluster, as this node last saw them")


@dataclass
class _Held:
    epoch: int
    renewed_at: float  # monotonic, before the renewing transaction started
    age_seconds: float  # the lease's age (by the database) at renewal


@dataclass(frozen=True, slots=True)
class _Renewal:
    """The last renewal: when it started (monotonic) and, per tenant renewed, (epoch, the lease's age)."""

    started: float
    leases: dict[str, tuple[int, float]]


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
        # the keeper's own connections (bootstrap gives it a small pool of its own): a renewal never waits for
        # one that a request holds
        self.engine = engine
        self.node = node
        self.node_id = node_id
        self.address = address
        self.lease_seconds = lease_seconds
        self.interval = lease_seconds / 3
        self.renew_interval = lease_seconds / 4
        # the renewer stops renewing when the event loop has not left its pulse for this long
        self.liveness_seconds = lease_seconds
        # the keeper's database work runs here, not in the default thread pool the requests queue in
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lease-keeper")
        self._renewer: threading.Thread | None = None
        self._renewer_stop = threading.Event()
        self._renewer_wake = threading.Event()
        self._renew_lock = threading.Lock()
        # written by the loop, read by the renewer (each replaced whole, never changed in place)
        self._claimed: dict[str, int] = {}  # tenant → epoch: the node's tenants and those being loaded
        self._loop_seen_at = time.monotonic()
        self._adopting: dict[str, int] = {}
        # written by the renewer, read by the loop
        self._renewal = _Renewal(-math.inf, {})
        self._held: dict[str, _Held] = {}
        self._nodes: list[str] = []
        self._addresses: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._pulse_task: asyncio.Task[None] | None = None
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
        # renewing from the start: the first round takes every free tenant at once, and the last may load
        # after a lease has gone by
        self._pulse()
        self._pulse_task = asyncio.create_task(self._keep_pulsing(), name="lease-pulse")
        self._renewer = threading.Thread(target=self._renew_forever, name="lease-renewer", daemon=True)
        self._renewer.start()
        await self.run_once()
        self._task = asyncio.create_task(self._run(), name="lease-keeper")

    async def stop(self) -> None:
        """Graceful: drops every tenant, then releases their leases and leaves at once."""
        self._stopping = True
        self._renewer_stop.set()
        self._renewer_wake.set()
        if self._renewer is not None:
            await self._in_thread(self._renewer.join)
        for task in (self._task, self._pulse_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        held = list(self._held)
        for tenant_id in held:
            with contextlib.suppress(Exception):
                await self.node.drop(tenant_id)
        self._held.clear()
        LEASES_HELD.set(0)
        try:
            await self._in_thread(self._leave, held)
        except Exception:
            log.exception("releasing the leases failed: they expire on their own")
        self._executor.shutdown(wait=False)

    def _leave(self, tenant_ids: list[str]) -> None:
        lease_store.depart(self.engine, self.node_id, tenant_ids)

    def wake(self) -> None:
        """Run a round now (a tenant was created). Safe from any thread."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _in_thread(self, function: Callable[..., T], *args: object) -> T:
        """Runs the keeper's database work in its own thread, never queued behind the requests'."""
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def _run(self) -> None:
        while not self._stopping:
            # the next round comes after one interval, or just after another node's lease runs out if that is
            # sooner (its holder stopped renewing): a takeover then waits for the lease only, not a round more
            wait = min(self.interval, max(0.0, self._next_expiry - time.monotonic()) + EXPIRY_MARGIN_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()
            try:
                await self._round()
            except Exception:
                log.exception("lease round failed")

    # -------------------------------------------------------------------- renewing

    def _pulse(self) -> None:
        """On the loop: shows the renewer that the loop runs, and which tenants (under which epochs) to renew."""
        self._loop_seen_at = time.monotonic()
        self._claimed = {**self.node.held_epochs(), **self._adopting}

    async def _keep_pulsing(self) -> None:
        while not self._stopping:
            self._pulse()
            await asyncio.sleep(self.renew_interval / 2)

    def _renew_forever(self) -> None:
        """The renewer thread: renews every `renew_interval`, sooner after a renewal that failed."""
        wait = self.renew_interval
        while not self._renewer_stop.is_set():
            self._renewer_wake.wait(wait)
            self._renewer_wake.clear()
            if self._renewer_stop.is_set():
                return
            stalled = time.monotonic() - self._loop_seen_at
            if stalled > self.liveness_seconds:
                # the node serves nobody: let its leases run out, so that another node takes its tenants
                LEASE_RENEWALS.labels("skipped").inc()
                log.warning("event loop unresponsive: leases not renewed", extra={"stalled_seconds": round(stalled, 3)})
                wait = self.renew_interval
                continue
            try:
                lost = self._renew(self._claimed)
            except Exception:
                log.exception("renewing the leases failed")
                wait = min(0.2, self.renew_interval)
                continue
            wait = self.renew_interval
            if lost:
                self.wake()  # the loop drops them on its round

    def _renew(self, epochs: dict[str, int]) -> set[str]:
        """Renews the leases of `epochs` (any thread; one renewal at a time); returns those that are lost."""
        with self._renew_lock:
            started = time.monotonic()
            try:
                renewed = lease_store.renew_held(
                    self.engine,
                    self.node_id,
                    self.address,
                    epochs,
                    self.lease_seconds,
                    lock_wait_seconds=self.renew_interval,
                )
            except Exception:
                LEASE_RENEWALS.labels("failed").inc()
                raise
            LEASE_RENEWALS.labels("done").inc()
            previous = self._renewal.started
            if previous > -math.inf:
                LEASE_RENEWAL_GAP.observe(started - previous)
            self._renewal = _Renewal(started, {t: (lease.epoch, lease.age_seconds) for t, lease in renewed.items()})
        return set(epochs) - set(renewed)

    def _renewed_at(self, tenant_id: str, held: _Held) -> tuple[float, float]:
        """(monotonic time of the tenant's last renewal, the lease's age then), by the loop or the renewer."""
        renewal = self._renewal
        renewed = renewal.leases.get(tenant_id)
        if renewed is not None and renewed[0] == held.epoch and renewal.started > held.renewed_at:
            return renewal.started, renewed[1]
        return held.renewed_at, held.age_seconds

    # ---------------------------------------------------------------------- rounds

    async def run_once(self) -> None:
        """Renews the leases, then does a round (the renewer thread renews on its own once `start` ran)."""
        try:
            await self._in_thread(self._renew, self.node.held_epochs())
        except Exception:
            log.exception("could not reach the database to renew leases")
            await self._drop_overdue()
            raise
        await self._round()

    async def _round(self) -> None:
        started = time.monotonic()
        epochs = self.node.held_epochs()
        try:
            found = await self._in_thread(lease_store.survey, self.engine)
        except Exception:
            log.exception("could not reach the database to read the leases")
            await self._drop_overdue()
            raise
        self._nodes, self._addresses = found.nodes, found.addresses
        CLUSTER_NODES.set(len(found.nodes))
        for tenant_id, epoch in epochs.items():
            lease = found.leases.get(tenant_id)
            if lease is None or not (lease.live and lease.holder == self.node_id and lease.epoch == epoch):
                current = found.leases.get(tenant_id)
                holder = current.holder if current is not None and current.live else None
                LEASES_LOST.labels("moved" if holder else "expired").inc()
                log.warning("lease lost", extra={"tenant_id": tenant_id, "holder": holder})
                self._held.pop(tenant_id, None)
                await self.node.drop(tenant_id, holder, self._addresses.get(holder or ""))
            elif tenant_id not in self._held:
                self._held[tenant_id] = _Held(lease.epoch, started, lease.age_seconds)
        # leases this keeper took whose tenant the node no longer runs (it was fenced off): gone
        for tenant_id in [t for t in self._held if t not in epochs]:
            self._held.pop(tenant_id)
        await self._balance(found)
        self._publish_elsewhere(found)
        self._pulse()  # the renewer leaves the tenants dropped now alone
        others = [lease.seconds_left for lease in found.leases.values() if lease.live and lease.holder != self.node_id]
        self._next_expiry = started + min(others) if others else math.inf
        LEASES_HELD.set(len(self._held))
        for hook in self.on_round:
            try:
                await hook(list(self._nodes))
            except Exception:
                log.exception("after the lease round: %s failed", hook)

    async def _drop_overdue(self) -> None:
        """The database cannot be reached: stop running tenants before their leases may expire (one round
        early, since the next check comes a round later)."""
        now = time.monotonic()
        for tenant_id, held in list(self._held.items()):
            renewed_at, _age = self._renewed_at(tenant_id, held)
            if now >= renewed_at + self.lease_seconds - self.interval:
                LEASES_LOST.labels("expired").inc()
                log.warning("lease not renewed in time", extra={"tenant_id": tenant_id})
                self._held.pop(tenant_id)
                await self.node.drop(tenant_id)
        self._pulse()

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
            await self._in_thread(self._release, mine[share:])
            return
        # free: never leased, released, expired, or still in this node's name from before it restarted
        free = [
            t
            for t in found.tenant_ids
            if t not in self._held and not _held_by_another(found.leases.get(t), self.node_id)
        ]
        # all at once: after a failover the tenants of the node that died load side by side, and the last of
        # them is not kept waiting for every other one to load first
        await asyncio.gather(*(self._take(t, found.leases.get(t)) for t in free[: share - len(mine)]))

    def _release(self, tenant_ids: list[str]) -> None:
        lease_store.hand_over(self.engine, self.node_id, tenant_ids)

    async def _take(self, tenant_id: str, before: Lease | None) -> None:
        started = time.monotonic()
        try:
            lease = await self._in_thread(self._acquire, tenant_id)
        except Exception:
            log.exception("taking a lease failed", extra={"tenant_id": tenant_id})
            return
        if lease is None:
            return  # another node was quicker
        # renewed while it loads: loading a large tenant on a busy node may take longer than a lease
        self._adopting = {**self._adopting, tenant_id: lease.epoch}
        self._pulse()
        try:
            await self.node.adopt(tenant_id, lease.epoch)
        except Exception:
            log.exception("loading a tenant failed; releasing its lease", extra={"tenant_id": tenant_id})
            with contextlib.suppress(Exception):
                await self._in_thread(self._release, [tenant_id])
            return
        finally:
            self._adopting = {t: e for t, e in self._adopting.items() if t != tenant_id}
            self._pulse()
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
                    "lease_age_seconds": round(age + (now - renewed_at), 3),
                    "renewed_seconds_ago": round(now - renewed_at, 3),
                }
                for tenant_id, held in sorted(self._held.items())
                for renewed_at, age in [self._renewed_at(tenant_id, held)]
            },
        }


def _held_by_another(lease: Lease | None, node_id: str) -> bool:
    return lease is not None and lease.live and lease.holder != node_id
