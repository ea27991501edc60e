"""The contact-center node: runs each tenant's ContactCenter, persists, then publishes.

All reads and changes of the live state go through one asyncio task, in
arrival order. It takes whatever has arrived as a batch, applies it to the
in-memory domain, writes the batch in one transaction (group commit, in a
worker thread so the event loop keeps serving), and only then publishes the
wire events and answers the callers. Reads in a batch run before its changes,
so a snapshot always matches what has been published: a client that
subscribes in the same read gets every later event exactly once. What
each batch tells whom is the tenant's `realtime.notifier.TenantNotifier`.

If a write fails, the tenants touched by the batch are reloaded from the
database (which the failed transaction left as it was) and every caller in
the batch gets `StoreUnavailable`: nothing is half-applied.

In a cluster (`node_id` set, PostgreSQL), the node runs only the tenants whose lease it holds
(`services.cluster.LeaseKeeper` hands them over with `adopt` and takes them back with `drop`), and
every batch first proves, in its own transaction, that each tenant it writes is still leased to this
node under the epoch it was loaded with (`store.leases.fence`). If not, nothing of the batch is
written: the callers of the lost tenants get `TenantMoved`, the node drops those tenants, and the
rest of the batch is applied again.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import Connection, Engine

from callbridge.domain import commands as cmd
from callbridge.domain import events as ev
from callbridge.domain.contact_center import ContactCenter
from callbridge.domain.errors import DomainError
from callbridge.domain.model import AgentStatus
from callbridge.realtime.hub import Delivery, Hub, Subscriber
from callbridge.realtime.notifier import TenantNotifier
from callbridge.services.clock import Clock
from callbridge.store.leases import LeaseLost, fence
from callbridge.store.live_state import (
    SavedTenant,
    TenantChanges,
    all_tenant_ids,
    load_tenant,
    stored_interaction_ids,
    write_changes,
)

if TYPE_CHECKING:
    from callbridge.services.operations import Operation

log = logging.getLogger(__name__)
T = TypeVar("T")
S = TypeVar("S")

COMMANDS = Counter("callbridge_commands_total", "Commands applied", ["outcome"])
BATCH_SIZE = Histogram(
    "callbridge_batch_size", "Work items per group commit", buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256)
)
COMMIT_SECONDS = Histogram(
    "callbridge_commit_seconds", "Time to write one batch", buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1)
)
OFFERS = Counter("callbridge_offers_total", "Offers made")
LIVE_INTERACTIONS = Gauge("callbridge_live_interactions", "Interactions not yet ended, all tenants")
FENCED_BATCHES = Counter(
    "callbridge_fenced_batches_total", "Batches refused because a tenant's lease had moved to another node"
)

MAX_BATCH = 512
# ids of interactions that ended while this node ran: a reused one is refused without touching the database
ENDED_IDS_KEPT = 200_000


class Refusal(Exception):  # noqa: N818 - it names what happened, like DomainError's subclasses
    """Raised by a work item before it changed anything: passed to the caller as it is."""


class InteractionIdTaken(Refusal):
    """An interaction with this id exists or existed: reusing the id would overwrite its history."""

    def __init__(self, interaction_id: str) -> None:
        super().__init__(f"interaction {interaction_id!r} already exists")
        self.interaction_id = interaction_id


class _InteractionIdsTaken(Exception):  # noqa: N818 - internal signal from the writer to the loop
    def __init__(self, ids: set[tuple[str, str]]) -> None:
        super().__init__(f"{len(ids)} interaction ids already used")
        self.ids = ids


class AgentSeenSince(Refusal):
    """The heartbeat sweep found an agent silent, but the agent was seen before the news was applied."""


class StoreUnavailable(Exception):
    """The database refused a write; nothing was applied. Try again."""


class TenantNotLoaded(Exception):
    pass


class TenantMoved(Exception):  # noqa: N818 - it names what happened
    """Another node runs this tenant (or none does, for a moment): nothing was applied here. Retry (without
    a bus, or for a request that is not a named operation, send it to the node named)."""

    def __init__(self, tenant_id: str, holder: str | None = None, address: str | None = None) -> None:
        if holder is None:
            where = "no node holds it at this moment (it is being handed over)"
        else:
            where = f"node {holder!r}" + (f" ({address})" if address else "") + " serves it"
        super().__init__(f"tenant {tenant_id!r} is not served by this node: {where}; retry")
        self.tenant_id = tenant_id
        self.holder = holder
        self.address = address


class Forwarder(Protocol):
    """Sends named operations to the node holding a tenant (`services.forwarding`)."""

    async def forward(self, holder: str, tenant_id: str, operation: Operation) -> Any: ...

    def note_seen(self, tenant_id: str, agent_id: str) -> None: ...

    def abandon(self, holder: str, tenant_id: str) -> None: ...


Writer = Callable[[Connection], None]
AfterCommit = Callable[[], Coroutine[Any, Any, None]]


@dataclass
class BatchEffects:
    """What a listener adds to a batch: rows written in the same transaction, and work started after commit."""

    writes: list[Writer] = field(default_factory=list)
    after_commit: list[AfterCommit] = field(default_factory=list)


class BatchListener(Protocol):
    """Sees each tenant's events of a batch while the domain state still shows them (ended interactions
    included), before anything is written. The auto-log outbox, screen pops and report aggregates plug in
    here. It must not block: it returns rows to write and coroutines to start after the commit."""

    def __call__(self, tenant_id: str, cc: ContactCenter, events: list[ev.Event]) -> BatchEffects | None: ...


@dataclass(slots=True)
class _Outcome:
    events: list[ev.Event]
    value: Any


@dataclass(eq=False)
class _Work:
    tenant_id: str
    apply: Callable[[ContactCenter, float], Any]
    future: asyncio.Future[Any]
    read_only: bool
    write: Writer | None = None
    new_interaction_id: str | None = None  # must never have been used in this tenant


@dataclass
class _Runtime:
    cc: ContactCenter
    deadline: float | None = None
    last_seen: dict[str, float] = field(default_factory=dict)
    lost: set[str] = field(default_factory=set)
    notifier: TenantNotifier = field(default_factory=TenantNotifier)


@dataclass
class _Applied:
    """A batch applied in memory, not yet committed."""

    touched: dict[str, list[ev.Event]] = field(default_factory=dict)  # tenant → its events (maybe none)
    results: list[tuple[_Work, Any]] = field(default_factory=list)  # applied commands and their answers
    writes: list[Writer] = field(default_factory=list)  # what commits with the batch (configuration, effects)


class ContactCenterNode:
    def __init__(
        self,
        engine: Engine,
        hub: Hub,
        clock: Clock,
        *,
        heartbeat_timeout_seconds: float = 30.0,
        sweep_interval_seconds: float = 1.0,
        summary_interval_seconds: float = 0.5,
        node_id: str | None = None,
    ) -> None:
        self.engine = engine
        # In a cluster: this node's name on the leases, the epoch each held tenant was loaded under, and
        # where the other tenants are (holder, address; holder None while a tenant is between nodes).
        self.node_id = node_id
        self.batch_idle_limit_seconds: float | None = None  # see store.leases.fence
        self._epochs: dict[str, int] = {}
        self._elsewhere: dict[str, tuple[str | None, str | None]] = {}
        self.on_new_tenant: Callable[[], None] | None = None  # in a cluster: the lease keeper's wake-up
        # run in a worker thread while a tenant taken from another node loads: caches of its settings reload
        self.on_adopting: list[Callable[[str], None]] = []
        self.forwarder: Forwarder | None = None  # in a cluster with a bus: reaches the other tenants' holders
        self._provided: dict[type, Any] = {}
        self._membership: collections.deque[tuple[Callable[[], Coroutine[Any, Any, None]], asyncio.Future[None]]] = (
            collections.deque()
        )
        self.hub = hub
        self.clock = clock
        self.heartbeat_timeout_seconds = heartbeat_timeout_seconds
        self.sweep_interval_seconds = sweep_interval_seconds
        self.summary_interval_seconds = summary_interval_seconds
        self._tenants: dict[str, _Runtime] = {}
        self._inbox: collections.deque[_Work] = collections.deque()
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self._listeners: list[BatchListener] = []
        self._background: set[asyncio.Task[None]] = set()
        self._ended_ids: collections.OrderedDict[tuple[str, str], None] = collections.OrderedDict()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Loads every tenant, handles what expired while the node was down, and starts the loop.
        In a cluster, no tenant: they come with their leases (`adopt`)."""
        tenant_ids: list[str] = []
        if self.node_id is None:
            with self.engine.connect() as connection:
                tenant_ids = list(all_tenant_ids(connection))
        now = self.clock.now()
        batch: list[TenantChanges] = []
        for tenant_id in tenant_ids:
            runtime, events = self._load(tenant_id, now)
            self._tenants[tenant_id] = runtime
            batch.append(TenantChanges(tenant_id, runtime.cc.take_changes(), events))
        await asyncio.to_thread(self._write, batch, [])
        self._tasks = [
            asyncio.create_task(self._run(), name="contact-center-loop"),
            asyncio.create_task(self._sweep_heartbeats(), name="heartbeat-sweeper"),
            asyncio.create_task(self._publish_summaries(), name="summary-publisher"),
        ]

    async def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        # callers still waiting get an answer rather than hanging past shutdown
        while self._inbox:
            work = self._inbox.popleft()
            if not work.future.done():
                work.future.cancel()
        while self._membership:
            _change, done = self._membership.popleft()
            if not done.done():
                done.cancel()
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    def _load(self, tenant_id: str, now: float, saved: SavedTenant | None = None) -> tuple[_Runtime, list[ev.Event]]:
        saved = saved or load_tenant(self.engine, tenant_id)
        cc = ContactCenter(tenant_id)
        for queue in saved.queues:
            cc.upsert_queue(queue, now)
        events = cc.restore(saved.agents, saved.interactions, now)
        runtime = _Runtime(cc)
        # a restart gives every signed-in agent a full heartbeat interval to reconnect
        runtime.last_seen = {a: now for a in cc.agents}
        runtime.deadline = cc.next_deadline()
        return runtime, events

    def add_listener(self, listener: BatchListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: BatchListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def add_tenant(self, tenant_id: str) -> None:
        """A tenant created after start (its rows are already committed). In a cluster it is served once a
        node has taken its lease (see services.cluster)."""
        if self.node_id is not None:
            if tenant_id not in self._tenants:
                self._elsewhere.setdefault(tenant_id, (None, None))
            if self.on_new_tenant is not None:
                self.on_new_tenant()
            return
        if tenant_id not in self._tenants:
            self._tenants[tenant_id] = _Runtime(ContactCenter(tenant_id))

    def has_tenant(self, tenant_id: str) -> bool:
        """Whether this node serves the tenant; False if it does not exist. A tenant that exists but runs on
        another node raises `TenantMoved` naming that node (the web layer answers 503)."""
        if tenant_id in self._tenants:
            return True
        if tenant_id in self._elsewhere:
            if self.forwarder is not None:
                return True  # named operations reach its holder
            raise self._moved(tenant_id)
        return False

    def holds(self, tenant_id: str) -> bool:
        """Whether this node runs the tenant now."""
        return tenant_id in self._tenants

    def holder_of(self, tenant_id: str) -> str | None:
        """The node that runs a tenant: this one's name (or "" on a single node), another's, or None while
        it is between nodes or unknown."""
        if tenant_id in self._tenants:
            return self.node_id or ""
        return self._elsewhere.get(tenant_id, (None, None))[0]

    # ------------------------------------------------------------------ cluster

    def held_tenants(self) -> list[str]:
        """The tenants this node runs now (every tenant on a single node)."""
        return list(self._tenants)

    def held_epochs(self) -> dict[str, int]:
        """The tenants this node runs, with the lease epoch each was loaded under."""
        return dict(self._epochs)

    def set_elsewhere(self, where: dict[str, tuple[str | None, str | None]]) -> None:
        """Tenants run by other nodes (or by none, for a moment): (holder, address). WebSockets here that
        follow a tenant whose holder changed are let go: they reconnect for the new holder's snapshot."""
        before = self._elsewhere
        self._elsewhere = {t: w for t, w in where.items() if t not in self._tenants}
        for tenant_id, (holder, _address) in before.items():
            if holder is not None and self._elsewhere.get(tenant_id, (None, None))[0] != holder:
                self.hub.disconnect_tenant(tenant_id)
                if self.forwarder is not None:
                    self.forwarder.abandon(holder, tenant_id)

    def epoch_of(self, tenant_id: str) -> int:
        """The lease epoch this node runs the tenant under (0 on a single node)."""
        return self._epochs.get(tenant_id, 0)

    def resend_summaries(self, tenant_id: str) -> None:
        """A subscriber joins: its snapshot may hold a summary that changed since the last digest, and if it
        changes back before the next one, "equal to the last published" would hide that from it."""
        runtime = self._tenants.get(tenant_id)
        if runtime is not None:
            runtime.notifier.resend_all()

    def _moved(self, tenant_id: str) -> TenantMoved:
        holder, address = self._elsewhere.get(tenant_id, (None, None))
        return TenantMoved(tenant_id, holder, address)

    async def adopt(self, tenant_id: str, epoch: int) -> None:
        """Starts running a tenant whose lease this node has just taken under `epoch`: loads it (off the event
        loop), handles what fell due meanwhile (as at start) and writes that under the fence. Raises
        LeaseLost if the lease moved on meanwhile."""

        def load() -> SavedTenant:
            for reload in self.on_adopting:
                reload(tenant_id)
            return load_tenant(self.engine, tenant_id)

        saved = await asyncio.to_thread(load)

        async def change() -> None:
            runtime, events = self._load(tenant_id, self.clock.now(), saved)
            batch = [TenantChanges(tenant_id, runtime.cc.take_changes(), events)]
            await asyncio.to_thread(self._write, batch, [], None, {tenant_id: epoch})
            self._tenants[tenant_id] = runtime
            self._epochs[tenant_id] = epoch
            previous, _address = self._elsewhere.pop(tenant_id, (None, None))
            # WebSockets here that followed the tenant on another node reconnect to this node's state, and
            # requests still waiting for the previous holder's answer are answered now
            self.hub.disconnect_tenant(tenant_id)
            if previous is not None and self.forwarder is not None:
                self.forwarder.abandon(previous, tenant_id)

        await self._change_membership(change)

    async def drop(self, tenant_id: str, holder: str | None = None, address: str | None = None) -> None:
        """Stops running a tenant (its lease is lost, or being handed over): callers waiting on it get
        TenantMoved, its WebSocket subscribers are told to reconnect."""

        async def change() -> None:
            self._drop_now(tenant_id, holder, address)

        await self._change_membership(change)

    def _drop_now(self, tenant_id: str, holder: str | None, address: str | None) -> None:
        if tenant_id not in self._tenants:  # dropped already: only learn where it went
            if holder is not None or tenant_id not in self._elsewhere:
                self._elsewhere[tenant_id] = (holder, address)
            return
        self._tenants.pop(tenant_id, None)
        self._epochs.pop(tenant_id, None)
        self._elsewhere[tenant_id] = (holder, address)
        moved = self._moved(tenant_id)
        for work in self._inbox:
            if work.tenant_id == tenant_id:
                _settle(work.future, error=moved)
        self.hub.disconnect_tenant(tenant_id)
        log.warning("tenant dropped", extra={"tenant_id": tenant_id, "holder": holder})

    async def _change_membership(self, change: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Runs `change` in the loop between two batches (no batch of this node is in flight meanwhile)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._membership.append((change, done))
        self._wakeup.set()
        await done

    # --------------------------------------------------------------------- calls

    async def execute(self, tenant_id: str, command: cmd.Command) -> list[ev.Event]:
        """Applies a command; returns its events once they are committed and published. A tenant another
        node holds: the command is forwarded to it, and the events stay there (the answer is empty)."""
        if tenant_id not in self._tenants and self.forwarder is not None and tenant_id in self._elsewhere:
            from callbridge.services.operations import ExecuteCommand  # noqa: PLC0415 - operations import this module

            await self._forward(tenant_id, ExecuteCommand.of(command))
            return []
        events: list[ev.Event] = await self._submit(tenant_id, lambda cc, now: cc.handle(command, now), read_only=False)
        return events

    def provide(self, kind: type[S], instance: S) -> None:
        """Makes a service built on this node (telephony, holds, configuration) reachable from the named
        operations that run here: an operation carries data, never a reference to a service."""
        self._provided[kind] = instance

    def provided(self, kind: type[S]) -> S:
        found: S = self._provided[kind]
        return found

    async def perform(self, tenant_id: str, operation: Operation) -> Any:
        """A named operation (`services.operations`): run here if this node holds the tenant (nothing is
        serialised), else forwarded to the node that does, whose answer or error comes back."""
        if tenant_id not in self._tenants and self.forwarder is not None and tenant_id in self._elsewhere:
            return await self._forward(tenant_id, operation)
        return await operation.run(self, tenant_id)

    async def perform_forwarded(self, tenant_id: str, operation: Operation) -> Any:
        """An operation another node forwarded: run only if this node holds the tenant (never forwarded on:
        a tenant that moved meanwhile answers TenantMoved, and the first node's caller retries)."""
        if tenant_id not in self._tenants:
            if tenant_id in self._elsewhere or self.node_id is not None:
                raise self._moved(tenant_id)
            raise TenantNotLoaded(tenant_id)
        return await operation.run(self, tenant_id)

    async def _forward(self, tenant_id: str, operation: Operation) -> Any:
        holder, _address = self._elsewhere.get(tenant_id, (None, None))
        if holder is None or self.forwarder is None:
            raise self._moved(tenant_id)
        return await self.forwarder.forward(holder, tenant_id, operation)

    async def execute_and_read(
        self,
        tenant_id: str,
        command: cmd.Command,
        view: Callable[[ContactCenter], T],
        check: Callable[[ContactCenter], None] | None = None,
        *,
        new_interaction_id: str | None = None,
    ) -> T:
        """`check` (may raise Refusal or DomainError), the command, and `view` of the state right
        after it, in one turn of the loop; answered once committed and published.

        `new_interaction_id`: an id chosen by the caller (a telephony system's call id, say). If an
        interaction ever had it in this tenant, live or ended, the answer is `InteractionIdTaken`."""

        def apply(cc: ContactCenter, now: float) -> _Outcome:
            if check is not None:
                check(cc)
            events = cc.handle(command, now)
            return _Outcome(events, view(cc))

        outcome: _Outcome = await self._submit(tenant_id, apply, read_only=False, new_interaction_id=new_interaction_id)
        result: T = outcome.value
        return result

    async def configure(
        self,
        tenant_id: str,
        change: Callable[[ContactCenter, float], list[ev.Event]],
        write: Writer,
        *,
        new_interaction_id: str | None = None,
    ) -> list[ev.Event]:
        """A change with rows of its own: `change` updates the domain, `write` the rows, in one transaction.
        `new_interaction_id` as in `execute_and_read`."""
        events: list[ev.Event] = await self._submit(
            tenant_id, change, read_only=False, write=write, new_interaction_id=new_interaction_id
        )
        return events

    async def read(self, tenant_id: str, view: Callable[[ContactCenter], T]) -> T:
        """Runs `view` on the published state (no change may happen during it)."""
        result: T = await self._submit(tenant_id, lambda cc, _now: view(cc), read_only=True)
        return result

    async def subscribe(
        self, subscriber: Subscriber, snapshot: Callable[[ContactCenter], T]
    ) -> tuple[T, Callable[[], None]]:
        """Takes a snapshot and subscribes in one step, so no event falls between them."""

        def both(cc: ContactCenter) -> tuple[T, Callable[[], None]]:
            self.resend_summaries(subscriber.tenant_id)
            return snapshot(cc), self.hub.subscribe(subscriber)

        return await self.read(subscriber.tenant_id, both)

    def seen(self, tenant_id: str, agent_id: str) -> None:
        """The agent's console is alive (a frame or a request arrived). For a tenant another node holds,
        the forwarder passes it on (a few times per heartbeat, not per frame)."""
        runtime = self._tenants.get(tenant_id)
        if runtime is not None:
            runtime.last_seen[agent_id] = self.clock.now()
            runtime.lost.discard(agent_id)
        elif self.forwarder is not None and tenant_id in self._elsewhere:
            self.forwarder.note_seen(tenant_id, agent_id)

    def _submit(
        self,
        tenant_id: str,
        apply: Callable[[ContactCenter, float], Any],
        *,
        read_only: bool,
        write: Writer | None = None,
        new_interaction_id: str | None = None,
    ) -> asyncio.Future[Any]:
        if tenant_id not in self._tenants:
            if tenant_id in self._elsewhere:
                raise self._moved(tenant_id)
            raise TenantNotLoaded(tenant_id)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inbox.append(_Work(tenant_id, apply, future, read_only, write, new_interaction_id))
        self._wakeup.set()
        return future

    # ---------------------------------------------------------------------- loop

    def _seconds_to_next_deadline(self) -> float | None:
        deadlines = [r.deadline for r in self._tenants.values() if r.deadline is not None]
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - self.clock.now())

    async def _run(self) -> None:
        while not self._stopping:
            while self._membership:
                change, done = self._membership.popleft()
                try:
                    await change()
                except Exception as error:
                    _settle(done, error=error)
                else:
                    _settle(done)
            if not self._inbox:
                self._wakeup.clear()
                timeout = self._seconds_to_next_deadline()
                if timeout is None or timeout > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wakeup.wait(), timeout)
            batch: list[_Work] = []
            while self._inbox and len(batch) < MAX_BATCH:
                batch.append(self._inbox.popleft())
            try:
                await self._process(batch)
            except Exception:  # the loop must outlive any single batch, and no caller may wait forever
                log.exception("contact-center batch failed; reloading the tenants it touched")
                for tenant_id in {w.tenant_id for w in batch if not w.read_only and w.tenant_id in self._tenants}:
                    self._reload(tenant_id)
                for work in batch:
                    _settle(work.future, error=StoreUnavailable("the change could not be applied; try again"))

    async def _process(self, batch: list[_Work]) -> None:
        """One batch: reads, then apply every command, work out the effects, commit once, then publish and answer."""
        now = self.clock.now()
        batch = self._refuse_dropped(batch)
        for work in batch:
            if work.read_only:
                self._run_read(work)
        applied = self._apply(batch, now)
        if not applied.touched and not applied.writes:
            return
        BATCH_SIZE.observe(len(batch))
        # wire events only for a tenant someone hears: a subscriber who joins later gets a snapshot instead
        deliveries = {
            tenant_id: self._tenants[tenant_id].notifier.deliveries(self._tenants[tenant_id].cc, events)
            if self.hub.is_heard(tenant_id)
            else []
            for tenant_id, events in applied.touched.items()
        }
        for events in applied.touched.values():
            OFFERS.inc(sum(1 for e in events if isinstance(e, ev.InteractionOffered)))
        try:
            changes, after_commit = self._effects(applied)
            await self._commit(changes, applied)
        except LeaseLost as lost:
            self._lease_lost(lost, applied)
        except _InteractionIdsTaken as taken:
            self._ids_taken(taken, applied)
        except Exception as error:
            self._write_failed(error, applied)
            return
        else:
            self._publish(changes, deliveries, after_commit, applied)
            return
        await self._process([w for w in batch if not w.future.done()])  # the rest again, on what is committed

    def _refuse_dropped(self, batch: list[_Work]) -> list[_Work]:
        """Work for a tenant this node dropped since it was submitted is answered `TenantMoved`."""
        if self.node_id is None or all(w.tenant_id in self._tenants for w in batch):
            return batch
        for work in batch:
            if work.tenant_id not in self._tenants:
                _settle(work.future, error=self._moved(work.tenant_id))
        return [w for w in batch if w.tenant_id in self._tenants]

    def _apply(self, batch: list[_Work], now: float) -> _Applied:
        """Due timers, then each command on its tenant's live state (pure, in memory). A refusal answers its
        caller at once and changes nothing; nothing is written yet."""
        applied = _Applied()
        for tenant_id, runtime in self._tenants.items():
            if runtime.deadline is not None and runtime.deadline <= now:
                applied.touched.setdefault(tenant_id, []).extend(runtime.cc.handle(cmd.Tick(), now))
        for work in batch:
            if work.read_only:
                continue
            if work.new_interaction_id is not None and (work.tenant_id, work.new_interaction_id) in self._ended_ids:
                COMMANDS.labels("refused").inc()
                _settle(work.future, error=InteractionIdTaken(work.new_interaction_id))
                continue
            runtime = self._tenants[work.tenant_id]
            try:
                result = work.apply(runtime.cc, now)
            except (DomainError, Refusal) as error:
                COMMANDS.labels("refused").inc()
                _settle(work.future, error=error)
                continue
            except Exception as error:  # a bug in one command must not take the others down
                log.exception("command failed", extra={"tenant_id": work.tenant_id})
                COMMANDS.labels("error").inc()
                _settle(work.future, error=error)
                # the command may have half-applied: rebuild this tenant from what is committed
                applied.touched.setdefault(work.tenant_id, [])
                continue
            COMMANDS.labels("applied").inc()
            applied.results.append((work, result))
            events = applied.touched.setdefault(work.tenant_id, [])
            if isinstance(result, _Outcome):
                events.extend(result.events)
            elif isinstance(result, list):
                events.extend(e for e in result if isinstance(e, ev.Event))
            if work.write is not None:
                applied.writes.append(work.write)
                runtime.notifier.resend_all()  # configuration may change who receives summaries: resend them
        return applied

    def _effects(self, applied: _Applied) -> tuple[list[TenantChanges], list[AfterCommit]]:
        """What the batch changes in the database (the live state's changes, and the listeners' writes, which
        join the same transaction), and what the listeners start once it is committed."""
        changes: list[TenantChanges] = []
        after_commit: list[AfterCommit] = []
        for tenant_id, events in applied.touched.items():
            cc = self._tenants[tenant_id].cc
            for listener in self._listeners:
                effects = listener(tenant_id, cc, events) if events else None
                if effects is not None:
                    applied.writes.extend(effects.writes)
                    after_commit.extend(effects.after_commit)
            changes.append(TenantChanges(tenant_id, cc.take_changes(), events))
        return changes, after_commit

    async def _commit(self, changes: list[TenantChanges], applied: _Applied) -> None:
        """One transaction for the whole batch, in a worker thread (fenced by each tenant's lease in a cluster)."""
        fresh_ids = {
            (w.tenant_id, w.new_interaction_id) for w, _ in applied.results if w.new_interaction_id is not None
        }
        epochs = {t: self._epochs[t] for t in applied.touched} if self.node_id is not None else None
        with COMMIT_SECONDS.time():
            await asyncio.to_thread(self._write, changes, applied.writes, fresh_ids, epochs)

    def _lease_lost(self, lost: LeaseLost, applied: _Applied) -> None:
        """Another node runs these tenants now: nothing of the batch was written. Drop them and refuse their
        callers; the other tenants are reloaded from what is committed, for the rest to be applied again."""
        FENCED_BATCHES.inc()
        log.warning("batch refused: lease lost", extra={"tenants": sorted(lost.tenant_ids)})
        for tenant_id in lost.tenant_ids:
            self._drop_now(tenant_id, *lost.holders.get(tenant_id, (None, None)))
        for tenant_id in applied.touched:
            if tenant_id not in lost.tenant_ids:
                self._reload(tenant_id)
        for work, _ in applied.results:
            if work.tenant_id in lost.tenant_ids:
                _settle(work.future, error=self._moved(work.tenant_id))

    def _ids_taken(self, taken: _InteractionIdsTaken, applied: _Applied) -> None:
        """Rare (a caller reused the id of an interaction that ended before this node started): undo the batch
        and refuse those, for the rest to be applied again; remembered, so the same id never costs a reload."""
        self._remember_ended(taken.ids)
        for tenant_id in applied.touched:
            self._reload(tenant_id)
        for work, _ in applied.results:
            if (work.tenant_id, work.new_interaction_id) in taken.ids:
                COMMANDS.labels("refused").inc()
                _settle(work.future, error=InteractionIdTaken(str(work.new_interaction_id)))

    def _write_failed(self, error: Exception, applied: _Applied) -> None:
        """The database refused the batch: nothing is half-applied; every caller is told to try again."""
        log.exception("writing a batch failed; reloading the tenants it touched")
        for tenant_id in applied.touched:
            self._reload(tenant_id)
        failure = StoreUnavailable(f"the database did not accept the change ({error.__class__.__name__}); try again")
        for work, _ in applied.results:
            _settle(work.future, error=failure)

    def _publish(
        self,
        changes: list[TenantChanges],
        deliveries: dict[str, list[Delivery]],
        after_commit: list[AfterCommit],
        applied: _Applied,
    ) -> None:
        """Committed: tell subscribers, start what waited for the commit, answer the callers."""
        self._remember_ended((c.tenant_id, i.id) for c in changes for i in c.changes.interactions if i.is_final)
        for tenant_id, tenant_deliveries in deliveries.items():
            runtime = self._tenants[tenant_id]
            self.hub.publish(tenant_id, tenant_deliveries, runtime.cc.queue_members)
            runtime.deadline = runtime.cc.next_deadline()
        LIVE_INTERACTIONS.set(sum(len(r.cc.interactions) for r in self._tenants.values()))
        for start in after_commit:
            task = asyncio.create_task(start())
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        for work, result in applied.results:
            _settle(work.future, result=result)

    def _remember_ended(self, ids: Iterable[tuple[str, str]]) -> None:
        ended = self._ended_ids
        for key in ids:
            ended[key] = None
        while len(ended) > ENDED_IDS_KEPT:
            ended.popitem(last=False)

    def _run_read(self, work: _Work) -> None:
        try:
            result = work.apply(self._tenants[work.tenant_id].cc, self.clock.now())
        except Exception as error:
            _settle(work.future, error=error)
        else:
            _settle(work.future, result=result)

    def _write(
        self,
        changes: list[TenantChanges],
        writes: Iterable[Writer],
        fresh_ids: set[tuple[str, str]] | None = None,
        epochs: dict[str, int] | None = None,
    ) -> None:
        with self.engine.begin() as connection:
            if self.node_id is not None:
                # first, in the same transaction: this node still holds each tenant under the epoch it loaded
                # it with; the lease rows stay locked until the commit, so no takeover slips in between
                fence(
                    connection,
                    self.node_id,
                    epochs if epochs is not None else {c.tenant_id: -1 for c in changes},
                    idle_limit_seconds=self.batch_idle_limit_seconds,
                )
            # Ended interactions live only in the database. Checked in the batch's own transaction, after every
            # earlier batch has committed: no id slips between check and write, and no extra round trip.
            if fresh_ids and (taken := stored_interaction_ids(connection, fresh_ids)):
                raise _InteractionIdsTaken(taken)
            for write in writes:
                write(connection)
            write_changes(connection, changes)

    def _reload(self, tenant_id: str) -> None:
        if tenant_id not in self._tenants and self.node_id is not None:
            return  # dropped meanwhile: the lease keeper adopts it again if this node still holds it
        runtime, _events = self._load(tenant_id, self.clock.now())
        old = self._tenants.get(tenant_id)
        if old is not None:
            runtime.last_seen = old.last_seen
        self._tenants[tenant_id] = runtime

    # ----------------------------------------------------------------- summaries

    async def _publish_summaries(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.summary_interval_seconds)
            try:
                await self.publish_summaries_once()
            except Exception:
                log.exception("publishing summaries failed")

    async def publish_summaries_once(self) -> None:
        """Publishes each tenant's digest, on the published state (a read in the loop)."""
        for tenant_id, runtime in list(self._tenants.items()):
            if not runtime.notifier.has_news:
                continue

            def publish(cc: ContactCenter, tenant_id: str = tenant_id) -> None:
                current = self._tenants.get(tenant_id)
                if current is not None:
                    self.hub.publish(tenant_id, current.notifier.summaries(cc), cc.queue_members)

            with contextlib.suppress(TenantMoved):  # dropped meanwhile
                await self.read(tenant_id, publish)

    # ---------------------------------------------------------------- heartbeats

    async def _sweep_heartbeats(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.sweep_interval_seconds)
            try:
                await self.sweep_heartbeats_once()
            except Exception:
                log.exception("heartbeat sweep failed")

    async def sweep_heartbeats_once(self) -> None:
        """Agents whose console has been silent too long: offers back to the queue, agent to break."""
        now = self.clock.now()
        limit = now - self.heartbeat_timeout_seconds
        lost: list[tuple[str, str, float]] = []
        for tenant_id, runtime in self._tenants.items():
            for agent_id, agent in runtime.cc.agents.items():
                if agent.presence is AgentStatus.LOGGED_OUT or agent_id in runtime.lost:
                    continue
                last = runtime.last_seen.setdefault(agent_id, now)
                if last < limit:
                    runtime.lost.add(agent_id)
                    lost.append((tenant_id, agent_id, last))
        for tenant_id, agent_id, last in lost:
            # The list is news from before the first of these commands ran: an agent may have been seen since
            # (and made a request that was applied). Whether they are still silent is decided at apply time.
            try:
                await self._submit(tenant_id, self._connection_lost(tenant_id, agent_id, last), read_only=False)
            except (AgentSeenSince, TenantMoved):
                continue
            except (DomainError, StoreUnavailable):
                if tenant_id in self._tenants:
                    self._tenants[tenant_id].lost.discard(agent_id)
                continue
            log.info("agent connection lost", extra={"tenant_id": tenant_id, "agent_id": agent_id})

    def _connection_lost(
        self, tenant_id: str, agent_id: str, last_seen: float
    ) -> Callable[[ContactCenter, float], list[ev.Event]]:
        """ReportConnectionLost, unless the agent was seen after `last_seen`, which the sweep observed."""

        def apply(cc: ContactCenter, now: float) -> list[ev.Event]:
            runtime = self._tenants.get(tenant_id)
            if runtime is not None and runtime.last_seen.get(agent_id, last_seen) > last_seen:
                raise AgentSeenSince(agent_id)
            return cc.handle(cmd.ReportConnectionLost(agent_id), now)

        return apply


def _settle(future: asyncio.Future[Any], *, result: Any = None, error: BaseException | None = None) -> None:
    """Answers a caller, unless it stopped waiting (a closed connection cancels its future)."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
