"""Several nodes on one bus (NATS, adr/0009): named operations reach the tenant's holder.

Each node subscribes to its own subject (`callbridge.node.<id>.ops`). A node asked for a tenant that
another node holds sends the operation there (`ContactCenterNode.perform` → `NatsBus.forward`) as a NATS
request with a time-out, and answers its caller with the holder's result or error, as if it were local.

No request is ever sent twice: a failed forward is answered 503 and the client decides. When the holder is
gone (its connection closed: NATS answers "no responders" at once) nothing was applied, and the answer
says to try again; when it does not answer in time (paused, or killed after receiving), the change may or
may not have been applied, and the answer says so. Every request carries an id, and a holder that sees an
id again (a duplicate delivery) answers it from the first run instead of applying it twice.

Consoles connected to a node that does not hold their tenant keep their agents alive on the holder: the
node collects the agents it saw and sends them every `seen_interval_seconds` (`NoteSeen`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Histogram

from callbridge.auth import credentials
from callbridge.realtime.audience import (
    AgentAudience,
    Audience,
    QueueAudience,
    SupervisorAudience,
    TenantAudience,
)
from callbridge.realtime.hub import Delivery, Hub, Subscriber
from callbridge.services.operations import (
    ForwardFailed,
    NoteSeen,
    Operation,
    ReadFeedSnapshot,
    UnknownOperation,
    decode,
    decode_error,
    encode_error,
)

if TYPE_CHECKING:
    import nats.aio.client
    import nats.aio.msg

    from callbridge.services.node import ContactCenterNode

log = logging.getLogger(__name__)

FORWARDED = Counter(
    "callbridge_forwarded_total",
    "Named operations sent to the node holding their tenant: answered, refused (the holder's error), "
    "unreachable (no holder on the bus), timed_out, abandoned (the tenant's lease moved meanwhile)",
    ["outcome"],
)
FORWARD_SECONDS = Histogram(
    "callbridge_forward_seconds",
    "From sending a named operation to its holder to its answer",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0),
)
FEED_RESETS = Counter(
    "callbridge_event_feed_resets_total",
    "Times a node let its WebSockets of a tenant held elsewhere go (a gap in the holder's events, or a new "
    "holder): they reconnect for a fresh snapshot",
)
SERVED = Counter("callbridge_forwarded_served_total", "Named operations other nodes sent here", ["outcome"])

# publications of a tenant a node keeps, for a subscriber whose snapshot is a little behind the feed
FEED_RECENT = 256
# events a node lets wait for its WebSockets before NATS calls it a slow consumer (and drops: a gap)
FEED_PENDING_LIMIT = 100_000
# principals (by token digest, or all) a node forgot: every node forgets them
FORGET_SUBJECT = "callbridge.principals.forget"
# answers to remember by request id, so a duplicate delivery is answered rather than applied again
ANSWERS_KEPT = 10_000
# an answer is `{"ok":<the result's JSON>}` or `{"error":{...}}`; the result is written and read by its own
# pydantic-core serializer and validator, not through json and Python dicts (a snapshot is most of a read)
ANSWER_PREFIX = b'{"ok":'


def node_subject(node_id: str, kind: str) -> str:
    """A NATS subject for one node; node names may hold dots or colons, which subjects treat specially."""
    return f"callbridge.node.{node_id.encode().hex()}.{kind}"


class NatsBus:
    def __init__(
        self,
        url: str,
        node: ContactCenterNode,
        *,
        node_id: str,
        timeout_seconds: float = 5.0,
        seen_interval_seconds: float = 1.0,
    ) -> None:
        self.url = url
        self.node = node
        self.node_id = node_id
        self.timeout_seconds = timeout_seconds
        self.seen_interval_seconds = seen_interval_seconds
        self._nc: nats.aio.client.Client | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._answers: collections.OrderedDict[str, asyncio.Future[bytes]] = collections.OrderedDict()
        self._seen: dict[str, set[str]] = {}
        self._seen_task: asyncio.Task[None] | None = None
        self._feeds: dict[str, _Feed] = {}
        self._outgoing: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._in_flight: dict[tuple[str, str], set[asyncio.Future[Any]]] = {}
        self._abandoned: set[asyncio.Future[Any]] = set()

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    def status(self) -> dict[str, object]:
        """What /readyz shows of the bus."""
        return {
            "connected": self.connected,
            "server": self._nc.connected_url.netloc if self._nc is not None and self._nc.connected_url else None,
            "tenants_followed": sorted(self._feeds),
        }

    @property
    def connection(self) -> nats.aio.client.Client:
        if self._nc is None:
            raise RuntimeError("the bus is not connected")
        return self._nc

    async def start(self) -> None:
        import nats  # noqa: PLC0415 - only clustered nodes with a bus need the client

        self._nc = await nats.connect(
            [server.strip() for server in self.url.split(",") if server.strip()],
            name=self.node_id,
            connect_timeout=5,
            reconnect_time_wait=1,
            max_reconnect_attempts=-1,  # a bus restart must not leave the node cut off for good
            error_cb=_log_error,
        )
        await self._nc.subscribe(node_subject(self.node_id, "ops"), cb=self._on_request)
        self.node.forwarder = self
        self._seen_task = asyncio.create_task(self._send_seen(), name="bus-seen")
        self._sender = asyncio.create_task(self._send_events(), name="bus-events")
        self.node.hub.relay = self._relay
        self._loop = asyncio.get_running_loop()
        await self._nc.subscribe(FORGET_SUBJECT, cb=self._on_forget)
        credentials.principals_forgotten.append(self._tell_forgotten)

    async def stop(self) -> None:
        self.node.forwarder = None
        self.node.hub.relay = None
        with contextlib.suppress(ValueError):
            credentials.principals_forgotten.remove(self._tell_forgotten)
        for task in (self._seen_task, self._sender):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.drain()  # answers what it is serving, then closes
            self._nc = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # ------------------------------------------------------------------ caller side

    async def forward(self, holder: str, tenant_id: str, operation: Operation) -> Any:
        request = json.dumps({"id": uuid.uuid4().hex, "tenant": tenant_id, **operation.encode()}).encode()
        started = time.perf_counter()
        import nats.errors  # noqa: PLC0415

        key = (holder, tenant_id)
        waiting = asyncio.ensure_future(
            self.connection.request(node_subject(holder, "ops"), request, timeout=self.timeout_seconds)
        )
        self._in_flight.setdefault(key, set()).add(waiting)
        try:
            message = await waiting
        except asyncio.CancelledError:
            if waiting not in self._abandoned:
                raise
            self._abandoned.discard(waiting)
            FORWARDED.labels("abandoned").inc()
            raise ForwardFailed(
                f"tenant {tenant_id!r} moved away from node {holder!r} while the request was under way: the change "
                "may or may not have been applied; read the state before trying again",
                applied=None,
            ) from None
        except nats.errors.NoRespondersError:
            FORWARDED.labels("unreachable").inc()
            raise ForwardFailed(
                f"node {holder!r}, which holds tenant {tenant_id!r}, is not on the bus (it may have stopped): "
                "nothing was applied; try again in a moment",
                applied=False,
            ) from None
        except (TimeoutError, nats.errors.TimeoutError):
            FORWARDED.labels("timed_out").inc()
            raise ForwardFailed(
                f"node {holder!r}, which holds tenant {tenant_id!r}, did not answer within {self.timeout_seconds:g} s: "
                "the change may or may not have been applied; read the state before trying again",
                applied=None,
            ) from None
        except nats.errors.Error as error:
            FORWARDED.labels("unreachable").inc()
            raise ForwardFailed(
                f"the bus is unavailable ({error.__class__.__name__}): try again", applied=False
            ) from None
        finally:
            pending = self._in_flight.get(key)
            if pending is not None:
                pending.discard(waiting)
                if not pending:
                    del self._in_flight[key]
        FORWARD_SECONDS.observe(time.perf_counter() - started)
        data = message.data
        if data.startswith(ANSWER_PREFIX):  # the result's JSON is parsed once, by its own validator
            FORWARDED.labels("answered").inc()
            return operation.decode_result(data[len(ANSWER_PREFIX) : -1])
        answer = json.loads(data)
        if "error" in answer:
            FORWARDED.labels("refused").inc()
            raise decode_error(answer["error"])
        FORWARDED.labels("answered").inc()
        return operation.decode_result(json.dumps(answer.get("ok")).encode())

    def abandon(self, holder: str, tenant_id: str) -> None:
        """The tenant's lease left `holder` (it died, paused, or handed the tenant over): requests still
        waiting for its answer are answered now (504, maybe applied) instead of at their time-out."""
        for waiting in self._in_flight.pop((holder, tenant_id), set()):
            if not waiting.done():
                self._abandoned.add(waiting)
                waiting.cancel()

    def note_seen(self, tenant_id: str, agent_id: str) -> None:
        self._seen.setdefault(tenant_id, set()).add(agent_id)

    async def _send_seen(self) -> None:
        while True:
            await asyncio.sleep(self.seen_interval_seconds)
            seen, self._seen = self._seen, {}
            for tenant_id, agent_ids in seen.items():
                try:
                    await self.node.perform(tenant_id, NoteSeen(agent_ids=sorted(agent_ids)))
                except Exception as error:  # the holder moved or is gone: the consoles reconnect anyway
                    log.info("could not pass on seen agents", extra={"tenant_id": tenant_id, "error": str(error)})

    # ------------------------------------------------------------ shared state

    def _tell_forgotten(self, key: str | None) -> None:
        """A token forgotten here (signed out, key revoked, roles changed): every node forgets it. Called from
        worker threads too; sent in order with the events."""
        payload = json.dumps({"key": key}).encode()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._outgoing.put_nowait, (FORGET_SUBJECT, payload))

    def broadcast(self, subject: str, body: dict[str, Any]) -> None:
        """Tells every node (this one too) something changed; called from worker threads too, sent in order
        with the events."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._outgoing.put_nowait, (subject, json.dumps(body).encode()))

    async def listen(self, subject: str, handler: Callable[[dict[str, Any]], None]) -> Callable[[], Awaitable[None]]:
        """Calls `handler` with each message broadcast on `subject`; returns what stops listening."""

        async def received(message: nats.aio.msg.Msg) -> None:
            try:
                body = json.loads(message.data)
            except ValueError:
                return
            if isinstance(body, dict):
                handler(body)

        subscription = await self.connection.subscribe(subject, cb=received)
        await self.connection.flush()  # the server has the subscription: nothing broadcast from now on is missed
        return subscription.unsubscribe

    async def ask(self, subject: str, body: dict[str, Any], wait_seconds: float | None = None) -> dict[str, Any]:
        """One request to whoever serves `subject` (`serve`), and its answer. Raises NoAnswer: nobody serves it
        (`applied` False), or it did not answer in time (`applied` None)."""
        import nats.errors  # noqa: PLC0415

        wait = self.timeout_seconds if wait_seconds is None else wait_seconds
        try:
            message = await self.connection.request(subject, json.dumps(body).encode(), timeout=wait)
        except nats.errors.NoRespondersError:
            raise NoAnswer(f"nobody serves {subject}", applied=False) from None
        except (TimeoutError, nats.errors.TimeoutError):
            raise NoAnswer(f"no answer on {subject} within {wait:g} s", applied=None) from None
        except nats.errors.Error as error:
            raise NoAnswer(f"the bus is unavailable ({error.__class__.__name__})", applied=False) from None
        answer = json.loads(message.data)
        if not isinstance(answer, dict):
            raise NoAnswer(f"a malformed answer on {subject}", applied=None)
        return answer

    async def serve(
        self, subject: str, handler: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
    ) -> Callable[[], Awaitable[None]]:
        """Answers each request on `subject` (`ask`) with what `handler` returns, each in its own task; returns
        what stops serving."""

        async def answer(message: nats.aio.msg.Msg) -> None:
            try:
                body = json.loads(message.data)
            except ValueError:
                return
            if not isinstance(body, dict):
                return
            reply = await handler(body)
            with contextlib.suppress(Exception):  # the asker is gone: nothing to tell
                await message.respond(json.dumps(reply).encode())

        async def received(message: nats.aio.msg.Msg) -> None:  # nats-py awaits it before the next message
            task = asyncio.create_task(answer(message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        subscription = await self.connection.subscribe(subject, cb=received)
        await self.connection.flush()
        return subscription.unsubscribe

    async def _on_forget(self, message: nats.aio.msg.Msg) -> None:
        try:
            key = json.loads(message.data)["key"]
        except (ValueError, KeyError, TypeError):
            return
        credentials.forget_locally(key if isinstance(key, str) else None)

    # ------------------------------------------------------------------ fan-out

    def _relay(
        self, tenant_id: str, sequence: int, deliveries: list[Delivery], queue_members: Callable[[str], Iterable[str]]
    ) -> None:
        """The holder's publications, numbered, to the other nodes' subscribers (a queue's members resolved
        here: only the holder knows them). Sent in order by one task; empty ones too, so a gap is visible."""
        if not self.node.holds(tenant_id):
            return  # a feed from another node, or a tenant's chat customer here: the holder relays its own
        members: dict[str, list[str]] = {}
        out: list[tuple[list[Any], str]] = []
        for delivery in deliveries:
            audience = delivery.audience
            if isinstance(audience, TenantAudience):
                out.append((["t"], delivery.frame))
            elif isinstance(audience, AgentAudience):
                out.append((["a", sorted(audience.agent_ids)], delivery.frame))
            elif isinstance(audience, QueueAudience):
                if audience.queue_id not in members:
                    members[audience.queue_id] = sorted(queue_members(audience.queue_id))
                out.append((["q", audience.queue_id], delivery.frame))
            elif isinstance(audience, SupervisorAudience):
                out.append((["s"], delivery.frame))
        message = {"e": self.node.epoch_of(tenant_id), "s": sequence, "d": out, "m": members}
        self._outgoing.put_nowait((tenant_subject(tenant_id), json.dumps(message).encode()))

    async def _send_events(self) -> None:
        while True:
            subject, payload = await self._outgoing.get()
            try:
                await self.connection.publish(subject, payload)
            except Exception as error:  # lost: the other nodes' subscribers see the gap and reconnect
                log.warning("publishing events failed: %s", error)

    async def subscribe(self, subscriber: Subscriber, agent_id: str | None) -> tuple[str, Callable[[], None]]:
        """A WebSocket here for a tenant another node holds: follows its events over the bus, then takes a
        snapshot from the holder, and joins the events exactly after it (`_Feed.join`)."""
        tenant_id = subscriber.tenant_id
        feed = self._feeds.get(tenant_id)
        if feed is None:
            feed = self._feeds[tenant_id] = _Feed(tenant_id, self.node.hub)
            try:
                feed.subscription = await self.connection.subscribe(
                    tenant_subject(tenant_id), cb=feed.on_message, pending_msgs_limit=FEED_PENDING_LIMIT
                )
            except Exception:
                self._feeds.pop(tenant_id, None)
                raise
            feed.ready.set()
        await feed.ready.wait()
        feed.users += 1
        try:
            snapshot_json, epoch, sequence = await self.node.perform(tenant_id, ReadFeedSnapshot(agent_id=agent_id))
        except BaseException:
            self._leave(feed)
            raise
        leave = feed.join(subscriber, epoch, sequence)

        def unsubscribe() -> None:
            leave()
            self._leave(feed)

        return snapshot_json, unsubscribe

    def _leave(self, feed: _Feed) -> None:
        feed.users -= 1
        if feed.users == 0 and self._feeds.get(feed.tenant_id) is feed:
            del self._feeds[feed.tenant_id]
            if feed.subscription is not None:
                task = asyncio.create_task(_quietly(feed.subscription.unsubscribe()))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ holder side

    async def _on_request(self, message: nats.aio.msg.Msg) -> None:
        # nats-py awaits this callback before the next message: serve each request in its own task, so that
        # requests arriving together reach the node's loop together and share one group commit
        task = asyncio.create_task(self._serve(message))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, message: nats.aio.msg.Msg) -> None:
        try:
            request = json.loads(message.data)
            request_id = str(request["id"])
        except (ValueError, KeyError, TypeError):
            SERVED.labels("malformed").inc()
            return
        answer = self._answers.get(request_id)
        if answer is None:
            answer = asyncio.get_running_loop().create_future()
            self._answers[request_id] = answer
            while len(self._answers) > ANSWERS_KEPT:
                self._answers.popitem(last=False)
            answer.set_result(await self._run(request))
        else:
            SERVED.labels("duplicate").inc()
        body = await asyncio.shield(answer)
        with contextlib.suppress(Exception):  # the caller's connection is gone: nothing to tell
            await message.respond(body)

    async def _run(self, request: dict[str, Any]) -> bytes:
        try:
            operation = decode(request)
            result = await self.node.perform_forwarded(str(request["tenant"]), operation)
            SERVED.labels("answered").inc()
            return ANSWER_PREFIX + operation.encode_result(result) + b"}"
        except UnknownOperation as error:
            SERVED.labels("unknown").inc()
            body = {"error": {"kind": "RemoteError", "message": str(error)}}
        except Exception as error:
            SERVED.labels("refused").inc()
            body = {"error": encode_error(error)}
        return json.dumps(body).encode()


class NoAnswer(Exception):  # noqa: N818 - it names what happened
    """A request on the bus (`NatsBus.ask`) got no answer: nobody serves its subject (`applied` False), or the
    one serving it did not answer in time (`applied` None: it may or may not have acted)."""

    def __init__(self, message: str, *, applied: bool | None) -> None:
        super().__init__(message)
        self.applied = applied


async def _log_error(error: Exception) -> None:
    log.warning("bus connection: %s", error)


async def _quietly(done: Awaitable[Any]) -> None:
    with contextlib.suppress(Exception):
        await done


def tenant_subject(tenant_id: str) -> str:
    return f"callbridge.tenant.{tenant_id.encode().hex()}.events"


class _Feed:
    """One tenant's events as they arrive on this node, for its subscribers here.

    The holder numbers its publications per lease epoch. A subscriber's snapshot says where it stands
    (epoch, sequence): it joins at once if the feed is there, waits if the feed is behind, catches up from
    the last few publications if the feed is ahead. A message out of order (a gap, or a new epoch: another
    node took the tenant) lets every subscriber here go: they reconnect for a fresh snapshot, so none ever
    misses an event or sees one twice."""

    def __init__(self, tenant_id: str, hub: Hub) -> None:
        self.tenant_id = tenant_id
        self.hub = hub
        self.ready = asyncio.Event()
        self.subscription: Any = None
        self.users = 0
        self.epoch: int | None = None
        self.sequence = 0
        self.recent: collections.deque[tuple[int, list[Delivery], dict[str, list[str]]]] = collections.deque(
            maxlen=FEED_RECENT
        )
        self.waiting: dict[int, list[_Member]] = {}

    async def on_message(self, message: nats.aio.msg.Msg) -> None:
        try:
            body = json.loads(message.data)
            epoch, sequence = int(body["e"]), int(body["s"])
            members: dict[str, list[str]] = body.get("m") or {}
            deliveries = [Delivery(_audience(a), frame) for a, frame in body["d"]]
        except (ValueError, KeyError, TypeError):
            log.warning("malformed event message", extra={"tenant_id": self.tenant_id})
            return
        if self.epoch is not None:
            if epoch < self.epoch or (epoch == self.epoch and sequence <= self.sequence):
                return  # from before every snapshot here, or the previous holder's last words
            if epoch > self.epoch or sequence != self.sequence + 1:
                FEED_RESETS.inc()
                self._let_everyone_go()
        self.epoch, self.sequence = epoch, sequence
        self.recent.append((sequence, deliveries, members))
        self.hub.deliver(self.tenant_id, deliveries, _members_of(members))
        for member in self.waiting.pop(sequence, []):
            member.start()

    def join(self, subscriber: Subscriber, epoch: int, sequence: int) -> Callable[[], None]:
        member = _Member(self.hub, subscriber)
        if self.epoch is None or epoch > self.epoch:
            if self.epoch is not None:
                self._let_everyone_go()  # the first word from a new holder: the others' snapshots are stale
            self.epoch, self.sequence = epoch, sequence
            self.recent.clear()
            member.start()
        elif epoch < self.epoch:
            member.let_go()  # a snapshot from a holder that has been replaced since
        elif sequence == self.sequence:
            member.start()
        elif sequence > self.sequence:
            self.waiting.setdefault(sequence, []).append(member)  # joins once the feed has caught up
        else:
            missed = [(d, m) for s, d, m in self.recent if s > sequence]
            if len(missed) != self.sequence - sequence:
                member.let_go()  # too far behind to catch up here
            else:
                for deliveries, members in missed:
                    self.hub.deliver_to(subscriber, deliveries, _members_of(members))
                member.start()
        return member.stop

    def _let_everyone_go(self) -> None:
        self.hub.disconnect_tenant(self.tenant_id)
        for members in self.waiting.values():
            for member in members:
                member.let_go()
        self.waiting.clear()
        self.recent.clear()


class _Member:
    def __init__(self, hub: Hub, subscriber: Subscriber) -> None:
        self.hub = hub
        self.subscriber = subscriber
        self._unsubscribe: Callable[[], None] | None = None
        self._stopped = False

    def start(self) -> None:
        if not self._stopped:
            self._unsubscribe = self.hub.subscribe(self.subscriber)

    def let_go(self) -> None:
        self.subscriber.moved = True
        self.subscriber.let_go()

    def stop(self) -> None:
        self._stopped = True
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None


def _audience(encoded: list[Any]) -> Audience:
    kind = encoded[0]
    if kind == "t":
        return TenantAudience()
    if kind == "a":
        return AgentAudience(frozenset(encoded[1]))
    if kind == "q":
        return QueueAudience(str(encoded[1]))
    if kind == "s":
        return SupervisorAudience()
    raise ValueError(f"unknown audience {kind!r}")


def _members_of(members: dict[str, list[str]]) -> Callable[[str], Iterable[str]]:
    return lambda queue_id: members.get(queue_id, ())
