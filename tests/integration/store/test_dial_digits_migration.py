"""Migration 0013 backfills the dial digits of interactions written before it, so old calls are found by number."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import Engine, insert, select, text

from callbridge.reports.calendar import zone
from callbridge.store.database import alembic_config
from callbridge.store.reports import Range, SearchFilter, search_interactions
from callbridge.store.tables import interactions, tenants

T0 = 1_800_000_000.0


def test_the_migration_backfills_dial_digits_and_search_finds_old_calls(engine: Engine) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0012_tenant_leases")
    columns = ("tenant_id", "id", "channel", "direction", "state", "from_address", "to_address")
    with engine.begin() as connection:
        connection.execute(
            insert(tenants).values(id="acme", name="Acme", created_at=T0, allowed_origins=[], settings={})
        )
        for n, (from_address, to_address) in enumerate(
            [("+1 415 555 0100", "+1 800 555 0000"), ("(415) 555-0100", ""), ("chat@example.com", ""), ("", "")]
        ):
            values = ("acme", f"i{n}", "phone", "inbound", "completed", from_address, to_address)
            connection.execute(
                text(
                    f"INSERT INTO interactions ({', '.join(columns)}, case_number, data, priority, wrap_up_seconds,"
                    " enqueued_at, sequence, offer_attempts, created_at, disposition, notes, end_reason)"
                    f" VALUES ({', '.join(':' + c for c in columns)}, '', '{{}}', 0, 0, :t, :n, 0, :t, '', '', '')"
                ),
                {**dict(zip(columns, values, strict=True)), "t": T0 + n, "n": n},
            )
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")
    with engine.connect() as connection:
        digits = connection.execute(
            select(interactions.c.id, interactions.c.from_digits, interactions.c.to_digits).order_by(interactions.c.id)
        ).all()
        assert [tuple(r) for r in digits] == [
            ("i0", "14155550100", "18005550000"),
            ("i1", "4155550100", ""),
            ("i2", "", ""),
            ("i3", "", ""),
        ]
        day = datetime.fromtimestamp(T0, UTC).date()
        found = search_interactions(connection, "acme", Range(day, day, zone("UTC")), SearchFilter("+14155550100"))
        assert sorted(r["id"] for r in found) == ["i0", "i1"]
