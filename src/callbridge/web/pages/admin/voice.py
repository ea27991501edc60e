"""The Voice admin page: numbers (and their menus), desk phones, each phone queue's recording and voicemail
settings, the tenant's recording retention and hold music, what voice is doing now, and the node's trunk
(read-only).

Each form saves through the same store as its REST route (`VoiceDirectory`, `RecordingStore`,
`HoldMusicStore`), validated by the same Pydantic model, so the page and the API accept and refuse the same
input and write the same audit entries. It works with voice off too: an admin prepares everything before the
engines run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect

from callbridge.channels.sip.directory import MENU_DIGITS, DirectoryError, Menu, Number, VoiceDirectory
from callbridge.channels.sip.hold_music import HOLD_MUSIC_MAX_BYTES, HOLD_MUSIC_MAX_MB, HoldMusicError, HoldMusicStore
from callbridge.channels.sip.recording import QueueVoiceSettings, RecordingStore, SettingsError
from callbridge.web.api.recordings import QueueVoiceIn, RetentionIn
from callbridge.web.api.voice import FORM_OVERHEAD, DeskPhoneIn, MenuIn, NumberIn, voice_status
from callbridge.web.deps import ServicesDep
from callbridge.web.pages.admin.common import TenantPage, text, upload_page, validation_errors
from callbridge.web.uploads import NotMultipart, UploadTooLarge, abandoned

router = APIRouter(include_in_schema=False)

# A form field per keypad key: `*` and `#` spelled out, so a field name is a plain word
MENU_KEY_FIELDS = {digit: f"key_{digit}" for digit in "0123456789"} | {"*": "key_star", "#": "key_hash"}
KEYPAD_ORDER = "123456789*0#"  # how the keys sit on a phone, row by row
BLANK_MENU = {"number": "", "menu_greeting_id": "", "attempts": "3", "wait_seconds": "5"} | dict.fromkeys(
    MENU_KEY_FIELDS.values(), ""
)
# what each form shows when it is not the one being corrected
BLANK: dict[str, dict[str, Any]] = {
    "number": {"number": "", "queue_id": "", "greeting_id": ""},
    "menu": BLANK_MENU,
    "desk-phone": {"agent_id": "", "username": ""},
}
RECORDING_OPTIONS = [("off", "Off"), ("on", "On"), ("announced", "On, announced to the caller first")]


def _directory(page: TenantPage) -> VoiceDirectory:
    voice = _voice(page)
    if voice is not None:
        found: VoiceDirectory = voice.directory
        return found
    return VoiceDirectory(page.svc.engine, page.svc.settings.voice_sip_realm)


def _voice(page: TenantPage) -> Any:
    channels = getattr(page.request.app.state, "channels", None)
    return None if channels is None else channels.voice


def _recordings(page: TenantPage) -> RecordingStore:
    return RecordingStore(page.svc.engine, page.svc.settings.data_dir)


def _hold_music(page: TenantPage) -> HoldMusicStore:
    return HoldMusicStore(page.svc.engine, page.svc.settings.data_dir)


def _number_row(number: Number) -> dict[str, Any]:
    """A number as its row in the list shows it, its menu in words: `1 → sales, # → billing (prompt …)`."""
    menu = "—"
    if number.menu is not None:
        keys = ", ".join(f"{digit} → {queue_id}" for digit, queue_id in number.menu.options)
        prompt = number.menu.greeting_id or "spoken"
        menu = f"{keys} (prompt {prompt}, {number.menu.attempts}×, {number.menu.wait_seconds} s)"
    return {"number": number.number, "queue_id": number.queue_id, "greeting_id": number.greeting_id, "menu": menu}


def _queue_values(settings: QueueVoiceSettings) -> dict[str, Any]:
    mode = settings.recording
    if mode == "on" and settings.announcement_greeting_id:
        mode = "announced"
    return {
        "queue_id": settings.queue_id,
        "recording": mode,
        "announcement_greeting_id": settings.announcement_greeting_id or "",
        "voicemail_queue_id": settings.voicemail_queue_id or "",
        "max_wait_seconds": "" if settings.max_wait_seconds is None else str(settings.max_wait_seconds),
    }


def _render(
    page: TenantPage,
    form_name: str = "",
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int | None = None,
) -> Response:
    """Blocking (database, Kamailio's RPC): the whole page; `form_name`'s form shows `values` and `errors`."""
    directory = _directory(page)
    recordings = _recordings(page)
    tenant_id = page.tenant_id
    settings = recordings.all_queue_settings(tenant_id)
    greetings = recordings.greetings(tenant_id)
    chosen = page.request.query_params.get("queue", "")
    shown = next((s for s in settings if s.queue_id == chosen), settings[0] if settings else None)
    own_values = {
        **BLANK,
        "queue": _queue_values(shown) if shown is not None else {},
        "retention": {"days": str(recordings.retention_days(tenant_id))},
    }
    if form_name and values is not None:
        own_values[form_name] = values
    errors = errors or {}

    def err_in(form: str) -> Callable[[str], str]:
        return lambda name: errors.get(name, "") if form == form_name else ""

    live = voice_status(page.request, page.svc, tenant_id)
    return page.render(
        "voice.html",
        status or (422 if errors else 200),
        section="voice",
        form_name=form_name,
        values_of=lambda form: own_values.get(form, {}),
        err_in=err_in,
        numbers=[_number_row(number) for number in directory.numbers(tenant_id)],
        menu_keys=[(digit, MENU_KEY_FIELDS[digit]) for digit in KEYPAD_ORDER],
        desk_phones=directory.desk_phones(tenant_id),
        realm=directory.realm,
        live=live,
        trunk=live.trunk,
        queue_settings=settings,
        phone_queue_options=[(s.queue_id, s.queue_id) for s in settings],
        voicemail_queue_options=[("", "None: callers wait until answered")]
        + [(q, q) for q in recordings.queue_ids(tenant_id, "voicemail")],
        greeting_options=[("", "None")] + [(gid, f"{name} ({gid[:8]})") for gid, name in greetings],
        greeting_names=dict(greetings),
        recording_options=RECORDING_OPTIONS,
        hold_music=_hold_music(page).current(tenant_id),
        hold_music_max_mb=HOLD_MUSIC_MAX_MB,
        errors=errors,
    )


@router.get("/admin/{tenant_id}/voice")
def voice(page: TenantPage) -> Response:
    return _render(page)


@router.post("/admin/{tenant_id}/voice")
def save_number(page: TenantPage) -> Response:
    """Add or change a number (the same number again replaces its queue and greeting), or Remove one."""
    values = {name: text(page.form, name) for name in ("number", "queue_id", "greeting_id")}
    directory = _directory(page)
    if text(page.form, "action") == "remove":
        if not directory.delete_number(page.tenant_id, values["number"], page.actor):
            return _render(page, "number", values, {"form": f"No number {values['number']!r} to remove."})
        return page.back("voice", "number_removed")
    if not values["number"]:
        return _render(page, "number", values, {"number": "Enter the dialled number in E.164, e.g. +14155550100."})
    body_in = {"queue_id": values["queue_id"], "greeting_id": values["greeting_id"] or None}
    try:
        body = NumberIn.model_validate(body_in)
        directory.put_number(
            page.tenant_id, values["number"], body.queue_id, body.greeting_id, page.svc.clock.now(), page.actor
        )
    except ValidationError as error:
        return _render(page, "number", values, validation_errors(error, body_in))
    except DirectoryError as error:
        return _render(page, "number", values, {error.field: str(error)})
    return page.back("voice", "number_saved")


@router.post("/admin/{tenant_id}/voice/menus")
def save_menu(page: TenantPage) -> Response:
    """Give a number a menu (replacing its menu), or Remove its menu: the same checks as `PUT …/menu`."""
    menu_values = {name: text(page.form, name) for name in BLANK_MENU}
    directory = _directory(page)
    number = menu_values["number"]

    def refused(errors: dict[str, str]) -> Response:
        return _render(page, "menu", menu_values, errors)

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


@router.post("/admin/{tenant_id}/voice/desk-phones")
async def save_desk_phone(page: TenantPage) -> Response:
    """Set (or replace) an agent's desk phone credentials, or Remove them; the registrar learns at once when voice runs.

    Async because the registrar is told on the event loop; the database and the page render go to a thread.
    """
    phone_values = {name: text(page.form, name) for name in ("agent_id", "username")}
    directory = _directory(page)
    voice = _voice(page)

    async def refused(errors: dict[str, str]) -> Response:
        return await asyncio.to_thread(_render, page, "desk-phone", phone_values, errors)

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


@router.post("/admin/{tenant_id}/voice/queues")
def save_queue_voice(page: TenantPage) -> Response:
    """A phone queue's recording (off, on, on and announced) and voicemail overflow, as `PUT …/voice/queues/{id}`."""
    names = ("queue_id", "recording", "announcement_greeting_id", "voicemail_queue_id", "max_wait_seconds")
    values = {name: text(page.form, name) for name in names}
    mode = values["recording"]
    if mode not in ("off", "on", "announced"):
        return _render(page, "queue", values, {"recording": "Choose off, on, or on and announced."})
    if mode == "announced" and not values["announcement_greeting_id"]:
        return _render(
            page,
            "queue",
            values,
            {"announcement_greeting_id": "Choose the greeting that tells callers they are recorded (or choose On)."},
        )
    body_in = {
        "recording": "off" if mode == "off" else "on",
        "announcement_greeting_id": values["announcement_greeting_id"] if mode == "announced" else None,
        "voicemail_queue_id": values["voicemail_queue_id"] or None,
        "max_wait_seconds": values["max_wait_seconds"] or None,
    }
    try:
        body = QueueVoiceIn.model_validate(body_in)
        _recordings(page).put_queue_settings(
            QueueVoiceSettings(
                page.tenant_id,
                values["queue_id"],
                body.recording,
                body.announcement_greeting_id,
                body.max_wait_seconds,
                body.voicemail_queue_id,
            ),
            page.svc.clock.now(),
            page.actor,
        )
    except ValidationError as error:
        return _render(page, "queue", values, validation_errors(error, body_in))
    except SettingsError as error:
        message = str(error)
        return _render(page, "queue", values, {error.field: message[:1].upper() + message[1:]})
    # back to the same queue's settings, saying so
    target = f"/admin/{page.tenant_id}/voice?done=queue_voice_saved&queue={quote(values['queue_id'])}#queue-settings"
    return RedirectResponse(target, 303)


@router.post("/admin/{tenant_id}/voice/recording-retention")
def save_retention(page: TenantPage) -> Response:
    values = {"days": text(page.form, "days")}
    try:
        body = RetentionIn.model_validate({"days": values["days"] or None})
    except ValidationError as error:
        errors = validation_errors(error)
        if not values["days"]:
            errors = {"days": "Enter how many days to keep recordings (1 to 3650)."}
        return _render(page, "retention", values, errors)
    _recordings(page).put_retention_days(page.tenant_id, body.days, page.svc.clock.now(), page.actor)
    return page.back("voice", "retention_saved")


@router.post("/admin/{tenant_id}/voice/hold-music")
async def save_hold_music(tenant_id: str, request: Request, svc: ServicesDep) -> Response:
    """Upload the tenant's hold music, or go back to the default. Not TenantPage: the form is read with a size
    limit enforced while it arrives (a file is refused as soon as it is too large, never spooled whole)."""
    try:
        page = await upload_page(tenant_id, request, svc, HOLD_MUSIC_MAX_BYTES + FORM_OVERHEAD)
    except ClientDisconnect:
        return abandoned("hold music")

    async def refused(message: str, field: str = "audio", status: int = 422) -> Response:
        return await asyncio.to_thread(_render, page, "hold-music", {}, {field: message}, status)

    if page.upload_problem is UploadTooLarge:
        return await refused(
            f"The file is larger than {HOLD_MUSIC_MAX_MB} MB: choose a shorter or MP3 file.", status=413
        )
    if page.upload_problem is NotMultipart or page.upload_problem is MultiPartException:
        return await refused("The form was not sent as a file upload: reload the page and try again.", "form", 400)
    store = _hold_music(page)
    try:
        if text(page.form, "action") == "default":
            reset = await asyncio.to_thread(store.reset, page.tenant_id, svc.clock.now(), page.actor)
            if not reset:
                return await refused("There is no uploaded music to remove: callers already hear the default.", "form")
            return page.back("voice", "hold_music_reset")
        audio = page.form.get("audio")
        if not isinstance(audio, UploadFile):
            return await refused("Choose a WAV or MP3 file to upload.")
        data = await audio.read(HOLD_MUSIC_MAX_BYTES + 1)
    finally:
        with contextlib.suppress(Exception):
            await page.form.close()
    try:
        await asyncio.to_thread(store.put, page.tenant_id, data, svc.clock.now(), page.actor)
    except HoldMusicError as error:
        message = str(error).removeprefix("audio: ")
        return await refused(message[:1].upper() + message[1:], error.field, error.status)
    return page.back("voice", "hold_music_saved")
