"""The chat channel's rows: each tenant's widget settings (`chat_settings`), conversations (`chat_conversations`:
the customer's secret as a digest, when they left) and their messages (`chat_messages`, numbered per chat).

Conversations are opened, messages added, marked delivered and conversations left in the node's batch (the
caller's connection), so a row changes together with the interaction it belongs to."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, select, update

from callbridge.domain.audit import Actor
from callbridge.domain.errors import NotFound
from callbridge.store.audit import record
from callbridge.store.channel_tables import chat_conversations, chat_messages, chat_settings
from callbridge.store.tables import tenants

# ---------------------------------------------------------------------------------------------------- settings


def settings_of(engine: Engine, tenant_id: str) -> Any:
    """The tenant's widget settings row (widget_origins, form_fields), or None."""
    with engine.connect() as connection:
        return connection.execute(select(chat_settings).where(chat_settings.c.tenant_id == tenant_id)).first()


def save_settings(engine: Engine, tenant_id: str, values: dict[str, Any], *, actor: Actor | None) -> None:
    """Stores widget_origins, form_fields and updated_at; with an `actor`, audited in the same transaction.
    NotFound for an unknown tenant."""
    with engine.begin() as connection:
        if connection.execute(select(tenants.c.id).where(tenants.c.id == tenant_id)).first() is None:
            raise NotFound("tenant", tenant_id)
        previous = connection.execute(
            select(chat_settings.c.widget_origins, chat_settings.c.form_fields).where(
                chat_settings.c.tenant_id == tenant_id
            )
        ).first()
        if actor is not None:
            record(
                connection,
                tenant_id=tenant_id,
                actor=actor,
                action="chat_settings.updated",
                target_type="chat_settings",
                target_id=tenant_id,
                before={
                    "widget_origins": list(previous.widget_origins) if previous else [],
                    "form_fields": list(previous.form_fields) if previous else [],
                },
                after={k: values[k] for k in ("widget_origins", "form_fields")},
            )
        done = connection.execute(update(chat_settings).where(chat_settings.c.tenant_id == tenant_id).values(**values))
        if done.rowcount == 0:
            connection.execute(insert(chat_settings).values(tenant_id=tenant_id, **values))


# ----------------------------------------------------------------------------------------------- conversations


def open_conversation(connection: Connection, tenant_id: str, row: dict[str, Any]) -> None:
    """Inserts the conversation's row, in the caller's transaction."""
    connection.execute(insert(chat_conversations).values(tenant_id=tenant_id, **row))


def conversation_by_token_hash(engine: Engine, digest: str) -> Any:
    """The conversation whose customer secret has this digest, or None."""
    with engine.connect() as connection:
        return connection.execute(select(chat_conversations).where(chat_conversations.c.token_hash == digest)).first()


def conversation(engine: Engine, tenant_id: str, interaction_id: str) -> Any:
    """The chat's conversation row, or None."""
    with engine.connect() as connection:
        return connection.execute(
            select(chat_conversations).where(
                chat_conversations.c.tenant_id == tenant_id, chat_conversations.c.interaction_id == interaction_id
            )
        ).first()


def mark_left(connection: Connection, tenant_id: str, interaction_id: str, at: float) -> None:
    """Sets when the customer left (once), in the caller's transaction."""
    connection.execute(
        update(chat_conversations)
        .where(
            chat_conversations.c.tenant_id == tenant_id,
            chat_conversations.c.interaction_id == interaction_id,
            chat_conversations.c.left_at.is_(None),
        )
        .values(left_at=at)
    )


# ---------------------------------------------------------------------------------------------------- messages


def messages(engine: Engine, tenant_id: str, interaction_id: str, after_seq: int = 0) -> list[Any]:
    """The chat's message rows after `after_seq`, in order."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                select(chat_messages)
                .where(
                    chat_messages.c.tenant_id == tenant_id,
                    chat_messages.c.interaction_id == interaction_id,
                    chat_messages.c.seq > after_seq,
                )
                .order_by(chat_messages.c.seq)
            ).all()
        )


def highest_seq(engine: Engine, tenant_id: str, interaction_id: str) -> int:
    """The number of the chat's last message (0 without any)."""
    with engine.connect() as connection:
        found = connection.execute(
            select(func.max(chat_messages.c.seq)).where(
                chat_messages.c.tenant_id == tenant_id, chat_messages.c.interaction_id == interaction_id
            )
        ).scalar()
    return int(found or 0)


def add_message(connection: Connection, tenant_id: str, interaction_id: str, message: dict[str, Any]) -> None:
    """Inserts one message (seq, sender, agent_id, text, sent_at), in the caller's transaction."""
    connection.execute(insert(chat_messages).values(tenant_id=tenant_id, interaction_id=interaction_id, **message))


def mark_delivered(
    connection: Connection, tenant_id: str, interaction_id: str, sender: str, up_to_seq: int, at: float
) -> int:
    """Marks `sender`'s messages up to `up_to_seq` not yet delivered as delivered `at`, in the caller's
    transaction; returns how many."""
    return connection.execute(
        update(chat_messages)
        .where(
            and_(
                chat_messages.c.tenant_id == tenant_id,
                chat_messages.c.interaction_id == interaction_id,
                chat_messages.c.sender == sender,
                chat_messages.c.seq <= up_to_seq,
                chat_messages.c.delivered_at.is_(None),
            )
        )
        .values(delivered_at=at)
    ).rowcount
