"""Chat conversations: started from the widget's pre-chat form, carried over the customer's WebSocket and
the agent's API, kept as an append-only transcript.

Ordering and consistency: every message goes through the contact-center node (`configure`), so its
sequence number is given out in the same order the interaction's state changes, the row is written in
the same group commit, and a message for a chat that has just ended is refused rather than lost. Agents
receive chat events over the event WebSocket (`chat.message`, `chat.typing`, `chat.delivered`; to the
agent holding the chat and the supervisors); customers over their own WebSocket (`ChatConnection`).

Conversations are served by the node that runs the tenant. A customer's WebSocket may be on any node: its
frames (message, typing, delivered, leave) become named operations run on the holder, and the holder's frames
for the customer go over the bus to the conversation's subject, which the customer's node follows.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from pydantic import TypeAdapter
from sqlalchemy import Connection, Engine

from callbridge.channels.webchat.text import RateLimiter
from callbridge.domain import commands as cmd
from callbridge.domain import events as ev
from callbridge.domain.contact_center import ContactCenter
from callbridge.domain.errors import InvalidTransition
from callbridge.domain.model import Channel, InteractionState
from callbridge.realtime.audience import AgentAudience, Audience, SupervisorAudience
from callbridge.realtime.hub import BoundedOutbox, Delivery
from callbridge.realtime.wire import ChatDeliveredEvent, ChatMessageEvent, ChatTypingEvent
from callbridge.services.audit import Actor
from callbridge.services.configuration import Conflict, UnknownReference
from callbridge.services.node import BatchEffects, ContactCenterNode
from callbridge.services.operations import Operation, ReadOperation
from callbridge.store import chats as chat_rows

log = logging.getLogger(__name__)

Sender = Literal["customer", "agent"]
CustomerState = Literal["queued", "connected", "ended"]
OUTBOX_LIMIT = 500
RESERVED_FIELDS = frozenset({"name", "email", "case_number"})
LIVE = (InteractionState.QUEUED, InteractionState.OFFERED, InteractionState.CONNECTED)


@dataclass(frozen=True, slots=True)
class ChatLimits:
    max_message_chars: int = 2000
    max_messages: int = 2000
    messages_per_minute: int = 60
    reconnect_grace_seconds: float = 30.0


@dataclass(frozen=True, slots=True)
class FormField:
    """An admin-defined pre-chat field; its value is attached to the interaction's data under `name`."""

    name: str
    label: str
    required: bool = False
    max_length: int = 200

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "required": self.required, "max_length": self.max_length}


@dataclass(frozen=True, slots=True)
class ChatSettings:
    widget_origins: tuple[str, ...] = ()
    form_fields: tuple[FormField, ...] = ()


@dataclass(frozen=True, slots=True)
class Conversation:
    tenant_id: str
    interaction_id: str
    customer_name: str
    customer_email: str


@dataclass(frozen=True, slots=True)
class ChatMessage:
    interaction_id: str
    seq: int
    sender: Sender
    agent_id: str | None
    text: str
    sent_at: float
    delivered_at: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "id": f"{self.interaction_id}:{self.seq}",
            "seq": self.seq,
            "sender": self.sender,
            "agent_id": self.agent_id,
            "text": self.text,
            "sent_at": self.sent_at,
            "delivered_at": self.delivered_at,
        }


@dataclass(eq=False)
class CustomerConnection(BoundedOutbox):
    """One open customer WebSocket: frames to send, bounded (a customer who stops reading is let go)."""

    conversation: Conversation
    presence: str = field(default_factory=lambda: uuid.uuid4().hex)  # this connection, as the holder knows it


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def customer_state(state: InteractionState | None) -> CustomerState:
    if state in (InteractionState.QUEUED, InteractionState.OFFERED):
        return "queued"
    if state is InteractionState.CONNECTED:
        return "connected"
    return "ended"


def _frame(kind: str, **body: Any) -> str:
    return json.dumps({"type": kind, **body}, ensure_ascii=False, separators=(",", ":"))


class ChatService:
    def __init__(self, engine: Engine, node: ContactCenterNode, limits: ChatLimits, *, own_origin: str) -> None:
        self.engine = engine
        self.node = node
        self.limits = limits
        self.own_origin = own_origin.rstrip("/").lower()
        self._rooms: dict[tuple[str, str], set[CustomerConnection]] = {}
        self._next_seq: dict[tuple[str, str], int] = {}
        self._leaving: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[None]] = set()
        # with several nodes: the bus that carries customers' frames from the holder to their connections
        self.bus: Broadcaster | None = None
        self._following: dict[tuple[str, str], Callable[[], Awaitable[None]]] = {}
        self._present: dict[tuple[str, str], str] = {}  # on the holder: each conversation's newest connection
        node.add_listener(self._on_batch)
        node.provide(ChatService, self)

    def limiter(self) -> RateLimiter:
        """A customer connection's budget for frames. Per connection, so in memory: a connection lives on one
        node. (Chats started per address are limited with every other anonymous request: web/rate_limits.py.)"""
        rate = self.limits.messages_per_minute
        return RateLimiter(rate, max(5, rate / 4), self.node.clock.now)

    # -------------------------------------------------------------------- settings

    def settings(self, tenant_id: str) -> ChatSettings:
        row = chat_rows.settings_of(self.engine, tenant_id)
        if row is None:
            return ChatSettings()
        return ChatSettings(
            tuple(row.widget_origins),
            tuple(FormField(**f) for f in row.form_fields),
        )

    def save_settings(self, tenant_id: str, settings: ChatSettings, actor: Actor | None = None) -> None:
        """Stores the widget settings; with an `actor`, audited in the same transaction."""
        values = {
            "widget_origins": list(settings.widget_origins),
            "form_fields": [f.as_json() for f in settings.form_fields],
            "updated_at": self.node.clock.now(),
        }
        chat_rows.save_settings(self.engine, tenant_id, values, actor=actor)

    def origin_allowed(self, tenant_id: str, origin: str | None) -> bool:
        """A browser page may use the widget if it is served by Callbridge itself or from one of the
        tenant's widget origins. Clients that send no Origin are not browsers and are let through."""
        if origin is None:
            return True
        origin = origin.rstrip("/").lower()
        return origin == self.own_origin or origin in self.settings(tenant_id).widget_origins

    # ---------------------------------------------------------------- conversations

    async def start(
        self,
        tenant_id: str,
        queue_id: str,
        *,
        name: str,
        email: str,
        case_number: str,
        fields: Mapping[str, str],
        origin: str,
    ) -> tuple[Conversation, str]:
        """The pre-chat form was sent: a chat interaction is queued (by the tenant's holder, which may be
        another node); returns it and the customer's secret."""
        token = "cbc_" + secrets.token_urlsafe(32)
        data = {"name": name, "email": email, **fields}
        if case_number:
            data["case_number"] = case_number
        opened = StartChat(
            interaction_id=str(uuid.uuid4()),
            queue_id=queue_id,
            customer_name=name,
            customer_email=email,
            case_number=case_number,
            data=data,
            token_hash=token_hash(token),
            origin=origin[:300],
            created_at=self.node.clock.now(),
        )
        await self.node.perform(tenant_id, opened)
        return Conversation(tenant_id, opened.interaction_id, name, email), token

    async def _open(self, tenant_id: str, opened: StartChat) -> None:
        """On the holder: the chat's queue checked, the interaction queued and the conversation's row written
        in one batch."""

        def change(cc: ContactCenter, at: float) -> list[ev.Event]:
            queue = cc.queues.get(opened.queue_id)
            if queue is None:
                raise UnknownReference(f"queue {opened.queue_id!r} does not exist", "queue")
            if queue.channel is not Channel.CHAT:
                raise Conflict(f"queue {opened.queue_id!r} takes {queue.channel} interactions, not chats", "queue")
            submit = cmd.SubmitInteraction(
                opened.interaction_id,
                opened.queue_id,
                Channel.CHAT,
                from_address=opened.customer_email,
                case_number=opened.case_number,
                data=opened.data,
            )
            return cc.handle(submit, at)

        def write(connection: Connection) -> None:
            columns = {"interaction_id", "token_hash", "customer_name", "customer_email", "origin", "created_at"}
            row = opened.model_dump(include=columns)
            chat_rows.open_conversation(connection, tenant_id, row)

        self._next_seq[(tenant_id, opened.interaction_id)] = 1
        await self.node.configure(tenant_id, change, write)

    def authenticate(self, tenant_id: str, interaction_id: str, token: str) -> Conversation | None:
        row = chat_rows.conversation_by_token_hash(self.engine, token_hash(token))
        if row is None or row.tenant_id != tenant_id or row.interaction_id != interaction_id:
            return None
        return Conversation(row.tenant_id, row.interaction_id, row.customer_name, row.customer_email)

    def conversation(self, tenant_id: str, interaction_id: str) -> Conversation | None:
        row = chat_rows.conversation(self.engine, tenant_id, interaction_id)
        return None if row is None else Conversation(tenant_id, interaction_id, row.customer_name, row.customer_email)

    def transcript(self, tenant_id: str, interaction_id: str, after_seq: int = 0) -> list[ChatMessage]:
        rows = chat_rows.messages(self.engine, tenant_id, interaction_id, after_seq)
        return [
            ChatMessage(interaction_id, r.seq, r.sender, r.agent_id, r.text, r.sent_at, r.delivered_at) for r in rows
        ]

    async def status(self, tenant_id: str, interaction_id: str) -> tuple[CustomerState, str | None]:
        """What the customer is told: waiting, connected (with the agent's display name) or ended."""
        found: tuple[CustomerState, str | None] = await self.node.perform(
            tenant_id, ReadChatStatus(interaction_id=interaction_id)
        )
        return found

    # --------------------------------------------------------------------- messages

    async def _seq_start(self, tenant_id: str, interaction_id: str) -> None:
        key = (tenant_id, interaction_id)
        if key in self._next_seq:
            return

        top = await asyncio.to_thread(chat_rows.highest_seq, self.engine, tenant_id, interaction_id)
        self._next_seq.setdefault(key, top + 1)

    async def post(
        self,
        tenant_id: str,
        interaction_id: str,
        sender: Sender,
        text: str,
        agent_id: str | None = None,
        client_id: str | None = None,
    ) -> ChatMessage:
        """`post_here` on the tenant's holder, from any node."""
        posted = PostChatMessage(
            interaction_id=interaction_id, sender=sender, text=text, agent_id=agent_id, client_id=client_id
        )
        message: ChatMessage = await self.node.perform(tenant_id, posted)
        return message

    async def typing(self, tenant_id: str, interaction_id: str, sender: Sender, active: bool) -> None:
        await self.node.perform(tenant_id, ChatTyping(interaction_id=interaction_id, sender=sender, active=active))

    async def delivered(self, tenant_id: str, interaction_id: str, reader: Sender, up_to_seq: int) -> None:
        await self.node.perform(
            tenant_id, ChatReceived(interaction_id=interaction_id, reader=reader, up_to_seq=up_to_seq)
        )

    async def leave(
        self, conversation: Conversation, reason: str = "customer left", presence: str | None = None
    ) -> None:
        """The customer left (on the holder, from any node): a waiting chat is abandoned, a connected one goes
        to wrap-up. `presence`: only if the customer has not come back since on another connection."""
        ended = EndChat(interaction_id=conversation.interaction_id, reason=reason, presence=presence)
        await self.node.perform(conversation.tenant_id, ended)

    async def post_here(
        self,
        tenant_id: str,
        interaction_id: str,
        sender: Sender,
        text: str,
        agent_id: str | None = None,
        client_id: str | None = None,
    ) -> ChatMessage:
        """On the holder: stores one message (text already cleaned) and sends it to the other side.

        A customer may write while waiting and while connected; an agent only to a chat they hold and that
        is connected."""
        await self._seq_start(tenant_id, interaction_id)
        key = (tenant_id, interaction_id)
        made: list[ChatMessage] = []
        holder: list[str | None] = [None]

        def change(cc: ContactCenter, now: float) -> list[ev.Event]:
            interaction = cc.interactions.get(interaction_id)
            if interaction is None or interaction.channel is not Channel.CHAT:
                raise InvalidTransition(f"chat {interaction_id!r} has ended")
            if sender == "customer":
                if interaction.state not in LIVE:
                    raise InvalidTransition(f"chat {interaction_id!r} has ended")
            elif interaction.state is not InteractionState.CONNECTED or interaction.agent_id != agent_id:
                raise InvalidTransition(f"chat {interaction_id!r} is not connected to you")
            seq = self._next_seq.get(key, 1)
            if seq > self.limits.max_messages:
                raise InvalidTransition(f"chat {interaction_id!r} has reached {self.limits.max_messages} messages")
            self._next_seq[key] = seq + 1
            holder[0] = interaction.agent_id
            made.append(ChatMessage(interaction_id, seq, sender, agent_id, text, now))
            return []

        def write(connection: Connection) -> None:
            message = made[0]
            chat_rows.add_message(
                connection,
                tenant_id,
                interaction_id,
                {
                    "seq": message.seq,
                    "sender": message.sender,
                    "agent_id": message.agent_id,
                    "text": message.text,
                    "sent_at": message.sent_at,
                },
            )

        try:
            await self.node.configure(tenant_id, change, write)
        except Exception:
            if made:  # the row may not have been written: count again from the database next time
                self._next_seq.pop(key, None)
            raise
        message = made[0]
        event = ChatMessageEvent(
            interaction_id=interaction_id,
            id=f"{interaction_id}:{message.seq}",
            seq=message.seq,
            sender=sender,
            agent_id=agent_id,
            text=text,
            sent_at=message.sent_at,
        )
        self._to_agents(tenant_id, holder[0], event.model_dump_json())
        self._to_customers(tenant_id, interaction_id, _frame("message", message=message.as_json(), client_id=client_id))
        return message

    async def typing_here(self, tenant_id: str, interaction_id: str, sender: Sender, active: bool) -> None:
        def holder(cc: ContactCenter) -> str | None:
            interaction = cc.interactions.get(interaction_id)
            if interaction is None or interaction.state not in LIVE:
                raise InvalidTransition(f"chat {interaction_id!r} has ended")
            return interaction.agent_id

        agent_id = await self.node.read(tenant_id, holder)
        if sender == "customer":
            event = ChatTypingEvent(interaction_id=interaction_id, sender=sender, active=active)
            self._to_agents(tenant_id, agent_id, event.model_dump_json())
        else:
            self._to_customers(tenant_id, interaction_id, _frame("typing", active=active))

    async def delivered_here(self, tenant_id: str, interaction_id: str, reader: Sender, up_to_seq: int) -> float | None:
        """`reader` has received the other side's messages up to `up_to_seq`; returns when, or None if
        nothing new was marked."""
        sender: Sender = "agent" if reader == "customer" else "customer"
        marked: list[int] = [0]
        at: list[float] = [0.0]
        holder: list[str | None] = [None]

        def change(cc: ContactCenter, now: float) -> list[ev.Event]:
            interaction = cc.interactions.get(interaction_id)
            holder[0] = interaction.agent_id if interaction is not None else None
            at[0] = now
            return []

        def write(connection: Connection) -> None:
            marked[0] = chat_rows.mark_delivered(connection, tenant_id, interaction_id, sender, up_to_seq, at[0])

        await self.node.configure(tenant_id, change, write)
        if not marked[0]:
            return None
        event = ChatDeliveredEvent(
            interaction_id=interaction_id, sender=sender, up_to_seq=up_to_seq, delivered_at=at[0]
        )
        self._to_agents(tenant_id, holder[0], event.model_dump_json())
        if sender == "customer":
            self._to_customers(tenant_id, interaction_id, _frame("delivered", up_to_seq=up_to_seq, delivered_at=at[0]))
        return at[0]

    async def end_here(self, tenant_id: str, interaction_id: str, reason: str, presence: str | None) -> None:
        key = (tenant_id, interaction_id)
        if presence is not None and self._present.get(key, presence) != presence:
            return  # the customer is back, on another connection (perhaps through another node)
        self._present.pop(key, None)

        def change(cc: ContactCenter, now: float) -> list[ev.Event]:
            interaction = cc.interactions.get(interaction_id)
            if interaction is None or interaction.state not in LIVE:
                return []
            return cc.handle(cmd.EndInteraction(interaction_id, reason), now)

        def write(connection: Connection) -> None:
            chat_rows.mark_left(connection, tenant_id, interaction_id, self.node.clock.now())

        await self.node.configure(tenant_id, change, write)

    def came_back(self, tenant_id: str, interaction_id: str, presence: str) -> None:
        """On the holder: the customer's newest connection, which a disconnection before it no longer ends."""
        if len(self._present) > 10000:
            self._present.clear()
        self._present[(tenant_id, interaction_id)] = presence

    # ----------------------------------------------------------- customer connections

    async def join(self, conversation: Conversation) -> CustomerConnection:
        """A customer connection opened on this node. With a bus, the frames for its conversation arrive
        from the tenant's holder, wherever it is: followed before the caller reads the welcome, so none falls
        between."""
        key = (conversation.tenant_id, conversation.interaction_id)
        leaving = self._leaving.pop(key, None)
        if leaving is not None:
            leaving.cancel()
        connection = CustomerConnection(conversation)
        room = self._rooms.setdefault(key, set())
        room.add(connection)
        try:
            if self.bus is not None and key not in self._following:
                self._following[key] = await self.bus.listen(
                    customer_subject(*key), lambda body: self._deliver_here(key, body.get("frame"))
                )
            came_back = CustomerCameBack(interaction_id=conversation.interaction_id, presence=connection.presence)
            await self.node.perform(conversation.tenant_id, came_back)
        except BaseException:
            self.part(connection, left=True)
            raise
        return connection

    def part(self, connection: CustomerConnection, *, left: bool) -> None:
        """A customer connection closed. Unless the customer said they were leaving, they get the grace
        period to come back (a page reload, a network change; through any node) before the chat counts as
        left."""
        conversation = connection.conversation
        key = (conversation.tenant_id, conversation.interaction_id)
        room = self._rooms.get(key)
        if room is not None:
            room.discard(connection)
            if room:
                return
            del self._rooms[key]
        stop_following = self._following.pop(key, None)
        if stop_following is not None:
            self._spawn(_unsubscribe(stop_following))
        if left:
            return
        self._leaving[key] = self._spawn(self._leave_later(conversation, connection.presence))

    async def _leave_later(self, conversation: Conversation, presence: str) -> None:
        await asyncio.sleep(self.limits.reconnect_grace_seconds)
        self._leaving.pop((conversation.tenant_id, conversation.interaction_id), None)
        try:
            await self.leave(conversation, "customer disconnected", presence)
        except Exception:
            log.exception("ending a chat whose customer went away failed")

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def stop(self) -> None:
        """Shutting down: nobody is treated as having left; their chats stay as they are."""
        for task in list(self._background):
            task.cancel()
        for task in list(self._background):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _to_customers(self, tenant_id: str, interaction_id: str, frame: str) -> None:
        """From the holder: to the conversation's customer connections on every node (with a bus), or here."""
        if self.bus is not None:
            self.bus.broadcast(customer_subject(tenant_id, interaction_id), {"frame": frame})
        else:
            self._deliver_here((tenant_id, interaction_id), frame)

    def _deliver_here(self, key: tuple[str, str], frame: object) -> None:
        if isinstance(frame, str):
            for connection in self._rooms.get(key, ()):
                connection.deliver(frame)

    def _to_agents(self, tenant_id: str, agent_id: str | None, frame: str) -> None:
        audience: Audience = AgentAudience(frozenset({agent_id})) if agent_id else SupervisorAudience()
        self.node.hub.publish(tenant_id, [Delivery(audience, frame)], _no_members)

    # ------------------------------------------------------------- interaction changes

    def _on_batch(self, tenant_id: str, cc: ContactCenter, events: list[ev.Event]) -> BatchEffects | None:
        """Customers hear when an agent joins, when the chat goes back to the queue, and when it ends."""
        if not self._rooms and self.bus is None:
            return None
        frames: list[tuple[str, str]] = []
        for event in events:
            interaction_id = event.about_interaction
            if interaction_id is None:
                continue
            if self.bus is None and (tenant_id, interaction_id) not in self._rooms:
                continue  # with a bus, its customers may be on any node
            about = cc.interactions.get(interaction_id)
            if about is not None and about.channel is not Channel.CHAT:
                continue
            if isinstance(event, ev.InteractionConnected):
                agent = cc.agents.get(event.agent_id)
                name = agent.profile.display_name if agent is not None else None
                frames.append((interaction_id, _frame("state", state="connected", agent_name=name)))
            elif isinstance(event, ev.InteractionQueued) and event.requeued:
                frames.append((interaction_id, _frame("state", state="queued", agent_name=None)))
            elif isinstance(event, ev.InteractionWrapUpStarted | ev.InteractionAbandoned | ev.InteractionFailed):
                reason = getattr(event, "reason", "")
                frames.append((interaction_id, _frame("state", state="ended", agent_name=None, reason=reason)))
            elif isinstance(event, ev.InteractionCompleted):
                # completed without wrap-up: ended unless already said
                interaction = cc.interactions.get(interaction_id)
                if interaction is not None and interaction.ended_at == event.at:
                    frames.append((interaction_id, _frame("state", state="ended", agent_name=None, reason="")))
        if not frames:
            return None

        async def send() -> None:
            for interaction_id, frame in frames:
                self._to_customers(tenant_id, interaction_id, frame)

        return BatchEffects(after_commit=[send])


def _no_members(_queue_id: str) -> Sequence[str]:
    return ()


async def _unsubscribe(stop: Callable[[], Awaitable[None]]) -> None:
    with contextlib.suppress(Exception):  # the bus may be closing: its subscriptions go with it
        await stop()


def customer_subject(tenant_id: str, interaction_id: str) -> str:
    """The bus subject of one conversation's customer frames (names hex-encoded: subjects treat dots specially)."""
    return f"callbridge.chat.{tenant_id.encode().hex()}.{interaction_id.encode().hex()}"


class Broadcaster(Protocol):
    """The bus between nodes, as chat uses it (`services.forwarding.NatsBus`)."""

    def broadcast(self, subject: str, body: dict[str, Any]) -> None: ...

    async def listen(
        self, subject: str, handler: Callable[[dict[str, Any]], None]
    ) -> Callable[[], Awaitable[None]]: ...


# A chat's actions, from the customer's WebSocket or the agent's API on any node, run on the node holding the
# tenant: the chat's state and its message numbering are there, and it sends the customers' frames.


class StartChat(Operation):
    name: ClassVar[str] = "chat_start"
    interaction_id: str
    queue_id: str
    customer_name: str
    customer_email: str
    case_number: str
    data: dict[str, str]
    token_hash: str
    origin: str
    created_at: float

    async def run(self, node: ContactCenterNode, tenant_id: str) -> None:
        await node.provided(ChatService)._open(tenant_id, self)


class ReadChatStatus(ReadOperation):
    name: ClassVar[str] = "chat_status"
    result: ClassVar[TypeAdapter[Any]] = TypeAdapter(tuple[CustomerState, str | None])
    interaction_id: str

    def view(self, cc: ContactCenter) -> tuple[CustomerState, str | None]:
        interaction = cc.interactions.get(self.interaction_id)
        if interaction is None:
            return "ended", None
        state = customer_state(interaction.state)
        agent = cc.agents.get(interaction.agent_id or "") if state == "connected" else None
        return state, agent.profile.display_name if agent is not None else None


class PostChatMessage(Operation):
    name: ClassVar[str] = "chat_post_message"
    result: ClassVar[TypeAdapter[Any]] = TypeAdapter(ChatMessage)
    interaction_id: str
    sender: Sender
    text: str
    agent_id: str | None = None
    client_id: str | None = None

    async def run(self, node: ContactCenterNode, tenant_id: str) -> ChatMessage:
        chat = node.provided(ChatService)
        return await chat.post_here(
            tenant_id, self.interaction_id, self.sender, self.text, self.agent_id, self.client_id
        )


class ChatTyping(Operation):
    name: ClassVar[str] = "chat_typing"
    interaction_id: str
    sender: Sender
    active: bool

    async def run(self, node: ContactCenterNode, tenant_id: str) -> None:
        await node.provided(ChatService).typing_here(tenant_id, self.interaction_id, self.sender, self.active)


class ChatReceived(Operation):
    """`reader` has the other side's messages up to `up_to_seq` on screen."""

    name: ClassVar[str] = "chat_received"
    interaction_id: str
    reader: Sender
    up_to_seq: int

    async def run(self, node: ContactCenterNode, tenant_id: str) -> None:
        await node.provided(ChatService).delivered_here(tenant_id, self.interaction_id, self.reader, self.up_to_seq)


class CustomerCameBack(Operation):
    """A customer connection opened (on any node): a disconnection before it no longer ends the chat."""

    name: ClassVar[str] = "chat_customer_came_back"
    interaction_id: str
    presence: str

    async def run(self, node: ContactCenterNode, tenant_id: str) -> None:
        node.provided(ChatService).came_back(tenant_id, self.interaction_id, self.presence)


class EndChat(Operation):
    """The customer left (`presence` None) or their connection `presence` went away and did not come back."""

    name: ClassVar[str] = "chat_end"
    interaction_id: str
    reason: str
    presence: str | None = None

    async def run(self, node: ContactCenterNode, tenant_id: str) -> None:
        await node.provided(ChatService).end_here(tenant_id, self.interaction_id, self.reason, self.presence)
