"""Voice numbers, which were API-only: each dialled number (E.164) goes to a phone queue, with an optional greeting.

The page saves through the same `VoiceDirectory` as `PUT …/voice/numbers/{number}`, so both accept and refuse
the same numbers and write the same audit entries. It works with voice off too: an admin prepares numbers
before the engines run.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from callbridge.channels.sip.directory import DirectoryError, VoiceDirectory
from callbridge.web.api.voice import NumberIn
from callbridge.web.pages.admin.common import TenantPage, text, validation_errors

router = APIRouter(include_in_schema=False)


def _directory(page: TenantPage) -> VoiceDirectory:
    channels = getattr(page.request.app.state, "channels", None)
    voice = None if channels is None else channels.voice
    if voice is not None:
        found: VoiceDirectory = voice.directory
        return found
    return VoiceDirectory(page.svc.engine, page.svc.settings.voice_sip_realm)


def _render(page: TenantPage, values: dict[str, Any], errors: dict[str, str] | None = None) -> Response:
    return page.render(
        "voice.html",
        422 if errors else 200,
        section="voice",
        numbers=_directory(page).numbers(page.tenant_id),
        voice_on=bool(page.svc.settings.voice_enabled),
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
