"""The telephony command channel of each tenant (migration 0008_telephony_commands).

Callbridge POSTs signed commands to the tenant's PBX at `webhook_url`: the ones named in `commands` (migration
0024; hold and resume unless the admin adds connect, hang_up, dial or transfer). The signing secret
is kept encrypted (`auth.secrets.TokenCipher`): Callbridge needs its value to sign, so it cannot be hashed.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, ForeignKeyConstraint, String, Table, Text

from callbridge.store.tables import metadata

telephony_command_settings = Table(
    "telephony_command_settings",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("webhook_url", String(2000), nullable=False),
    Column("signing_secret", Text, nullable=False),  # Fernet token of the secret, never the secret itself
    Column("timeout_seconds", Float, nullable=False),
    Column("commands", String(200), nullable=False, server_default="hold,resume"),  # comma-separated
    Column("updated_at", Float, nullable=False),
    ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
)
