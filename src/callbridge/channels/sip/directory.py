"""Numbers and desk phones: their rules and refusals; the rows are the store's (store/voice_directory.py, which
also defines the values read: `Number`, `Menu`, `DeskPhone`). Synchronous: callers on the event loop go through
`asyncio.to_thread`."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import Engine

from callbridge.services.audit import Actor
from callbridge.store import voice_directory as rows
from callbridge.store import voice_settings
from callbridge.store.voice_directory import MENU_DIGITS, DeskPhone, Menu, Number

__all__ = [
    "MENU_ATTEMPTS",
    "MENU_DIGITS",
    "MENU_WAIT_SECONDS",
    "RINGS",
    "AgentPhone",
    "DeskPhone",
    "DirectoryError",
    "Menu",
    "Number",
    "VoiceDirectory",
    "digest_ha1",
    "dialled_forms",
]

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
SIP_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,63}$")
MENU_ATTEMPTS = (1, 5)  # how many times the prompt may play, at least and at most
MENU_WAIT_SECONDS = (2, 30)  # how long a key is awaited after the prompt, at least and at most


class DirectoryError(Exception):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class AgentPhone:
    """Which phone rings for an agent, and whether that was chosen or is the default."""

    agent_id: str
    rings: str  # "browser" | "desk"
    chosen: bool
    desk_phone: str | None  # the desk phone's user name, if the agent has one


RINGS = ("browser", "desk")


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
        return rows.number_dialled(self.engine, dialled_forms(dialled))

    def numbers(self, tenant_id: str) -> list[Number]:
        return rows.numbers_of(self.engine, tenant_id)

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

        def check(channels: Mapping[str, str], greeting_exists: Callable[[str], bool]) -> None:
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
            if menu.greeting_id is not None and not greeting_exists(menu.greeting_id):
                raise DirectoryError(
                    f"greeting {menu.greeting_id!r} does not exist: give the id of a greeting recorded or uploaded "
                    "in this tenant, or none for the spoken prompt",
                    "greeting_id",
                )

        if not rows.replace_menu(self.engine, tenant_id, number, menu, now, check=check, actor=actor):
            return None
        return self.number(tenant_id, number)

    def delete_menu(self, tenant_id: str, number: str, actor: Actor | None = None) -> bool:
        return rows.remove_menu(self.engine, tenant_id, number, actor=actor)

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

        def check(channel: str | None, owner: str | None) -> None:
            if channel is None:
                raise DirectoryError(f"queue {queue_id!r} does not exist", "queue_id")
            if channel != "phone":
                raise DirectoryError(f"queue {queue_id!r} takes {channel} interactions, not calls", "queue_id")
            if owner is not None and owner != tenant_id:
                raise DirectoryError(f"{number} belongs to another tenant", "number")

        values = {"queue_id": queue_id, "greeting_id": greeting_id}
        rows.save_number(self.engine, tenant_id, number, values, now, check=check, actor=actor)
        return self.number(tenant_id, number) or Number(number, tenant_id, queue_id, greeting_id)

    def delete_number(self, tenant_id: str, number: str, actor: Actor | None = None) -> bool:
        return rows.remove_number(self.engine, tenant_id, number, actor=actor)

    # ---------------------------------------------------------------- desk phones

    def desk_phones(self, tenant_id: str | None = None) -> list[DeskPhone]:
        return rows.desk_phones(self.engine, tenant_id)

    def desk_phone(self, tenant_id: str, agent_id: str) -> DeskPhone | None:
        return rows.desk_phone(self.engine, tenant_id, agent_id)

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

        def check_agent(exists: bool) -> None:
            if not exists:
                raise DirectoryError(f"agent {agent_id!r} does not exist", "agent_id")

        def check_username(holder: tuple[str, str] | None) -> None:
            if holder is not None and holder != (tenant_id, agent_id):
                raise DirectoryError(f"user name {username!r} is taken", "username")

        old = rows.save_desk_phone(
            self.engine, phone, now, check_agent=check_agent, check_username=check_username, actor=actor
        )
        return phone, old if old not in (None, username) else None

    def delete_desk_phone(self, tenant_id: str, agent_id: str, actor: Actor | None = None) -> str | None:
        return rows.remove_desk_phone(self.engine, tenant_id, agent_id, actor=actor)

    def agent_ids(self, tenant_id: str) -> list[str]:
        return voice_settings.agent_ids(self.engine, tenant_id)

    # ---------------------------------------------------------------- which phone rings

    def agent_phone(self, tenant_id: str, agent_id: str) -> AgentPhone | None:
        """None: no such agent."""
        found = rows.phone_choice(self.engine, tenant_id, agent_id)
        if found is None:
            return None
        chosen, desk = found
        if chosen is None:
            return AgentPhone(agent_id, "desk" if desk is not None else "browser", False, desk)
        return AgentPhone(agent_id, chosen, True, desk)

    def set_agent_phone(
        self, tenant_id: str, agent_id: str, rings: str, now: float, actor: Actor | None = None
    ) -> AgentPhone:
        if rings not in RINGS:
            raise DirectoryError(f"{rings!r} is not one of {', '.join(RINGS)}", "rings")
        if not rows.choose_phone(self.engine, tenant_id, agent_id, rings, now, actor=actor):
            raise DirectoryError(f"agent {agent_id!r} does not exist", "agent_id")
        found = self.agent_phone(tenant_id, agent_id)
        if found is None:  # deleted meanwhile
            raise DirectoryError(f"agent {agent_id!r} does not exist", "agent_id")
        return found


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
