"""The tenant's ready-made texts for the agent console (admins set them; the agent's console reads them):
wrap-up notes templates and chat quick replies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field, StringConstraints, field_validator

from callbridge.services.console_texts import ConsoleTexts, read_console_texts, save_console_texts
from callbridge.web.api.audit import actor_of
from callbridge.web.api.schemas import Input
from callbridge.web.deps import AgentDep, ServicesDep, TenantAdminDep
from callbridge.web.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["console texts"])

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class ConsoleTextsIn(Input):
    notes_templates: list[Text] = Field(
        default_factory=list, max_length=50, description="Texts an agent inserts into the wrap-up notes"
    )
    quick_replies: list[Text] = Field(
        default_factory=list, max_length=50, description="Texts an agent inserts into a chat reply"
    )

    @field_validator("notes_templates", "quick_replies")
    @classmethod
    def _each_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("give each text once")
        return value


class ConsoleTextsOut(BaseModel):
    notes_templates: list[str]
    quick_replies: list[str]


def _out(texts: ConsoleTexts) -> ConsoleTextsOut:
    return ConsoleTextsOut(notes_templates=texts.notes_templates, quick_replies=texts.quick_replies)


@router.get("/tenants/{tenant_id}/console-texts", summary="The tenant's notes templates and chat quick replies")
def get_console_texts(tenant_id: str, svc: ServicesDep, _who: TenantAdminDep) -> ConsoleTextsOut:
    return _out(read_console_texts(svc.engine, tenant_id))


@router.put("/tenants/{tenant_id}/console-texts", summary="Sets the tenant's notes templates and chat quick replies")
def put_console_texts(tenant_id: str, body: ConsoleTextsIn, svc: ServicesDep, who: TenantAdminDep) -> ConsoleTextsOut:
    texts = ConsoleTexts(list(body.notes_templates), list(body.quick_replies))
    return _out(save_console_texts(svc.engine, tenant_id, texts, actor_of(svc.engine, who)))


@router.get("/me/console-texts", summary="My tenant's notes templates and chat quick replies (the console's)")
def my_console_texts(svc: ServicesDep, who: AgentDep) -> ConsoleTextsOut:
    if who.tenant_id is None:
        raise HTTPException(404, "no tenant")
    return _out(read_console_texts(svc.engine, who.tenant_id))
