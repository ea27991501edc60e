"""Web chat over HTTP and WebSocket (docs/channels.md).

* The customer's side, used by the widget from any allowed web site: the pre-chat form
  (`/chat/v1/{tenant}/…`, CORS for the tenant's widget origins) and the conversation WebSocket
  (`/chat/ws`), authorised by the per-conversation secret the form returns.
* The agent's side (`/api/v1/me/chats/…`): read the transcript, send a message, typing, delivery receipts.
  Messages from the customer arrive on the event WebSocket as `chat.message`.
* Supervisors read any transcript; admins set the widget's origins and extra form fields.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints

from callbridge.channels.webchat import ChatMessage, ChatService, ChatSettings, CustomerConnection, FormField
from callbridge.channels.webchat.text import InvalidText, clean_text
from callbridge.domain.errors import DomainError, NotFound
from callbridge.services.operations import ReadInteraction
from callbridge.web.api.audit import actor_of
from callbridge.web.api.lookups import stored_interaction
from callbridge.web.api.schemas import DB_INT_MAX, Email, Identifier, Input, Origin, SkillName
from callbridge.web.deps import AgentDep, Services, ServicesDep, TenantAdminDep, TenantSupervisorDep
from callbridge.web.errors import ERROR_RESPONSES, ErrorBody, InvalidField, RetryLater, error_response
from callbridge.web.rate_limits import ANONYMOUS, CHAT_START, over_limit, socket_refused

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["chat"])
customer = APIRouter(prefix="/chat", tags=["chat widget"])

HELLO_SECONDS = 10.0
STRIKES_BEFORE_CLOSE = 20


class ClosedBy:
    BAD_TOKEN = 4001
    FORBIDDEN_ORIGIN = 4003
    UNKNOWN = 4004
    POLICY = 4008  # far too many frames
    TOO_SLOW = 4009
    TOO_BIG = 1009


def _chat(app_state: Any) -> ChatService:
    found: ChatService = app_state.channels.chat
    return found


# ---------------------------------------------------------------------------------------------- schemas


class MessageOut(BaseModel):
    id: str = Field(description="<interaction_id>:<seq>")
    seq: int
    sender: str = Field(description="customer or agent")
    agent_id: str | None
    text: str = Field(description="Plain text: render it as text, never as HTML")
    sent_at: float
    delivered_at: float | None


class TranscriptOut(BaseModel):
    interaction_id: str
    customer_name: str
    customer_email: str
    messages: list[MessageOut]


AfterSeq = Annotated[int, Query(ge=0, le=DB_INT_MAX, description="Only the messages after this seq")]


class MessageIn(Input):
    text: str = Field(description="Plain text; control characters are removed; at most the configured length")


class TypingIn(Input):
    active: bool


class DeliveredIn(Input):
    up_to_seq: int = Field(
        ge=1, le=DB_INT_MAX, description="The customer's messages up to this seq are shown in the console"
    )


class FormFieldIn(Input):
    name: SkillName
    label: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    required: bool = False
    max_length: int = Field(default=200, ge=1, le=1000)


class ChatSettingsIn(Input):
    widget_origins: list[Origin] = Field(
        default_factory=list, max_length=50, description="Web sites that may carry the chat widget"
    )
    form_fields: list[FormFieldIn] = Field(default_factory=list, max_length=20)


class ChatSettingsOut(BaseModel):
    widget_origins: list[str]
    form_fields: list[dict[str, Any]]


class StartIn(Input):
    queue: Identifier
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    email: Email
    case_number: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] = ""
    fields: dict[
        Annotated[str, StringConstraints(max_length=64)], Annotated[str, StringConstraints(max_length=1000)]
    ] = Field(default_factory=dict, max_length=20)


def _message_out(message: ChatMessage) -> MessageOut:
    return MessageOut(**message.as_json())


def _clean(text: object, request_state: Any) -> str:
    try:
        return clean_text(text, _chat(request_state).limits.max_message_chars)
    except InvalidText as error:
        raise InvalidField(str(error), "text") from None


# ----------------------------------------------------------------------------------------- agent side


async def _handled_by(svc: Services, tenant_id: str, interaction_id: str, agent_id: str) -> None:
    """The chat is offered to, held by, or was handled by this agent (else: as if it did not exist)."""

    view = await svc.node.perform(tenant_id, ReadInteraction(interaction_id=interaction_id, missing_ok=True))
    live = view is not None
    holder_id, channel = (view.agent_id, view.channel) if view is not None else (None, None)
    if not live:
        row = await stored_interaction(svc, tenant_id, interaction_id)
        holder_id, channel = (row.agent_id, row.channel) if row is not None else (None, None)
    if holder_id != agent_id or channel != "chat":
        raise NotFound("chat", interaction_id)


def _transcript(chat: ChatService, tenant_id: str, interaction_id: str, after_seq: int) -> TranscriptOut:
    conversation = chat.conversation(tenant_id, interaction_id)
    if conversation is None:
        raise NotFound("chat", interaction_id)
    return TranscriptOut(
        interaction_id=interaction_id,
        customer_name=conversation.customer_name,
        customer_email=conversation.customer_email,
        messages=[_message_out(m) for m in chat.transcript(tenant_id, interaction_id, after_seq)],
    )


@router.get("/me/chats/{interaction_id}/messages")
async def my_chat_transcript(
    interaction_id: str, request: Request, svc: ServicesDep, who: AgentDep, after_seq: AfterSeq = 0
) -> TranscriptOut:
    """The transcript of a chat offered to you, held by you or handled by you (messages after `after_seq`)."""
    tenant_id = who.tenant_id or ""
    await _handled_by(svc, tenant_id, interaction_id, who.subject_id)
    return await asyncio.to_thread(_transcript, _chat(request.app.state), tenant_id, interaction_id, after_seq)


@router.post("/me/chats/{interaction_id}/messages", status_code=201)
async def send_chat_message(
    interaction_id: str, body: MessageIn, request: Request, svc: ServicesDep, who: AgentDep
) -> MessageOut:
    """Send a message to the customer of a connected chat you hold."""
    tenant_id = who.tenant_id or ""
    text = _clean(body.text, request.app.state)
    await _handled_by(svc, tenant_id, interaction_id, who.subject_id)
    chat = _chat(request.app.state)
    message = await chat.post(tenant_id, interaction_id, "agent", text, agent_id=who.subject_id)
    return _message_out(message)


@router.post("/me/chats/{interaction_id}/typing", status_code=204)
async def chat_typing(
    interaction_id: str, body: TypingIn, request: Request, svc: ServicesDep, who: AgentDep
) -> Response:
    """Show (or stop showing) 'typing…' to the customer. Send `active: true` at most every few seconds."""
    tenant_id = who.tenant_id or ""
    await _handled_by(svc, tenant_id, interaction_id, who.subject_id)
    await _chat(request.app.state).typing(tenant_id, interaction_id, "agent", body.active)
    return Response(status_code=204)


@router.post("/me/chats/{interaction_id}/delivered", status_code=204)
async def chat_delivered(
    interaction_id: str, body: DeliveredIn, request: Request, svc: ServicesDep, who: AgentDep
) -> Response:
    """The customer's messages up to `up_to_seq` are on your screen: the customer sees them as delivered."""
    tenant_id = who.tenant_id or ""
    await _handled_by(svc, tenant_id, interaction_id, who.subject_id)
    await _chat(request.app.state).delivered(tenant_id, interaction_id, "agent", body.up_to_seq)
    return Response(status_code=204)


@router.get("/tenants/{tenant_id}/chats/{interaction_id}/messages")
def tenant_chat_transcript(
    tenant_id: str, interaction_id: str, request: Request, who: TenantSupervisorDep, after_seq: AfterSeq = 0
) -> TranscriptOut:
    """Any chat's transcript (supervisors and admins); kept after the chat has ended."""
    return _transcript(_chat(request.app.state), tenant_id, interaction_id, after_seq)


@router.get("/tenants/{tenant_id}/chat/settings")
def get_chat_settings(tenant_id: str, request: Request, who: TenantAdminDep) -> ChatSettingsOut:
    settings = _chat(request.app.state).settings(tenant_id)
    return ChatSettingsOut(
        widget_origins=list(settings.widget_origins), form_fields=[f.as_json() for f in settings.form_fields]
    )


@router.put("/tenants/{tenant_id}/chat/settings")
def put_chat_settings(tenant_id: str, body: ChatSettingsIn, request: Request, who: TenantAdminDep) -> ChatSettingsOut:
    """The web sites that may carry the widget, and the extra pre-chat form fields (besides name, e-mail and
    case number); each field's value is attached to the interaction's data under its name."""
    names = [f.name for f in body.form_fields]
    for index, name in enumerate(names):
        if name in ("name", "email", "case_number") or names.index(name) != index:
            raise InvalidField(f"{name!r} is already a field of the form", f"form_fields.{index}.name")
    settings = ChatSettings(
        tuple(dict.fromkeys(body.widget_origins)),
        tuple(FormField(f.name, f.label, f.required, f.max_length) for f in body.form_fields),
    )
    chat = _chat(request.app.state)
    chat.save_settings(tenant_id, settings, actor_of(chat.engine, who))
    return get_chat_settings(tenant_id, request, who)


# -------------------------------------------------------------------------------------- customer side


def _cors(response: Response, origin: str | None) -> Response:
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Vary"] = "Origin"
    return response


def _origin_checked(request: Request, tenant_id: str) -> str | None:
    svc: Services = request.app.state.services
    if not svc.node.has_tenant(tenant_id):
        raise NotFound("tenant", tenant_id)
    origin = request.headers.get("origin")
    if not _chat(request.app.state).origin_allowed(tenant_id, origin):
        raise _Refused(origin)
    return origin


class _Refused(Exception):
    def __init__(self, origin: str | None) -> None:
        self.origin = origin


def _refused() -> JSONResponse:
    return error_response(403, "forbidden", "origin: this web site may not carry the tenant's chat widget", "origin")


class _WidgetRateLimited:
    """The widget's routes count against `name` before anything else (a refused origin or a malformed body
    counts too); the 429 carries CORS headers when the page's origin may carry the widget, so it can read it."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def __call__(self, request: Request, tenant_id: str) -> None:
        refusal = await over_limit(request, self.name)
        if refusal is None:
            return
        origin = request.headers.get("origin")
        try:
            allowed = await asyncio.to_thread(_origin_checked, request, tenant_id) is not None
        except (_Refused, NotFound):
            allowed = False
        cors = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"} if allowed and origin else {}
        raise RetryLater(refusal.message, refusal.retry_after, cors)


@customer.options(
    "/v1/{tenant_id}/{path:path}", include_in_schema=False, dependencies=[Depends(_WidgetRateLimited(ANONYMOUS))]
)
def widget_preflight(tenant_id: str, path: str, request: Request) -> Response:
    try:
        origin = _origin_checked(request, tenant_id)
    except (_Refused, NotFound):
        return Response(status_code=403)
    response = Response(status_code=204)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = "600"
    return _cors(response, origin)


@customer.get("/v1/{tenant_id}/widget", dependencies=[Depends(_WidgetRateLimited(ANONYMOUS))])
def widget_config(tenant_id: str, request: Request, queue: str) -> Response:
    """What the widget shows before the chat: the form's fields and the limits."""
    try:
        origin = _origin_checked(request, tenant_id)
    except _Refused:
        return _refused()
    chat = _chat(request.app.state)
    settings = chat.settings(tenant_id)
    body = {
        "tenant": tenant_id,
        "queue": queue,
        "fields": [
            {"name": "name", "label": "Name", "required": True, "max_length": 100},
            {"name": "email", "label": "E-mail", "required": True, "max_length": 320},
            {"name": "case_number", "label": "Case number", "required": False, "max_length": 64},
            *[f.as_json() for f in settings.form_fields],
        ],
        "limits": {"max_message_chars": chat.limits.max_message_chars},
    }
    return _cors(JSONResponse(body), origin)


@customer.post(
    "/v1/{tenant_id}/conversations",
    status_code=201,
    dependencies=[Depends(_WidgetRateLimited(CHAT_START))],
    responses={429: {"model": ErrorBody, "description": "Too many chats started from this address: wait"}},
)
async def start_chat(tenant_id: str, body: StartIn, request: Request) -> Response:
    """The pre-chat form: queues a chat and returns the conversation's secret `token` (keep it in the page
    only) and the WebSocket to open."""
    try:
        origin = await asyncio.to_thread(_origin_checked, request, tenant_id)
    except _Refused:
        return _refused()
    chat = _chat(request.app.state)
    settings = await asyncio.to_thread(chat.settings, tenant_id)
    known = {f.name: f for f in settings.form_fields}
    for name in body.fields:
        if name not in known:
            return _cors(_field_error(f"fields.{name}", "is not a field of this form"), origin)
    values: dict[str, str] = {}
    for form_field in settings.form_fields:
        value = body.fields.get(form_field.name, "").strip()
        if form_field.required and not value:
            return _cors(_field_error(f"fields.{form_field.name}", f"{form_field.label} is required"), origin)
        if len(value) > form_field.max_length:
            message = f"may be at most {form_field.max_length} characters"
            return _cors(_field_error(f"fields.{form_field.name}", message), origin)
        if value:
            values[form_field.name] = value
    conversation, token = await chat.start(
        tenant_id,
        body.queue,
        name=body.name,
        email=body.email,
        case_number=body.case_number,
        fields=values,
        origin=origin or "",
    )
    answer = {
        "conversation_id": conversation.interaction_id,
        "token": token,
        "websocket": f"/chat/ws?tenant={tenant_id}&conversation={conversation.interaction_id}",
        "limits": {"max_message_chars": chat.limits.max_message_chars},
    }
    return _cors(JSONResponse(answer, status_code=201), origin)


def _field_error(field: str, message: str) -> JSONResponse:
    return error_response(422, "invalid_field", f"{field}: {message}", field)


@customer.websocket("/ws")
async def customer_socket(websocket: WebSocket) -> None:
    """The customer's conversation. Protocol: docs/channels.md."""
    svc: Services = websocket.app.state.services
    if await socket_refused(websocket, ANONYMOUS):
        return
    chat = _chat(websocket.app.state)
    tenant_id = websocket.query_params.get("tenant", "")
    interaction_id = websocket.query_params.get("conversation", "")
    if not svc.node.has_tenant(tenant_id):
        await websocket.close(ClosedBy.UNKNOWN, "unknown tenant")
        return
    if not await asyncio.to_thread(chat.origin_allowed, tenant_id, websocket.headers.get("origin")):
        await websocket.close(ClosedBy.FORBIDDEN_ORIGIN, "this web site may not carry the tenant's chat widget")
        return
    await websocket.accept()
    try:
        hello = json.loads(await asyncio.wait_for(websocket.receive_text(), HELLO_SECONDS))
    except (TimeoutError, ValueError, WebSocketDisconnect, KeyError):
        with contextlib.suppress(Exception):
            await websocket.close(ClosedBy.BAD_TOKEN, "send {'type': 'hello', 'token': …} first")
        return
    token = hello.get("token") if isinstance(hello, dict) else None
    conversation = (
        await asyncio.to_thread(chat.authenticate, tenant_id, interaction_id, token)
        if isinstance(token, str) and token
        else None
    )
    if conversation is None:
        await websocket.close(ClosedBy.BAD_TOKEN, "unknown conversation or token")
        return
    last_seq = hello.get("last_seq", 0)
    last_seq = last_seq if isinstance(last_seq, int) and last_seq >= 0 else 0
    left = False
    connection = await chat.join(conversation)
    try:
        state, agent_name = await chat.status(tenant_id, interaction_id)
        messages = await asyncio.to_thread(chat.transcript, tenant_id, interaction_id, last_seq)
        await websocket.send_text(
            json.dumps(
                {
                    "type": "welcome",
                    "conversation": {"id": interaction_id, "state": state, "agent_name": agent_name},
                    "messages": [m.as_json() for m in messages],
                    "limits": {"max_message_chars": chat.limits.max_message_chars},
                },
                ensure_ascii=False,
            )
        )
        writer = asyncio.create_task(_write_frames(websocket, connection))
        try:
            left = await _read_frames(websocket, chat, connection)
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
    except WebSocketDisconnect:
        pass
    finally:
        chat.part(connection, left=left)


async def _write_frames(websocket: WebSocket, connection: CustomerConnection) -> None:
    while True:
        frame = await connection.outbox.get()
        if frame is None:
            await websocket.close(ClosedBy.TOO_SLOW, "too many unread frames: reconnect")
            return
        await websocket.send_text(frame)


async def _read_frames(websocket: WebSocket, chat: ChatService, connection: CustomerConnection) -> bool:
    """Serves the customer's frames; returns True when the customer left the chat."""
    conversation = connection.conversation
    tenant_id, interaction_id = conversation.tenant_id, conversation.interaction_id
    budget = chat.limiter()
    frame_limit = chat.limits.max_message_chars * 4 + 1024
    strikes = 0

    async def error(code: str, message: str, field: str | None = None, client_id: Any = None) -> None:
        body = {"type": "error", "code": code, "message": message, "field": field, "client_id": client_id}
        await websocket.send_text(json.dumps(body))

    while True:
        text = await websocket.receive_text()
        if len(text) > frame_limit:
            await websocket.close(ClosedBy.TOO_BIG, "frame too large")
            return False
        try:
            frame: Any = json.loads(text)
        except ValueError:
            frame = None
        if not isinstance(frame, dict):
            await error("bad_frame", "frames are JSON objects with a 'type'")
            continue
        kind = frame.get("type")
        if kind == "ping":
            await websocket.send_text('{"type":"pong"}')
            continue
        if not budget.allow():
            strikes += 1
            if strikes > STRIKES_BEFORE_CLOSE:
                await websocket.close(ClosedBy.POLICY, "too many frames")
                return False
            if kind == "message":
                await error("rate_limited", "slow down: too many messages", client_id=frame.get("client_id"))
            continue
        strikes = 0
        client_id = frame.get("client_id")
        client_id = client_id if isinstance(client_id, str) and len(client_id) <= 64 else None
        try:
            if kind == "message":
                try:
                    body = clean_text(frame.get("text"), chat.limits.max_message_chars)
                except InvalidText as problem:
                    await error("invalid_field", f"text: {problem}", "text", client_id)
                    continue
                await chat.post(tenant_id, interaction_id, "customer", body, client_id=client_id)
            elif kind == "typing":
                await chat.typing(tenant_id, interaction_id, "customer", frame.get("active") is True)
            elif kind == "delivered":
                up_to = frame.get("up_to_seq")
                if isinstance(up_to, int) and not isinstance(up_to, bool) and up_to > 0:
                    await chat.delivered(tenant_id, interaction_id, "customer", up_to)
            elif kind == "leave":
                await chat.leave(conversation)
                await websocket.close(1000, "left the chat")
                return True
            else:
                await error("bad_frame", f"unknown frame type {kind!r}")
        except DomainError as problem:
            if kind == "message":
                await error("chat_ended", str(problem), client_id=client_id)
