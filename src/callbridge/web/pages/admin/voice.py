"""Voice numbers, which were API-only: each dialled number (E.164) goes to a phone queue, with an optional greeting,
or first to a menu whose keys choose the queue.

The page saves through the same `VoiceDirectory` as `PUT …/voice/numbers/{number}`, so both accept and refuse
the same numbers and write the same audit entries. It works with voice off too: an admin prepares numbers
before the engines run.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from callbridge.channels.sip.directory import MENU_DIGITS, DirectoryError, Menu, VoiceDirectory
from callbridge.web.api.voice import DeskPhoneIn, MenuIn, NumberIn
from callbridge.web.pages.admin.common import TenantPage, text, validation_errors

router = APIRouter(include_in_schema=False)


def _directory(page: TenantPage) -> VoiceDirectory:
    channels = getattr(page.request.app.state, "channels", None)
    voice = None if channels is None else channels.voice
    if voice is not None:
        found: VoiceDirectory = voice.directory
        return found
    return VoiceDirectory(page.svc.engine, page.svc.settings.voice_sip_realm)


def _voice(page: TenantPage) -> Any:
    channels = getattr(page.request.app.state, "channels", None)
    return None if channels is None else channels.voice


# A form field per keypad key: `*` and `#` spelled out, so a field name is a plain word
MENU_KEY_FIELDS = {digit: f"key_{digit}" for digit in "0123456789"} | {"*": "key_star", "#": "key_hash"}
KEYPAD_ORDER = "123456789*0#"  # how the keys sit on a phone, row by row
BLANK_MENU = {"number": "", "menu_greeting_id": "", "attempts": "3", "wait_seconds": "5"} | dict.fromkeys(
    MENU_KEY_FIELDS.values(), ""
)


def _render(
    page: TenantPage,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    phone_values: dict[str, Any] | None = None,
    menu_values: dict[str, Any] | None = None,
) -> Response:
    directory = _directory(page)
    voice = _voice(page)
    return page.render(
        "voice.html",
        422 if errors else 200,
        section="voice",
        numbers=directory.numbers(page.tenant_id),
        desk_phones=directory.desk_phones(page.tenant_id),
        realm=directory.realm,
        phone_values=phone_values or {"agent_id": "", "username": ""},
        phone_form=phone_values is not None,  # whose form the errors banner belongs to
        menu_values=menu_values or BLANK_MENU,
        menu_form=menu_values is not None,
        menu_keys=[(digit, MENU_KEY_FIELDS[digit]) for digit in KEYPAD_ORDER],
        voice_on=bool(page.svc.settings.voice_enabled),
        # the same per-engine answers /readyz goes by (voice on but no controller: it failed to start)
        engines=sorted(voice.health.items()) if voice is not None else [],
        values=values,
        errors=errors or {},
    )


@router.get("/admin/{tenant_id}/voice")
def voice(page: TenantPage) -> Response:
    return _render(page, {"number": "", "queue_id": "", "greeting_id": ""})


@router.post("/admin/{tenant_id}/voice")
def save_number(page: TenantPage) -> Response:
    """Add or change a number (the same number again replaces its queue and greeting), or Remove one."""
    values = {name: text(page.form, name) for name in ("number", "queue_id", "greeting_id")}
    directory = _directory(page)
    if text(page.form, "action") == "remove":
        if not directory.delete_number(page.tenant_id, values["number"], page.actor):
            return _render(page, values, {"form": f"No number {values['number']!r} to remove."})
        return page.back("voice", "number_removed")
    if not values["number"]:
        return _render(page, values, {"number": "Enter the dialled number in E.164, e.g. +14155550100."})
    body_in = {"queue_id": values["queue_id"], "greeting_id": values["greeting_id"] or None}
    try:
        body = NumberIn.model_validate(body_in)
        directory.put_number(
            page.tenant_id, values["number"], body.queue_id, body.greeting_id, page.svc.clock.now(), page.actor
        )
    except ValidationError as error:
        return _render(page, values, validation_errors(error, body_in))
    except DirectoryError as error:
        return _render(page, values, {error.field: str(error)})
    return page.back("voice", "number_saved")


@router.post("/admin/{tenant_id}/voice/desk-phones")
async def save_desk_phone(page: TenantPage) -> Response:
    """Set (or replace) an agent's desk phone credentials, or Remove them; the registrar learns at once when voice runs.

    Async because the registrar is told on the event loop; the database and the page render go to a thread.
    """
    phone_values = {name: text(page.form, name) for name in ("agent_id", "username")}
    blank = {"number": "", "queue_id": "", "greeting_id": ""}
    directory = _directory(page)
    voice = _voice(page)

    async def refused(errors: dict[str, str]) -> Response:
        return await asyncio.to_thread(_render, page, blank, errors, phone_values)

    if text(page.form, "action") == "remove":
        username = await asyncio.to_thread(
            directory.delete_desk_phone, page.tenant_id, phone_values["agent_id"], page.actor
        )
        if username is None:
            return await refused({"form": f"Agent {phone_values['agent_id']!r} has no desk phone to remove."})
        if voice is not None:
            await voice.forget_phone(username)
        return page.back("voice", "desk_phone_removed")
    if not phone_values["agent_id"]:
        return await refused({"agent_id": "Enter the id of the agent whose desk phone this is."})
    body_in = {"username": phone_values["username"], "password": text(page.form, "password")}
    try:
        body = DeskPhoneIn.model_validate(body_in)
        phone, replaced = await asyncio.to_thread(
            directory.put_desk_phone,
            page.tenant_id,
            phone_values["agent_id"],
            body.username,
            body.password,
            page.svc.clock.now(),
            page.actor,
        )
    except ValidationError as error:
        return await refused(validation_errors(error, {"username": body_in["username"]}))
    except DirectoryError as error:
        return await refused({error.field: str(error)})
    if voice is not None:
        if replaced is not None:
            await voice.forget_phone(replaced)
        await voice.push_phone(phone)
    return page.back("voice", "desk_phone_saved")


@router.post("/admin/{tenant_id}/voice/menus")
def save_menu(page: TenantPage) -> Response:
    """Give a number a menu (replacing its menu), or Remove its menu: the same checks as `PUT …/menu`."""
    menu_values = {name: text(page.form, name) for name in BLANK_MENU}
    blank = {"number": "", "queue_id": "", "greeting_id": ""}
    directory = _directory(page)
    number = menu_values["number"]

    def refused(errors: dict[str, str]) -> Response:
        return _render(page, blank, errors, menu_values=menu_values)

    if text(page.form, "action") == "remove":
        if not directory.delete_menu(page.tenant_id, number, page.actor):
            return refused({"form": f"Number {number!r} has no menu to remove."})
        return page.back("voice", "menu_removed")
    if not number:
        return refused({"menu_number": "Enter one of the numbers above."})
    chosen = [(digit, menu_values[field]) for digit, field in MENU_KEY_FIELDS.items() if menu_values[field]]
    chosen.sort(key=lambda option: MENU_DIGITS.index(option[0]))
    body_in: dict[str, Any] = {
        "options": [{"digit": digit, "queue_id": queue_id} for digit, queue_id in chosen],
        "greeting_id": menu_values["menu_greeting_id"] or None,
        "attempts": menu_values["attempts"],
        "wait_seconds": menu_values["wait_seconds"],
    }
    try:
        body = MenuIn.model_validate(body_in)
        saved = directory.put_menu(
            page.tenant_id,
            number,
            Menu(
                options=tuple((option.digit, option.queue_id) for option in body.options),
                greeting_id=body.greeting_id,
                attempts=body.attempts,
                wait_seconds=body.wait_seconds,
            ),
            page.svc.clock.now(),
            page.actor,
        )
    except ValidationError as error:
        return refused(_menu_errors(validation_errors(error), chosen))
    except DirectoryError as error:
        return refused(_menu_errors({error.field: str(error)}, chosen))
    if saved is None:
        return refused({"menu_number": f"No number {number!r} here: add it above first."})
    return page.back("voice", "menu_saved")


def _menu_errors(errors: dict[str, str], chosen: list[tuple[str, str]]) -> dict[str, str]:
    """The API's field names (`options.1.queue_id`, `options[1].queue_id`) as the form's: the key's own field."""
    found: dict[str, str] = {}
    for field, message in errors.items():
        parts = field.replace("[", ".").replace("]", "").split(".")
        if parts[0] == "options" and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(chosen):
            digit = chosen[int(parts[1])][0]
            found.setdefault(MENU_KEY_FIELDS[digit], message)
        elif parts[0] == "options":
            found.setdefault("form", "Give at least one key a queue id.")
        elif field in ("number", "greeting_id"):
            found.setdefault(f"menu_{field}", message)
        else:
            found.setdefault(field, message)
    return found
