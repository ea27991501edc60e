"""interactions: the dial digits of from/to, backfilled and indexed, so a search by number finds any format

Revision ID: 0013_interaction_dial_digits
Revises: 0012_tenant_leases
"""

from __future__ import annotations

import phonenumbers
import sqlalchemy as sa
from alembic import op

revision = "0013_interaction_dial_digits"
down_revision = "0012_tenant_leases"
branch_labels = None
depends_on = None

BATCH = 2000


def _dial_digits(address: str | None) -> str:
    # callbridge.phones.dial_digits as of this revision (a migration never imports the code it upgrades)
    if not address:
        return ""
    text = address.strip()
    if "@" in text or len(text) > 64:
        return ""
    if text.startswith("+"):
        try:
            number = phonenumbers.parse(text, "ZZ")
        except phonenumbers.NumberParseException:
            number = None
        if number is not None and phonenumbers.is_possible_number(number):
            number.extension = None
            return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))[1:]
    digits = "".join(c for c in text if c.isdigit())
    return digits if 3 <= len(digits) <= 20 else ""


def upgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.add_column(sa.Column("from_digits", sa.String(length=20), nullable=False, server_default=""))
        batch.add_column(sa.Column("to_digits", sa.String(length=20), nullable=False, server_default=""))
    bind = op.get_bind()
    table = sa.table(
        "interactions",
        sa.column("tenant_id", sa.String),
        sa.column("id", sa.String),
        sa.column("from_address", sa.String),
        sa.column("to_address", sa.String),
        sa.column("from_digits", sa.String),
        sa.column("to_digits", sa.String),
    )
    update = (
        sa.update(table)
        .where(table.c.tenant_id == sa.bindparam("k_tenant_id"), table.c.id == sa.bindparam("k_id"))
        .values(from_digits=sa.bindparam("v_from"), to_digits=sa.bindparam("v_to"))
    )
    after: tuple[str, str] = ("", "")
    while True:
        rows = bind.execute(
            sa.select(table.c.tenant_id, table.c.id, table.c.from_address, table.c.to_address)
            .where(sa.tuple_(table.c.tenant_id, table.c.id) > sa.tuple_(*after))
            .order_by(table.c.tenant_id, table.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        changes = [
            {"k_tenant_id": r.tenant_id, "k_id": r.id, "v_from": from_digits, "v_to": to_digits}
            for r in rows
            for from_digits, to_digits in [(_dial_digits(r.from_address), _dial_digits(r.to_address))]
            if from_digits or to_digits
        ]
        if changes:
            bind.execute(update, changes)
        after = (rows[-1].tenant_id, rows[-1].id)
    op.create_index("ix_interactions_from_digits", "interactions", ["tenant_id", "from_digits"])
    op.create_index("ix_interactions_to_digits", "interactions", ["tenant_id", "to_digits"])


def downgrade() -> None:
    op.drop_index("ix_interactions_to_digits", table_name="interactions")
    op.drop_index("ix_interactions_from_digits", table_name="interactions")
    with op.batch_alter_table("interactions") as batch:
        batch.drop_column("to_digits")
        batch.drop_column("from_digits")
