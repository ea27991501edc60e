"""The tenant's ready-made texts for the agent console: wrap-up notes templates and chat quick replies."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from callbridge.domain.audit import Actor
from callbridge.store.audit import record
from callbridge.store.tables import tenant_console_texts


@dataclass(frozen=True, slots=True)
class ConsoleTexts:
    notes_templates: list[str] = field(default_factory=list)
    quick_replies: list[str] = field(default_factory=list)


def read_console_texts(engine: Engine, tenant_id: str) -> ConsoleTexts:
    t = tenant_console_texts
    with engine.connect() as connection:
        row = connection.execute(select(t).where(t.c.tenant_id == tenant_id)).first()
    if row is None:
        return ConsoleTexts()
    return ConsoleTexts(list(row.notes_templates or []), list(row.quick_replies or []))


def save_console_texts(engine: Engine, tenant_id: str, texts: ConsoleTexts, actor: Actor) -> ConsoleTexts:
    """Replaces the tenant's texts (audited as `console_texts.updated`)."""
    before = read_console_texts(engine, tenant_id)
    t = tenant_console_texts
    with engine.begin() as connection:
        connection.execute(t.delete().where(t.c.tenant_id == tenant_id))
        connection.execute(
            t.insert().values(
                tenant_id=tenant_id, notes_templates=texts.notes_templates, quick_replies=texts.quick_replies
            )
        )
        record(
            connection,
            tenant_id=tenant_id,
            actor=actor,
            action="console_texts.updated",
            target_type="tenant",
            target_id=tenant_id,
            before={"notes_templates": before.notes_templates, "quick_replies": before.quick_replies},
            after={"notes_templates": texts.notes_templates, "quick_replies": texts.quick_replies},
        )
    return texts
