"""The tenant's ready-made texts for the agent console: wrap-up notes templates and chat quick replies."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from callbridge.services.console_texts import ConsoleTexts, read_console_texts, save_console_texts
from callbridge.web.api.console_texts import ConsoleTextsIn
from callbridge.web.pages.admin.common import TenantPage, validation_errors

router = APIRouter(include_in_schema=False)


def _entries(value: object) -> list[str]:
    """One text per line (blank lines left out)."""
    return [line.strip() for line in (value if isinstance(value, str) else "").splitlines() if line.strip()]


def _render(page: TenantPage, values: dict[str, list[str]], errors: dict[str, str] | None = None) -> Response:
    return page.render(
        "console_texts.html", 422 if errors else 200, values=values, errors=errors or {}, section="console-texts"
    )


@router.get("/admin/{tenant_id}/console-texts")
def console_texts_page(page: TenantPage) -> Response:
    texts = read_console_texts(page.svc.engine, page.tenant_id)
    return _render(page, {"notes_templates": texts.notes_templates, "quick_replies": texts.quick_replies})


@router.post("/admin/{tenant_id}/console-texts")
def save_console_texts_page(page: TenantPage) -> Response:
    values = {
        "notes_templates": _entries(page.form.get("notes_templates")),
        "quick_replies": _entries(page.form.get("quick_replies")),
    }
    try:
        body = ConsoleTextsIn.model_validate(values)
    except ValidationError as error:
        return _render(page, values, validation_errors(error, values))
    save_console_texts(
        page.svc.engine, page.tenant_id, ConsoleTexts(body.notes_templates, body.quick_replies), page.actor
    )
    return page.back("console-texts", "console_texts_saved")
