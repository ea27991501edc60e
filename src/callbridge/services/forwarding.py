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
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Histogram

from callbridge.services.operations import (
    ForwardFailed,
    NoteSeen,
    Operation,
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
    "unreachable (no holder on the bus), timed_out",
    ["outcome"],
)
FORWARD_SECONDS = Histogram(
    "callbridge_forward_seconds",
    "From sending a named operation to its holder to its answer",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0),
)
SERVED = Counter("callbridge_forwarded_served_total", "Named operations other nodes sent here", ["outcome"])

# answers to remember by request id, so a duplicate delivery is answered rather than applied again
ANSWERS_KEPT = 10_000


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

    async def stop(self) -> None:
        self.node.forwarder = None
        if self._seen_task is not None:
            self._seen_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._seen_task
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

        try:
            message = await self.connection.request(node_subject(holder, "ops"), request, timeout=self.timeout_seconds)
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
        FORWARD_SECONDS.observe(time.perf_counter() - started)
        answer = json.loads(message.data)
        if "error" in answer:
            FORWARDED.labels("refused").inc()
            raise decode_error(answer["error"])
        FORWARDED.labels("answered").inc()
        return operation.decode_result(answer.get("ok"))

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
            body = {"ok": operation.encode_result(result)}
            SERVED.labels("answered").inc()
        except UnknownOperation as error:
            SERVED.labels("unknown").inc()
            body = {"error": {"kind": "RemoteError", "message": str(error)}}
        except Exception as error:
            SERVED.labels("refused").inc()
            body = {"error": encode_error(error)}
        return json.dumps(body).encode()


async def _log_error(error: Exception) -> None:
    log.warning("bus connection: %s", error)
