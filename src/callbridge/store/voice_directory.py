"""The voice directory's rows (tables in store/voice_tables.py): numbers and their menus, desk phones, and which
phone rings for an agent. Each change is one transaction with its audit entry; the rules and the words of a
refusal are the channel's (`channels/sip/directory.py`), passed in as `check` where they need what the
transaction reads."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from callbridge.domain.audit import Actor
from callbridge.store.audit import record
from callbridge.store.greeting_tables import agent_greetings
from callbridge.store.tables import agents, queues
from callbridge.store.voice_tables import (
    voice_desk_phones,
    voice_menu_options,
    voice_menus,
    voice_numbers,
    voice_phones,
)

MENU_DIGITS = "0123456789*#"  # the keys of a phone's keypad (RFC 4733 events 0-11)


@dataclass(frozen=True, slots=True)
class Menu:
    """What a number answers with before queueing: the prompt, then one key names the queue. A caller who
    presses no listed key hears the prompt again, `attempts` times in all, then joins the number's own queue."""

    options: tuple[tuple[str, str], ...]  # (digit, queue id), in keypad order
    greeting_id: str | None = None  # an agent greeting as the prompt; None: the spoken default
    attempts: int = 3
    wait_seconds: int = 5

    def queue_for(self, digit: str) -> str | None:
        return dict(self.options).get(digit)


@dataclass(frozen=True, slots=True)
class Number:
    number: str
    tenant_id: str
    queue_id: str  # with a menu: where a caller who chooses nothing valid goes
    greeting_id: str | None
    menu: Menu | None = None


@dataclass(frozen=True, slots=True)
class DeskPhone:
    tenant_id: str
    agent_id: str
    username: str
    ha1: str


# a check of a change, given the tenant's queues' channels by id and a test of a greeting id
QueueAndGreetingCheck = Callable[[Mapping[str, str], Callable[[str], bool]], None]

# ---------------------------------------------------------------------------------------------------- numbers


def number_dialled(engine: Engine, forms: list[str]) -> Number | None:
    """The number stored in one of these forms, with its menu."""
    with engine.connect() as connection:
        row = connection.execute(select(voice_numbers).where(voice_numbers.c.number.in_(forms))).first()
        menus = menus_of(connection, [row.number]) if row is not None else {}
    if row is None:
        return None
    return Number(row.number, row.tenant_id, row.queue_id, row.greeting_id, menus.get(row.number))


def numbers_of(engine: Engine, tenant_id: str) -> list[Number]:
    """The tenant's numbers with their menus, by number."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(voice_numbers).where(voice_numbers.c.tenant_id == tenant_id).order_by(voice_numbers.c.number)
        ).all()
        menus = menus_of(connection, [row.number for row in rows])
    return [Number(row.number, row.tenant_id, row.queue_id, row.greeting_id, menus.get(row.number)) for row in rows]


def save_number(
    engine: Engine,
    tenant_id: str,
    number: str,
    values: dict[str, Any],
    now: float,
    *,
    check: Callable[[str | None, str | None], None],
    actor: Actor | None,
) -> None:
    """Adds the number to the tenant or changes its `values` (queue_id, greeting_id), audited with an `actor`,
    in one transaction. `check(channel of the queue or None, tenant owning the number or None)` runs first in it
    and refuses by raising; a number of another tenant is never changed."""
    with engine.begin() as connection:
        channel = connection.execute(
            select(queues.c.channel).where(queues.c.tenant_id == tenant_id, queues.c.id == values["queue_id"])
        ).scalar_one_or_none()
        owner = connection.execute(
            select(voice_numbers.c.tenant_id).where(voice_numbers.c.number == number)
        ).scalar_one_or_none()
        check(channel, owner)
        before = None
        if owner is None:
            connection.execute(
                insert(voice_numbers).values(number=number, tenant_id=tenant_id, created_at=now, **values)
            )
        elif owner != tenant_id:
            raise ValueError(f"{number} belongs to another tenant")
        else:
            row = connection.execute(select(voice_numbers).where(voice_numbers.c.number == number)).one()
            before = {"queue_id": row.queue_id, "greeting_id": row.greeting_id}
            connection.execute(update(voice_numbers).where(voice_numbers.c.number == number).values(**values))
        if actor is not None:
            record(
                connection,
                tenant_id=tenant_id,
                actor=actor,
                action="voice_number.created" if before is None else "voice_number.updated",
                target_type="voice_number",
                target_id=number,
                before=before,
                after=values,
                at=now,
            )


def remove_number(engine: Engine, tenant_id: str, number: str, *, actor: Actor | None) -> bool:
    """Deletes the tenant's number with its menu, audited with an `actor`; False if it has no such number."""
    with engine.begin() as connection:
        owned = (voice_numbers.c.number == number, voice_numbers.c.tenant_id == tenant_id)
        if connection.execute(select(voice_numbers.c.number).where(*owned)).first() is not None:
            # its menu goes with it (also by the foreign keys, where the database enforces them)
            connection.execute(delete(voice_menu_options).where(voice_menu_options.c.number == number))
            connection.execute(delete(voice_menus).where(voice_menus.c.number == number))
        result = connection.execute(
            delete(voice_numbers).where(voice_numbers.c.tenant_id == tenant_id, voice_numbers.c.number == number)
        )
        if result.rowcount and actor is not None:
            record(
                connection,
                tenant_id=tenant_id,
                actor=actor,
                action="voice_number.deleted",
                target_type="voice_number",
                target_id=number,
            )
    return bool(result.rowcount)


# ------------------------------------------------------------------------------------------------------ menus


def menus_of(connection: Connection, numbers: list[str]) -> dict[str, Menu]:
    """The menus of these numbers (those that have one), their options in keypad order."""
    if not numbers:
        return {}
    heads = connection.execute(select(voice_menus).where(voice_menus.c.number.in_(numbers))).all()
    options: dict[str, list[tuple[str, str]]] = {}
    for row in connection.execute(
        select(voice_menu_options.c.number, voice_menu_options.c.digit, voice_menu_options.c.queue_id).where(
            voice_menu_options.c.number.in_(numbers)
        )
    ):
        options.setdefault(row.number, []).append((row.digit, row.queue_id))
    return {
        head.number: Menu(
            options=tuple(sorted(options.get(head.number, []), key=lambda option: MENU_DIGITS.index(option[0]))),
            greeting_id=head.greeting_id,
            attempts=head.attempts,
            wait_seconds=head.wait_seconds,
        )
        for head in heads
    }


def menu_audit(menu: Menu) -> dict[str, object]:
    return {
        "options": {digit: queue_id for digit, queue_id in menu.options},
        "greeting_id": menu.greeting_id,
        "attempts": menu.attempts,
        "wait_seconds": menu.wait_seconds,
    }


def replace_menu(
    engine: Engine,
    tenant_id: str,
    number: str,
    menu: Menu,
    now: float,
    *,
    check: QueueAndGreetingCheck,
    actor: Actor | None,
) -> bool:
    """Gives the tenant's number this menu (replacing any), audited with an `actor`, in one transaction; False
    (nothing written) if the tenant has no such number. `check` runs first in it and refuses by raising."""
    with engine.begin() as connection:
        owner = connection.execute(
            select(voice_numbers.c.tenant_id).where(
                voice_numbers.c.number == number, voice_numbers.c.tenant_id == tenant_id
            )
        ).first()
        if owner is None:
            return False
        channels = {
            row.id: row.channel
            for row in connection.execute(select(queues.c.id, queues.c.channel).where(queues.c.tenant_id == tenant_id))
        }
        check(channels, lambda greeting_id: _greeting_exists(connection, tenant_id, greeting_id))
        before = menus_of(connection, [number]).get(number)
        connection.execute(delete(voice_menu_options).where(voice_menu_options.c.number == number))
        connection.execute(delete(voice_menus).where(voice_menus.c.number == number))
        connection.execute(
            insert(voice_menus).values(
                number=number,
                tenant_id=tenant_id,
                greeting_id=menu.greeting_id,
                attempts=menu.attempts,
                wait_seconds=menu.wait_seconds,
                updated_at=now,
            )
        )
        connection.execute(
            insert(voice_menu_options),
            [
                {"number": number, "digit": digit, "tenant_id": tenant_id, "queue_id": queue_id}
                for digit, queue_id in menu.options
            ],
        )
        if actor is not None:
            record(
                connection,
                tenant_id=tenant_id,
                actor=actor,
                action="voice_menu.set",
                target_type="voice_number",
                target_id=number,
                before=None if before is None else menu_audit(before),
                after=menu_audit(menu),
                at=now,
            )
    return True


def remove_menu(engine: Engine, tenant_id: str, number: str, *, actor: Actor | None) -> bool:
    """Deletes the number's menu, audited with an `actor`; False if it had none."""
    with engine.begin() as connection:
        result = connection.execute(
            delete(voice_menus).where(voice_menus.c.number == number, voice_menus.c.tenant_id == tenant_id)
        )
        if result.rowcount:
            connection.execute(delete(voice_menu_options).where(voice_menu_options.c.number == number))
            if actor is not None:
                record(
                    connection,
                    tenant_id=tenant_id,
                    actor=actor,
                    action="voice_menu.deleted",
                    target_type="voice_number",
                    target_id=number,
                )
    return bool(result.rowcount)


def _greeting_exists(connection: Connection, tenant_id: str, greeting_id: str) -> bool:
    found = connection.execute(
        select(agent_greetings.c.id).where(
            agent_greetings.c.tenant_id == tenant_id, agent_greetings.c.id == greeting_id
        )
    ).first()
    return found is not None


# ------------------------------------------------------------------------------------------------ desk phones


def desk_phones(engine: Engine, tenant_id: str | None = None) -> list[DeskPhone]:
    """Every desk phone (or the tenant's), by user name."""
    query = select(voice_desk_phones).order_by(voice_desk_phones.c.username)
    if tenant_id is not None:
        query = query.where(voice_desk_phones.c.tenant_id == tenant_id)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    return [DeskPhone(row.tenant_id, row.agent_id, row.username, row.ha1) for row in rows]


def desk_phone(engine: Engine, tenant_id: str, agent_id: str) -> DeskPhone | None:
    with engine.connect() as connection:
        row = connection.execute(
            select(voice_desk_phones).where(
                voice_desk_phones.c.tenant_id == tenant_id, voice_desk_phones.c.agent_id == agent_id
            )
        ).first()
    return None if row is None else DeskPhone(row.tenant_id, row.agent_id, row.username, row.ha1)


def save_desk_phone(
    engine: Engine,
    phone: DeskPhone,
    now: float,
    *,
    check_agent: Callable[[bool], None],
    check_username: Callable[[tuple[str, str] | None], None],
    actor: Actor | None,
) -> str | None:
    """Sets the agent's desk phone, audited with an `actor` (the password only as changed), in one transaction;
    returns the user name the agent had before (None: none). `check_agent(the agent exists)`, then
    `check_username((tenant, agent) holding the user name, or None))` refuse by raising."""
    with engine.begin() as connection:
        check_agent(_agent_exists(connection, phone.tenant_id, phone.agent_id))
        taken = connection.execute(
            select(voice_desk_phones.c.tenant_id, voice_desk_phones.c.agent_id).where(
                voice_desk_phones.c.username == phone.username
            )
        ).first()
        check_username(None if taken is None else (taken.tenant_id, taken.agent_id))
        mine = (voice_desk_phones.c.tenant_id == phone.tenant_id, voice_desk_phones.c.agent_id == phone.agent_id)
        old: str | None = connection.execute(select(voice_desk_phones.c.username).where(*mine)).scalar_one_or_none()
        if old is None:
            connection.execute(
                insert(voice_desk_phones).values(
                    tenant_id=phone.tenant_id,
                    agent_id=phone.agent_id,
                    username=phone.username,
                    ha1=phone.ha1,
                    created_at=now,
                )
            )
        else:
            connection.execute(update(voice_desk_phones).where(*mine).values(username=phone.username, ha1=phone.ha1))
        if actor is not None:  # the password only as changed, never its value or its hash
            record(
                connection,
                tenant_id=phone.tenant_id,
                actor=actor,
                action="desk_phone.set",
                target_type="agent",
                target_id=phone.agent_id,
                after={"username": phone.username, "password": "changed"},
                at=now,
            )
    return old


def remove_desk_phone(engine: Engine, tenant_id: str, agent_id: str, *, actor: Actor | None) -> str | None:
    """Deletes the agent's desk phone, audited with an `actor`; returns its user name (None: there was none)."""
    mine = (voice_desk_phones.c.tenant_id == tenant_id, voice_desk_phones.c.agent_id == agent_id)
    with engine.begin() as connection:
        old: str | None = connection.execute(select(voice_desk_phones.c.username).where(*mine)).scalar_one_or_none()
        connection.execute(delete(voice_desk_phones).where(*mine))
        if old is not None and actor is not None:
            record(
                connection,
                tenant_id=tenant_id,
                actor=actor,
                action="desk_phone.deleted",
                target_type="agent",
                target_id=agent_id,
                before={"username": old},
            )
    return old


# ---------------------------------------------------------------------------------------- which phone rings


def phone_choice(engine: Engine, tenant_id: str, agent_id: str) -> tuple[str | None, str | None] | None:
    """(the phone the agent chose to ring or None, their desk phone's user name or None); None: no such agent."""
    with engine.connect() as connection:
        if not _agent_exists(connection, tenant_id, agent_id):
            return None
        chosen = connection.execute(
            select(voice_phones.c.rings).where(
                voice_phones.c.tenant_id == tenant_id, voice_phones.c.agent_id == agent_id
            )
        ).scalar_one_or_none()
        desk = connection.execute(
            select(voice_desk_phones.c.username).where(
                voice_desk_phones.c.tenant_id == tenant_id, voice_desk_phones.c.agent_id == agent_id
            )
        ).scalar_one_or_none()
    return chosen, desk


def choose_phone(engine: Engine, tenant_id: str, agent_id: str, rings: str, now: float, *, actor: Actor | None) -> bool:
    """Stores which phone rings for the agent, audited with an `actor` when it changed, in one transaction;
    False (nothing written) for no such agent."""
    with engine.begin() as connection:
        if not _agent_exists(connection, tenant_id, agent_id):
            return False
        where = (voice_phones.c.tenant_id == tenant_id, voice_phones.c.agent_id == agent_id)
        before = connection.execute(select(voice_phones.c.rings).where(*where)).scalar_one_or_none()
        if before is None:
            connection.execute(
                insert(voice_phones).values(tenant_id=tenant_id, agent_id=agent_id, rings=rings, updated_at=now)
            )
        else:
            connection.execute(update(voice_phones).where(*where).values(rings=rings, updated_at=now))
        if actor is not None and before != rings:
            record(
                connection,
                tenant_id=tenant_id,
                actor=actor,
                action="agent_phone.set",
                target_type="agent",
                target_id=agent_id,
                before=None if before is None else {"rings": before},
                after={"rings": rings},
                at=now,
            )
    return True


def _agent_exists(connection: Connection, tenant_id: str, agent_id: str) -> bool:
    found = connection.execute(select(agents.c.id).where(agents.c.tenant_id == tenant_id, agents.c.id == agent_id))
    return found.first() is not None
