"""Numbers and desk phones, as stored (tables in store/voice_tables.py). Synchronous: callers on the event
loop go through `asyncio.to_thread`."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, insert, select, update

from callbridge.services.audit import Actor, record
from callbridge.store import voice_settings
from callbridge.store.greeting_tables import agent_greetings
from callbridge.store.tables import agents, queues
from callbridge.store.voice_tables import (
    voice_desk_phones,
    voice_menu_options,
    voice_menus,
    voice_numbers,
    voice_phones,
)

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
SIP_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,63}$")
MENU_DIGITS = "0123456789*#"  # the keys of a phone's keypad (RFC 4733 events 0-11)
MENU_ATTEMPTS = (1, 5)  # how many times the prompt may play, at least and at most
MENU_WAIT_SECONDS = (2, 30)  # how long a key is awaited after the prompt, at least and at most


class DirectoryError(Exception):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


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
class AgentPhone:
    """Which phone rings for an agent, and whether that was chosen or is the default."""

    agent_id: str
    rings: str  # "browser" | "desk"
    chosen: bool
    desk_phone: str | None  # the desk phone's user name, if the agent has one


RINGS = ("browser", "desk")


@dataclass(frozen=True, slots=True)
class DeskPhone:
    tenant_id: str
    agent_id: str
    username: str
    ha1: str


def digest_ha1(username: str, realm: str, password: str) -> str:
    """RFC 2617's HA1, what Kamailio checks a digest against: the password itself is never stored."""
    return hashlib.md5(f"{username}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()


def dialled_forms(dialled: str) -> list[str]:
    """The stored forms a dialled user part may match: `+14155550100`, or the same without its `+`."""
    digits = dialled.strip()
    if digits.startswith("+"):
        return [digits]
    return [f"+{digits}", digits]


class VoiceDirectory:
    def __init__(self, engine: Engine, realm: str) -> None:
        self.engine = engine
        self.realm = realm

    # ---------------------------------------------------------------- numbers

    def find_number(self, dialled: str) -> Number | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(voice_numbers).where(voice_numbers.c.number.in_(dialled_forms(dialled)))
            ).first()
            menus = _menus(connection, [row.number]) if row is not None else {}
        if row is None:
            return None
        return Number(row.number, row.tenant_id, row.queue_id, row.greeting_id, menus.get(row.number))

    def numbers(self, tenant_id: str) -> list[Number]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(voice_numbers).where(voice_numbers.c.tenant_id == tenant_id).order_by(voice_numbers.c.number)
            ).all()
            menus = _menus(connection, [row.number for row in rows])
        return [Number(row.number, row.tenant_id, row.queue_id, row.greeting_id, menus.get(row.number)) for row in rows]

    def number(self, tenant_id: str, number: str) -> Number | None:
        return next((found for found in self.numbers(tenant_id) if found.number == number), None)

    # ---------------------------------------------------------------- menus

    def put_menu(
        self, tenant_id: str, number: str, menu: Menu, now: float, actor: Actor | None = None
    ) -> Number | None:
        """Gives the number a menu (replacing any). None: the tenant has no such number. Raises DirectoryError
        naming the field: `options` (none, a key twice, not a keypad key), `options[i].queue_id` (not a phone
        queue of this tenant), `greeting_id`, `attempts`, `wait_seconds`."""
        _check_menu_shape(menu)
        with self.engine.begin() as connection:
            owner = connection.execute(
                select(voice_numbers.c.tenant_id).where(
                    voice_numbers.c.number == number, voice_numbers.c.tenant_id == tenant_id
                )
            ).first()
            if owner is None:
                return None
            channels = {
                row.id: row.channel
                for row in connection.execute(
                    select(queues.c.id, queues.c.channel).where(queues.c.tenant_id == tenant_id)
                )
            }
            for index, (_digit, queue_id) in enumerate(menu.options):
                if queue_id not in channels:
                    raise DirectoryError(
                        f"queue {queue_id!r} does not exist: give the id of one of this tenant's phone queues",
                        f"options[{index}].queue_id",
                    )
                if channels[queue_id] != "phone":
                    raise DirectoryError(
                        f"queue {queue_id!r} takes {channels[queue_id]} interactions, not calls",
                        f"options[{index}].queue_id",
                    )
            if (
                menu.greeting_id is not None
                and connection.execute(
                    select(agent_greetings.c.id).where(
                        agent_greetings.c.tenant_id == tenant_id, agent_greetings.c.id == menu.greeting_id
                    )
                ).first()
                is None
            ):
                raise DirectoryError(
                    f"greeting {menu.greeting_id!r} does not exist: give the id of a greeting recorded or uploaded "
                    "in this tenant, or none for the spoken prompt",
                    "greeting_id",
                )
            before = _menus(connection, [number]).get(number)
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
                    before=None if before is None else _menu_audit(before),
                    after=_menu_audit(menu),
                    at=now,
                )
        return self.number(tenant_id, number)

    def delete_menu(self, tenant_id: str, number: str, actor: Actor | None = None) -> bool:
        with self.engine.begin() as connection:
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

    def put_number(
        self,
        tenant_id: str,
        number: str,
        queue_id: str,
        greeting_id: str | None,
        now: float,
        actor: Actor | None = None,
    ) -> Number:
        if not E164.match(number):
            raise DirectoryError(f"{number!r} is not an E.164 number (+ then 7 to 15 digits)", "number")
        with self.engine.begin() as connection:
            queue = connection.execute(
                select(queues.c.channel).where(queues.c.tenant_id == tenant_id, queues.c.id == queue_id)
            ).first()
            if queue is None:
                raise DirectoryError(f"queue {queue_id!r} does not exist", "queue_id")
            if queue.channel != "phone":
                raise DirectoryError(f"queue {queue_id!r} takes {queue.channel} interactions, not calls", "queue_id")
            owner = connection.execute(
                select(voice_numbers.c.tenant_id).where(voice_numbers.c.number == number)
            ).scalar_one_or_none()
            values = {"queue_id": queue_id, "greeting_id": greeting_id}
            before = None
            if owner is None:
                connection.execute(
                    insert(voice_numbers).values(number=number, tenant_id=tenant_id, created_at=now, **values)
                )
            elif owner != tenant_id:
                raise DirectoryError(f"{number} belongs to another tenant", "number")
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
        return self.number(tenant_id, number) or Number(number, tenant_id, queue_id, greeting_id)

    def delete_number(self, tenant_id: str, number: str, actor: Actor | None = None) -> bool:
        with self.engine.begin() as connection:
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

    # ---------------------------------------------------------------- desk phones

    def desk_phones(self, tenant_id: str | None = None) -> list[DeskPhone]:
        query = select(voice_desk_phones).order_by(voice_desk_phones.c.username)
        if tenant_id is not None:
            query = query.where(voice_desk_phones.c.tenant_id == tenant_id)
        with self.engine.connect() as connection:
            rows = connection.execute(query).all()
        return [DeskPhone(row.tenant_id, row.agent_id, row.username, row.ha1) for row in rows]

    def desk_phone(self, tenant_id: str, agent_id: str) -> DeskPhone | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(voice_desk_phones).where(
                    voice_desk_phones.c.tenant_id == tenant_id, voice_desk_phones.c.agent_id == agent_id
                )
            ).first()
        return None if row is None else DeskPhone(row.tenant_id, row.agent_id, row.username, row.ha1)

    def put_desk_phone(
        self, tenant_id: str, agent_id: str, username: str, password: str, now: float, actor: Actor | None = None
    ) -> tuple[DeskPhone, str | None]:
        """Sets the agent's phone; returns it and the user name it replaced (to forget at the registrar)."""
        if not SIP_USER.match(username):
            raise DirectoryError(
                "3 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit", "username"
            )
        if len(password) < 12:
            raise DirectoryError("at least 12 characters", "password")
        phone = DeskPhone(tenant_id, agent_id, username, digest_ha1(username, self.realm, password))
        with self.engine.begin() as connection:
            if (
                connection.execute(
                    select(agents.c.id).where(agents.c.tenant_id == tenant_id, agents.c.id == agent_id)
                ).first()
                is None
            ):
                raise DirectoryError(f"agent {agent_id!r} does not exist", "agent_id")
            taken = connection.execute(
                select(voice_desk_phones.c.tenant_id, voice_desk_phones.c.agent_id).where(
                    voice_desk_phones.c.username == username
                )
            ).first()
            if taken is not None and (taken.tenant_id, taken.agent_id) != (tenant_id, agent_id):
                raise DirectoryError(f"user name {username!r} is taken", "username")
            old = connection.execute(
                select(voice_desk_phones.c.username).where(
                    voice_desk_phones.c.tenant_id == tenant_id, voice_desk_phones.c.agent_id == agent_id
                )
            ).scalar_one_or_none()
            if old is None:
                connection.execute(
                    insert(voice_desk_phones).values(
                        tenant_id=tenant_id, agent_id=agent_id, username=username, ha1=phone.ha1, created_at=now
                    )
                )
            else:
                connection.execute(
                    update(voice_desk_phones)
                    .where(voice_desk_phones.c.tenant_id == tenant_id, voice_desk_phones.c.agent_id == agent_id)
                    .values(username=username, ha1=phone.ha1)
                )
            if actor is not None:  # the password only as changed, never its value or its hash
                record(
                    connection,
                    tenant_id=tenant_id,
                    actor=actor,
                    action="desk_phone.set",
                    target_type="agent",
                    target_id=agent_id,
                    after={"username": username, "password": "changed"},
                    at=now,
                )
        return phone, old if old not in (None, username) else None

    def delete_desk_phone(self, tenant_id: str, agent_id: str, actor: Actor | None = None) -> str | None:
        with self.engine.begin() as connection:
            old = connection.execute(
                select(voice_desk_phones.c.username).where(
                    voice_desk_phones.c.tenant_id == tenant_id, voice_desk_phones.c.agent_id == agent_id
                )
            ).scalar_one_or_none()
            connection.execute(
                delete(voice_desk_phones).where(
                    voice_desk_phones.c.tenant_id == tenant_id, voice_desk_phones.c.agent_id == agent_id
                )
            )
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

    def agent_ids(self, tenant_id: str) -> list[str]:
        return voice_settings.agent_ids(self.engine, tenant_id)

    # ---------------------------------------------------------------- which phone rings

    def agent_phone(self, tenant_id: str, agent_id: str) -> AgentPhone | None:
        """None: no such agent."""
        with self.engine.connect() as connection:
            if (
                connection.execute(
                    select(agents.c.id).where(agents.c.tenant_id == tenant_id, agents.c.id == agent_id)
                ).first()
                is None
            ):
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
        if chosen is None:
            return AgentPhone(agent_id, "desk" if desk is not None else "browser", False, desk)
        return AgentPhone(agent_id, chosen, True, desk)

    def set_agent_phone(
        self, tenant_id: str, agent_id: str, rings: str, now: float, actor: Actor | None = None
    ) -> AgentPhone:
        if rings not in RINGS:
            raise DirectoryError(f"{rings!r} is not one of {', '.join(RINGS)}", "rings")
        with self.engine.begin() as connection:
            if (
                connection.execute(
                    select(agents.c.id).where(agents.c.tenant_id == tenant_id, agents.c.id == agent_id)
                ).first()
                is None
            ):
                raise DirectoryError(f"agent {agent_id!r} does not exist", "agent_id")
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
        found = self.agent_phone(tenant_id, agent_id)
        if found is None:  # deleted meanwhile
            raise DirectoryError(f"agent {agent_id!r} does not exist", "agent_id")
        return found


def _menus(connection: Connection, numbers: list[str]) -> dict[str, Menu]:
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


def _check_menu_shape(menu: Menu) -> None:
    if not menu.options:
        raise DirectoryError("a menu needs at least one key that chooses a queue", "options")
    seen: set[str] = set()
    for index, (digit, _queue_id) in enumerate(menu.options):
        if len(digit) != 1 or digit not in MENU_DIGITS:
            raise DirectoryError(f"{digit!r} is not a keypad key: use 0-9, * or #", f"options[{index}].digit")
        if digit in seen:
            raise DirectoryError(f"key {digit} is listed twice: give each key one queue", f"options[{index}].digit")
        seen.add(digit)
    low, high = MENU_ATTEMPTS
    if not low <= menu.attempts <= high:
        raise DirectoryError(f"the prompt plays {low} to {high} times", "attempts")
    low, high = MENU_WAIT_SECONDS
    if not low <= menu.wait_seconds <= high:
        raise DirectoryError(f"wait {low} to {high} seconds for a key", "wait_seconds")


def _menu_audit(menu: Menu) -> dict[str, object]:
    return {
        "options": {digit: queue_id for digit, queue_id in menu.options},
        "greeting_id": menu.greeting_id,
        "attempts": menu.attempts,
        "wait_seconds": menu.wait_seconds,
    }
