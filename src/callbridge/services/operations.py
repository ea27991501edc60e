"""Named, serialisable operations on a tenant's live state: what the web layer asks of the node.

A route that reads or changes the live state of a tenant asks for an operation by name with typed
fields (`ReadSnapshot(agent_id=…)`, `ExecuteCommand.of(cmd.AcceptOffer(…))`), never with a Python
callable. On the node that holds the tenant, `ContactCenterNode.perform` runs it in place: nothing is
serialised. On any other node of a cluster it is sent, as JSON named by `name`, to the holder, which runs
it and answers with the result or the error; the caller gets the same answer (or the same exception) as
if the holder were local (`services.forwarding`).

Errors cross nodes by name too (`encode_error` / `decode_error`): the rules' refusals (404, 409, 422)
come back as the exceptions the web layer already turns into answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter

from callbridge.domain import commands as cmd
from callbridge.domain import errors as domain_errors
from callbridge.domain.contact_center import ContactCenter
from callbridge.domain.errors import DomainError, NotFound
from callbridge.domain.model import AgentProfile, Channel, Queue
from callbridge.realtime.views import interaction_view, snapshot
from callbridge.realtime.wire import InteractionView, Snapshot
from callbridge.services.audit import SYSTEM, Actor
from callbridge.services.configuration import ConfigurationService, Conflict, InvalidField, UnknownReference
from callbridge.services.node import InteractionIdTaken, StoreUnavailable, TenantMoved, TenantNotLoaded

if TYPE_CHECKING:
    from callbridge.services.node import ContactCenterNode

OPERATIONS: dict[str, type[Operation]] = {}
E = TypeVar("E", bound=Exception)

# the domain commands a caller may send (Tick and ReportConnectionLost are the node's own)
COMMANDS: dict[str, type[cmd.Command]] = {
    c.__name__: c
    for c in vars(cmd).values()
    if isinstance(c, type) and issubclass(c, cmd.Command) and c not in (cmd.Command, cmd.Tick, cmd.ReportConnectionLost)
}
_COMMAND_ADAPTERS: dict[type[cmd.Command], TypeAdapter[Any]] = {c: TypeAdapter(c) for c in COMMANDS.values()}


class UnknownOperation(Exception):
    """A message names no registered operation (or command): a node of another version sent it."""


class Operation(BaseModel):
    """One named operation. Subclasses set `name` (unique) and `result` (how the answer crosses nodes) and
    implement `run` (on the holder)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: ClassVar[str]
    result: ClassVar[TypeAdapter[Any]] = TypeAdapter(type(None))

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in vars(cls):  # a base that shapes operations (ReadOperation) is not one itself
            return
        if cls.name in OPERATIONS:
            raise TypeError(f"two operations are named {cls.name!r}")
        OPERATIONS[cls.name] = cls

    async def run(self, node: ContactCenterNode, tenant_id: str) -> Any:
        raise NotImplementedError

    def encode(self) -> dict[str, Any]:
        return {"op": self.name, "args": self.model_dump(mode="json")}

    def encode_result(self, value: Any) -> bytes:
        """The result as JSON, written by pydantic-core straight from the value (no dicts in between)."""
        return self.result.dump_json(value)

    def decode_result(self, data: bytes) -> Any:
        """The result from its JSON, validated while parsed."""
        return self.result.validate_json(data)


def decode(message: dict[str, Any]) -> Operation:
    kind = OPERATIONS.get(str(message.get("op")))
    if kind is None:
        raise UnknownOperation(f"unknown operation {message.get('op')!r}")
    return kind.model_validate(message.get("args") or {})


class ReadOperation(Operation):
    """An operation that only looks at the tenant's live state: `view` runs on the holder's published state
    (no change happens during it) and its value, or its refusal, is the answer."""

    def view(self, cc: ContactCenter) -> Any:
        raise NotImplementedError

    async def run(self, node: ContactCenterNode, tenant_id: str) -> Any:
        return await node.read(tenant_id, self.view)


# ------------------------------------------------------------------ commands


class ExecuteCommand(Operation):
    """A domain command (`callbridge.domain.commands`), by class name and fields."""

    name: ClassVar[str] = "execute"
    command: str
    fields: dict[str, Any]

    @classmethod
    def of(cls, command: cmd.Command) -> ExecuteCommand:
        kind = type(command)
        if COMMANDS.get(kind.__name__) is not kind:
            raise UnknownOperation(f"{kind.__name__} is not sent between nodes")
        return cls(command=kind.__name__, fields=_COMMAND_ADAPTERS[kind].dump_python(command, mode="json"))

    def to_command(self) -> cmd.Command:
        kind = COMMANDS.get(self.command)
        if kind is None:
            raise UnknownOperation(f"unknown command {self.command!r}")
        command: cmd.Command = _COMMAND_ADAPTERS[kind].validate_python(self.fields)
        return command

    async def run(self, node: ContactCenterNode, tenant_id: str) -> None:
        await node.execute(tenant_id, self.to_command())


class SubmitInteraction(Operation):
    """An inbound interaction arrives (the integrations API): checked against its queue, routed, and read
    back in one turn of the loop. `id_chosen`: the caller chose the id (a PBX's call id), which must never
    have been used in the tenant."""

    name: ClassVar[str] = "submit_interaction"
    result: ClassVar[TypeAdapter[Any]] = TypeAdapter(InteractionView)
    interaction_id: str
    queue_id: str
    channel: Channel
    from_address: str = ""
    to_address: str = ""
    case_number: str = ""
    data: dict[str, str] = {}
    priority: int | None = None
    id_chosen: bool = False

    def _check(self, cc: ContactCenter) -> None:
        queue = cc.queues.get(self.queue_id)
        if queue is None:
            raise UnknownReference(f"queue {self.queue_id!r} does not exist: create it first", "queue_id")
        if queue.channel is not self.channel:
            raise Conflict(f"queue {queue.id!r} takes {queue.channel} interactions, not {self.channel}", "channel")
        if self.interaction_id in cc.interactions:
            raise Conflict(f"interaction {self.interaction_id!r} already exists", "id")

    async def run(self, node: ContactCenterNode, tenant_id: str) -> InteractionView:
        command = cmd.SubmitInteraction(
            self.interaction_id,
            self.queue_id,
            self.channel,
            from_address=self.from_address,
            to_address=self.to_address,
            case_number=self.case_number,
            data=self.data,
            priority=self.priority,
        )
        interaction_id = self.interaction_id
        view: InteractionView = await node.execute_and_read(
            tenant_id,
            command,
            lambda cc: interaction_view(cc.interactions[interaction_id]),
            self._check,
            new_interaction_id=interaction_id if self.id_chosen else None,
        )
        return view


# --------------------------------------------------------------------- reads


class ReadSnapshot(ReadOperation):
    """What a client may see: one agent's (`agent_id`) or the whole tenant's (None)."""

    name: ClassVar[str] = "read_snapshot"
    result: ClassVar[TypeAdapter[Any]] = TypeAdapter(Snapshot)
    agent_id: str | None

    def view(self, cc: ContactCenter) -> Snapshot:
        return snapshot(cc, self.agent_id)


class ReadFeedSnapshot(Operation):
    """A snapshot for a WebSocket on another node, with where it stands in the tenant's stream of events:
    the lease epoch and how many publications came before it (`Hub.sequence`)."""

    name: ClassVar[str] = "read_feed_snapshot"
    result: ClassVar[TypeAdapter[Any]] = TypeAdapter(tuple[str, int, int])
    agent_id: str | None

    async def run(self, node: ContactCenterNode, tenant_id: str) -> tuple[str, int, int]:
        def view(cc: ContactCenter) -> tuple[str, int, int]:
            node.resend_summaries(tenant_id)
            found = snapshot(cc, self.agent_id).model_dump_json()
            return found, node.epoch_of(tenant_id), node.hub.sequence(tenant_id)

        position: tuple[str, int, int] = await node.read(tenant_id, view)
        return position


class ReadInteraction(ReadOperation):
    """A live interaction; `of_agent`: only if that agent handles it. Missing: NotFound, or None if
    `missing_ok` (the caller then looks in the database: ended interactions live only there)."""

    name: ClassVar[str] = "read_interaction"
    result: ClassVar[TypeAdapter[Any]] = TypeAdapter(InteractionView | None)
    interaction_id: str
    of_agent: str | None = None
    missing_ok: bool = False

    def view(self, cc: ContactCenter) -> InteractionView | None:
        found = cc.interactions.get(self.interaction_id)
        if found is not None and (self.of_agent is None or found.agent_id == self.of_agent):
            return interaction_view(found)
        if self.missing_ok:
            return None
        raise NotFound("interaction", self.interaction_id)


class ReadAgentIds(ReadOperation):
    """The tenant's agents, by id."""

    name: ClassVar[str] = "read_agent_ids"
    result: ClassVar[TypeAdapter[Any]] = TypeAdapter(list[str])

    def view(self, cc: ContactCenter) -> list[str]:
        return sorted(cc.agents)


class ReadAgentStatus(ReadOperation):
    name: ClassVar[str] = "read_agent_status"
    result: ClassVar[TypeAdapter[Any]] = TypeAdapter(dict[str, Any])
    agent_id: str

    def view(self, cc: ContactCenter) -> dict[str, Any]:
        agent = cc.agents.get(self.agent_id)
        if agent is None:
            raise NotFound("agent", self.agent_id)
        return {"status": agent.status.value, "reason": agent.status_reason, "since": agent.status_since}


class ReadWrapUp(ReadOperation):
    """The disposition and notes an agent saved so far on an interaction they handle."""

    name: ClassVar[str] = "read_wrap_up"
    result: ClassVar[TypeAdapter[Any]] = TypeAdapter(dict[str, str])
    agent_id: str
    interaction_id: str

    def view(self, cc: ContactCenter) -> dict[str, str]:
        interaction = cc.interactions.get(self.interaction_id)
        if interaction is None or interaction.agent_id != self.agent_id:
            raise NotFound("interaction", self.interaction_id)
        return {"disposition": interaction.disposition, "notes": interaction.notes}


class ResolveTransferTarget(ReadOperation):
    """What a transfer's `target` names: "queue" or "agent" (a name that is both means the queue);
    UnknownReference naming `field` if neither."""

    name: ClassVar[str] = "resolve_transfer_target"
    result: ClassVar[TypeAdapter[Any]] = TypeAdapter(str)
    target: str
    field: str = "target"

    def view(self, cc: ContactCenter) -> str:
        if self.target in cc.queues:
            return "queue"
        if self.field == "target" and self.target in cc.agents:
            return "agent"
        if self.field == "queue_id":
            raise UnknownReference(f"queue {self.target!r} does not exist: create it first", self.field)
        raise UnknownReference(
            f"target {self.target!r} is not a queue, an agent or an outside number (E.164, e.g. +14155550123)",
            self.field,
        )


class CheckDisposition(ReadOperation):
    """Whether a disposition fits the interaction's queue (required, one of its list): InvalidField if not.
    Anything else wrong (not the agent's, ended) is left to the command that follows."""

    name: ClassVar[str] = "check_disposition"
    agent_id: str
    interaction_id: str
    disposition: str

    def view(self, cc: ContactCenter) -> None:
        interaction = cc.interactions.get(self.interaction_id)
        if interaction is None or interaction.agent_id != self.agent_id or interaction.queue_id is None:
            return
        queue = cc.queues.get(interaction.queue_id)
        if queue is None:
            return
        if not self.disposition.strip():
            if queue.disposition_required:
                raise InvalidField(f"Choose a disposition: the {queue.name} queue requires one.", "disposition")
        elif queue.dispositions and self.disposition not in queue.dispositions:
            raise InvalidField(
                f"{self.disposition!r} is not one of the {queue.name} queue's dispositions: choose one from the list.",
                "disposition",
            )


class NoteSeen(Operation):
    """Agents whose consoles (connected to another node) are alive: the holder's heartbeat sweep counts
    them as seen."""

    name: ClassVar[str] = "note_seen"
    agent_ids: list[str]

    async def run(self, node: ContactCenterNode, tenant_id: str) -> None:
        for agent_id in self.agent_ids:
            node.seen(tenant_id, agent_id)


# ------------------------------------------------------------- configuration


class ListQueues(Operation):
    name: ClassVar[str] = "list_queues"
    result: ClassVar[TypeAdapter[Any]] = TypeAdapter(list[Queue])

    async def run(self, node: ContactCenterNode, tenant_id: str) -> list[Queue]:
        return await node.provided(ConfigurationService).list_queues(tenant_id)


class GetQueue(Operation):
    name: ClassVar[str] = "get_queue"
    result: ClassVar[TypeAdapter[Any]] = TypeAdapter(Queue)
    queue_id: str

    async def run(self, node: ContactCenterNode, tenant_id: str) -> Queue:
        return await node.provided(ConfigurationService).get_queue(tenant_id, self.queue_id)


class SaveQueue(Operation):
    """A queue created (`create`) or replaced, with its validated fields: applied and committed (row and
    audit) in one batch on the holder."""

    name: ClassVar[str] = "save_queue"
    queue: Queue
    create: bool
    actor: Actor = SYSTEM

    async def run(self, node: ContactCenterNode, tenant_id: str) -> None:
        configuration = node.provided(ConfigurationService)
        await configuration.save_queue(tenant_id, self.queue, create=self.create, actor=self.actor)


class DeleteQueue(Operation):
    name: ClassVar[str] = "delete_queue"
    queue_id: str
    actor: Actor = SYSTEM

    async def run(self, node: ContactCenterNode, tenant_id: str) -> None:
        await node.provided(ConfigurationService).delete_queue(tenant_id, self.queue_id, actor=self.actor)


class SaveAgent(Operation):
    """An agent created (`create`) or changed, with the validated profile and `auto_login`."""

    name: ClassVar[str] = "save_agent"
    profile: AgentProfile
    auto_login: bool
    create: bool
    actor: Actor = SYSTEM

    async def run(self, node: ContactCenterNode, tenant_id: str) -> None:
        configuration = node.provided(ConfigurationService)
        await configuration.save_agent(tenant_id, self.profile, self.auto_login, create=self.create, actor=self.actor)


class DeleteAgent(Operation):
    name: ClassVar[str] = "delete_agent"
    agent_id: str
    actor: Actor = SYSTEM

    async def run(self, node: ContactCenterNode, tenant_id: str) -> None:
        await node.provided(ConfigurationService).delete_agent(tenant_id, self.agent_id, actor=self.actor)


class DeleteSkill(Operation):
    """A skill removed, unless a live agent or queue still uses it (checked on the holder)."""

    name: ClassVar[str] = "delete_skill"
    skill: str
    actor: Actor = SYSTEM

    async def run(self, node: ContactCenterNode, tenant_id: str) -> None:
        await node.provided(ConfigurationService).delete_skill(tenant_id, self.skill, actor=self.actor)


# -------------------------------------------------------------------- errors


class ForwardFailed(Exception):  # noqa: N818 - it names what happened
    """The tenant's holder could not be reached (503; `applied` False: nothing was applied, try again), or
    did not answer in time (504; `applied` None: it may or may not have been, read before trying again)."""

    def __init__(self, message: str, *, applied: bool | None) -> None:
        super().__init__(message)
        self.applied = applied


class RemoteError(Exception):
    """The holder failed with an error that has no name between nodes (a bug there): see its log."""


# errors of other layers (a carrier's refusal, say) that cross nodes by name with their message
_CROSSING: dict[str, type[Exception]] = {}


def crosses_nodes(kind: type[E]) -> type[E]:
    """Lets an error raised by an operation on the holder come back as itself (rebuilt from its message)."""
    if _CROSSING.setdefault(kind.__name__, kind) is not kind:
        raise TypeError(f"two errors crossing nodes are named {kind.__name__!r}")
    return kind


_WITH_FIELD = {"Conflict": Conflict, "UnknownReference": UnknownReference, "InvalidField": InvalidField}
_DOMAIN = {
    name: kind
    for name, kind in vars(domain_errors).items()
    if isinstance(kind, type) and issubclass(kind, DomainError) and kind is not NotFound
}


def encode_error(error: BaseException) -> dict[str, Any]:
    """The error as the holder's answer: its kind by name and what rebuilds it."""
    kind = type(error).__name__
    if isinstance(error, NotFound):
        return {"kind": "NotFound", "what": error.kind, "id": error.identifier}
    if isinstance(error, Conflict | UnknownReference | InvalidField):
        return {"kind": kind, "message": str(error), "field": error.field}
    if isinstance(error, InteractionIdTaken):
        return {"kind": kind, "id": error.interaction_id}
    if isinstance(error, TenantMoved):
        return {"kind": kind, "tenant": error.tenant_id, "holder": error.holder, "address": error.address}
    if isinstance(error, TenantNotLoaded):
        return {"kind": kind, "tenant": str(error)}
    if _CROSSING.get(kind) is type(error):
        return {"kind": kind, "message": str(error)}
    if isinstance(error, StoreUnavailable) or (isinstance(error, DomainError) and kind in _DOMAIN):
        return {"kind": kind, "message": str(error)}
    return {"kind": "RemoteError", "message": f"{kind}: {error}"}


def decode_error(data: dict[str, Any]) -> Exception:
    kind = data.get("kind")
    message = str(data.get("message", ""))
    if kind == "NotFound":
        return NotFound(str(data["what"]), str(data["id"]))
    if isinstance(kind, str) and kind in _WITH_FIELD:
        with_field: Exception = _WITH_FIELD[kind](message, str(data.get("field") or ""))
        return with_field
    if kind == "InteractionIdTaken":
        return InteractionIdTaken(str(data["id"]))
    if kind == "TenantMoved":
        return TenantMoved(str(data["tenant"]), data.get("holder"), data.get("address"))
    if kind == "TenantNotLoaded":
        return TenantNotLoaded(str(data["tenant"]))
    if kind == "StoreUnavailable":
        return StoreUnavailable(message)
    if isinstance(kind, str) and kind in _CROSSING:
        crossing: Exception = _CROSSING[kind](message)
        return crossing
    if isinstance(kind, str) and kind in _DOMAIN:
        refusal: Exception = _DOMAIN[kind](message)
        return refusal
    return RemoteError(message)


__all__ = [
    "OPERATIONS",
    "CheckDisposition",
    "DeleteAgent",
    "DeleteQueue",
    "DeleteSkill",
    "ExecuteCommand",
    "ForwardFailed",
    "GetQueue",
    "ListQueues",
    "NoteSeen",
    "Operation",
    "ReadOperation",
    "ReadAgentIds",
    "ReadAgentStatus",
    "ReadFeedSnapshot",
    "ReadInteraction",
    "ReadSnapshot",
    "ReadWrapUp",
    "RemoteError",
    "SaveAgent",
    "SaveQueue",
    "SubmitInteraction",
    "UnknownOperation",
    "crosses_nodes",
    "decode",
    "decode_error",
    "encode_error",
]
