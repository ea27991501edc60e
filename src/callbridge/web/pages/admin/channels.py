"""The channels' settings that were API-only: the telephony command webhook and the chat widget.

Each page validates with the REST API's own models and saves through the same stores, so a page and
`PUT …/telephony/settings` / `PUT …/chat/settings` accept and refuse the same things, audited alike.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from callbridge.channels.commands import (
    DEFAULT_COMMANDS,
    DEFAULT_TIMEOUT_SECONDS,
    MAX_SECRET_CHARS,
    MIN_SECRET_CHARS,
    CommandSettingsStore,
    InvalidSetting,
)
from callbridge.channels.webchat.service import ChatService, ChatSettings, FormField
from callbridge.web.api.chat import ChatSettingsIn
from callbridge.web.api.telephony_settings import TelephonySettingsIn
from callbridge.web.pages.admin.common import (
    SERVICE_ERRORS,
    TenantPage,
    lines,
    service_errors,
    text,
    validation_errors,
)

router = APIRouter(include_in_schema=False)

MAX_FIELD_ROWS = 20
BUILT_IN_FIELDS = ("name", "email", "case_number")


def _channels(page: TenantPage) -> Any:
    return getattr(page.request.app.state, "channels", None)


# ------------------------------------------------------------------ telephony command webhook

COMMAND_CHOICES = (
    ("hold", "Hold — put the caller on hold"),
    ("resume", "Resume — take the caller off hold"),
    ("connect", "Connect — bridge a call an agent accepted in the console to that agent"),
    ("hang_up", "Hang up — the agent hung up in the console"),
    ("dial", "Dial — click to dial: call the customer for the agent"),
    ("transfer", "Transfer — send the caller to an outside number"),
)


def _commands(page: TenantPage) -> CommandSettingsStore | None:
    channels = _channels(page)
    return None if channels is None else channels.command_settings


def _render_telephony(
    page: TenantPage, values: dict[str, Any], errors: dict[str, str] | None = None, *, has_secret: bool
) -> Response:
    store = _commands(page)
    stored = store.describe(page.tenant_id) if store is not None else {}
    return page.render(
        "telephony.html",
        422 if errors else 200,
        section="telephony",
        values=values,
        stored_url=stored.get("webhook_url") or "",
        has_secret=has_secret,
        available=_commands(page) is not None,
        min_secret=MIN_SECRET_CHARS,
        max_secret=MAX_SECRET_CHARS,
        command_choices=COMMAND_CHOICES,
        errors=errors or {},
    )


@router.get("/admin/{tenant_id}/telephony")
def telephony(page: TenantPage) -> Response:
    store = _commands(page)
    stored = store.describe(page.tenant_id) if store is not None else {}
    values = {
        "webhook_url": stored.get("webhook_url") or "",
        "timeout_seconds": stored.get("timeout_seconds", DEFAULT_TIMEOUT_SECONDS),
        "commands": stored.get("commands", list(DEFAULT_COMMANDS)),
    }
    return _render_telephony(page, values, has_secret=bool(stored.get("has_signing_secret")))


@router.post("/admin/{tenant_id}/telephony")
def save_telephony(page: TenantPage) -> Response:
    """Save (a blank secret keeps the stored one) or Remove (Callbridge sends no more commands)."""
    store = _commands(page)
    has_secret = bool(store.describe(page.tenant_id).get("has_signing_secret")) if store is not None else False
    values: dict[str, Any] = {
        "webhook_url": text(page.form, "webhook_url"),
        "timeout_seconds": text(page.form, "timeout_seconds") or DEFAULT_TIMEOUT_SECONDS,
        "commands": [name for name, _ in COMMAND_CHOICES if page.form.get(f"command_{name}")],
    }
    if store is None:
        errors = {"form": "The telephony channel is not running on this server."}
        return _render_telephony(page, values, errors, has_secret=has_secret)
    if text(page.form, "action") == "remove":
        store.save(page.tenant_id, None, None, DEFAULT_TIMEOUT_SECONDS, page.actor)
        return page.back("telephony", "telephony_removed")
    if not values["webhook_url"]:
        errors = {"webhook_url": "Enter the URL the PBX takes commands at, or press Remove to stop sending them."}
        return _render_telephony(page, values, errors, has_secret=has_secret)
    body_in = {**values, "signing_secret": text(page.form, "signing_secret") or None}
    try:
        body = TelephonySettingsIn.model_validate(body_in)
        store.save(
            page.tenant_id,
            body.webhook_url,
            body.signing_secret,
            body.timeout_seconds,
            page.actor,
            tuple(body.commands),
        )
    except ValidationError as error:
        return _render_telephony(page, values, validation_errors(error, body_in), has_secret=has_secret)
    except InvalidSetting as error:
        message = str(error).removeprefix(f"{error.field}: ")
        if error.field == "signing_secret" and not has_secret:
            message = "Enter a signing secret: the first webhook needs one (the PBX checks each command with it)."
        return _render_telephony(page, values, {error.field: message}, has_secret=has_secret)
    except SERVICE_ERRORS as error:
        return _render_telephony(page, values, service_errors(error), has_secret=has_secret)
    return page.back("telephony", "telephony_saved")


# ------------------------------------------------------------------------------ chat widget


def _chat(page: TenantPage) -> ChatService | None:
    channels = _channels(page)
    return None if channels is None else channels.chat


def _field_rows(form: FormData, keep_blank: bool = False) -> list[dict[str, Any]]:
    """The pre-chat field rows (`field-<n>-…`), in order, without those ticked for removal or left blank."""
    rows_sent = text(form, "field_rows")
    count = min(int(rows_sent), MAX_FIELD_ROWS + 1) if rows_sent.isdigit() else 0
    rows = []
    for n in range(count):
        row: dict[str, Any] = {
            "name": text(form, f"field-{n}-name"),
            "label": text(form, f"field-{n}-label"),
            "required": form.get(f"field-{n}-required") == "on",
            "max_length": text(form, f"field-{n}-max_length") or 200,
        }
        blank = not (row["name"] or row["label"])
        if form.get(f"field-{n}-remove") == "on" or (blank and not keep_blank):
            continue
        rows.append(row)
    return rows


def _render_chat(
    page: TenantPage, values: dict[str, Any], errors: dict[str, str] | None = None, *, extra_row: bool = True
) -> Response:
    fields = list(values.get("form_fields", []))
    if extra_row or not fields:
        fields.append({"name": "", "label": "", "required": False, "max_length": 200})
    return page.render(
        "chat_widget.html",
        422 if errors else 200,
        section="chat-widget",
        values=values,
        fields=fields,
        built_in=BUILT_IN_FIELDS,
        available=_chat(page) is not None,
        errors=errors or {},
    )


@router.get("/admin/{tenant_id}/chat-widget")
def chat_widget(page: TenantPage) -> Response:
    chat = _chat(page)
    settings = chat.settings(page.tenant_id) if chat is not None else ChatSettings()
    values = {
        "widget_origins": list(settings.widget_origins),
        "form_fields": [f.as_json() for f in settings.form_fields],
    }
    return _render_chat(page, values)


@router.post("/admin/{tenant_id}/chat-widget")
def save_chat_widget(page: TenantPage) -> Response:
    """One form, two buttons: Save, and Add a field (another empty row)."""
    chat = _chat(page)
    values: dict[str, Any] = {
        "widget_origins": lines(text(page.form, "widget_origins")),
        "form_fields": _field_rows(page.form),
    }
    if chat is None:
        return _render_chat(page, values, {"form": "The chat channel is not running on this server."})
    if text(page.form, "action") == "add_field":
        return _render_chat(page, {**values, "form_fields": _field_rows(page.form, keep_blank=True)})
    try:
        body = ChatSettingsIn.model_validate(values)
    except ValidationError as error:
        return _render_chat(page, values, validation_errors(error, values), extra_row=False)
    names = [f.name for f in body.form_fields]
    for index, name in enumerate(names):
        if name in BUILT_IN_FIELDS or names.index(name) != index:
            errors = {f"form_fields.{index}.name": f"{name!r} is already a field of the form"}
            return _render_chat(page, values, errors, extra_row=False)
    settings = ChatSettings(
        tuple(dict.fromkeys(body.widget_origins)),
        tuple(FormField(f.name, f.label, f.required, f.max_length) for f in body.form_fields),
    )
    try:
        chat.save_settings(page.tenant_id, settings, page.actor)
    except SERVICE_ERRORS as error:
        return _render_chat(page, values, service_errors(error), extra_row=False)
    return page.back("chat-widget", "chat_widget_saved")
