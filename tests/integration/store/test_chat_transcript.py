"""A chat's transcript as the auto log reads it, on SQLite and PostgreSQL: in order, one conversation only."""

from __future__ import annotations

from sqlalchemy import Engine, insert

from callbridge.store.channel_tables import chat_messages
from callbridge.store.interaction_history import chat_transcript
from callbridge.store.tables import tenants


def test_a_chat_transcript_is_read_in_order_and_only_its_own(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(insert(tenants).values(id="t1", name="T", allowed_origins=[], settings={}, created_at=1.0))
        connection.execute(
            insert(chat_messages),
            [
                {"tenant_id": "t1", "interaction_id": "c1", "seq": 2, "sender": "agent", "text": "Hi", "sent_at": 11.0},
                {
                    "tenant_id": "t1",
                    "interaction_id": "c1",
                    "seq": 1,
                    "sender": "customer",
                    "text": "Hello",
                    "sent_at": 10.0,
                },
                {
                    "tenant_id": "t1",
                    "interaction_id": "c2",
                    "seq": 1,
                    "sender": "customer",
                    "text": "Other",
                    "sent_at": 12.0,
                },
            ],
        )
    with engine.connect() as connection:
        assert chat_transcript(connection, "t1", "c1") == [(10.0, "customer", "Hello"), (11.0, "agent", "Hi")]
        assert chat_transcript(connection, "t1", "nothing") == []
