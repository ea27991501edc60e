"""Queues and skills: channel, required skills, priority, offer timeout, wrap-up time, service-level threshold."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from callbridge.domain.model import Channel, Queue
from callbridge.services.operations import DeleteQueue, DeleteSkill, GetQueue, ListQueues, SaveQueue
from callbridge.web.api.schemas import QueueIn, QueueOut, QueueUpdate, SkillIn
from callbridge.web.pages.admin.common import (
    SERVICE_ERRORS,
    PageRefused,
    TenantPage,
    service_errors,
    text,
    validation_errors,
)

router = APIRouter(include_in_schema=False)

CHANNELS = [c.value for c in Channel]
NUMBERS = ("priority", "service_level_seconds", "offer_timeout_seconds", "wrap_up_seconds")


async def _list(page: TenantPage, status: int = 200, **context: Any) -> Response:
    return page.render(
        "queues.html",
        status,
        section="queues",
        queues=await page.svc.node.perform(page.tenant_id, ListQueues()),
        skills=await page.svc.configuration.list_skills(page.tenant_id),
        **context,
    )


@router.get("/admin/{tenant_id}/queues")
async def queue_list(page: TenantPage) -> Response:
    return await _list(page, skill_values={})


# --------------------------------------------------------------------- skills


@router.post("/admin/{tenant_id}/skills")
async def create_skill(page: TenantPage) -> Response:
    values = {"name": text(page.form, "name"), "description": text(page.form, "description")}
    try:
        body = SkillIn.model_validate(values)
        await page.svc.configuration.create_skill(page.tenant_id, body.name, body.description, actor=page.actor)
    except ValidationError as error:
        errors = validation_errors(error)
        if "name" in errors:
            errors["name"] = "lower-case letters, digits, '_' and '-', up to 64 characters (e.g. billing, french)"
        return await _list(page, 422, skill_values=values, errors=errors)
    except SERVICE_ERRORS as error:
        return await _list(page, 422, skill_values=values, errors=service_errors(error))
    return page.back("queues", "skill_created")


@router.post("/admin/{tenant_id}/skills/{name}/delete")
async def delete_skill(page: TenantPage, name: str) -> Response:
    try:
        await page.svc.node.perform(page.tenant_id, DeleteSkill(skill=name, actor=page.actor))
    except SERVICE_ERRORS as error:
        errors = service_errors(error)
        return await _list(page, 409, skill_values={}, errors={"skills": next(iter(errors.values()))})
    return page.back("queues", "skill_deleted")


# --------------------------------------------------------------------- queues


def _queue_values(queue: Queue) -> dict[str, Any]:
    return QueueOut.of(queue).model_dump(mode="json")


async def _form_values(page: TenantPage, queue_id: str) -> dict[str, Any]:
    names = [s["name"] for s in await page.svc.configuration.list_skills(page.tenant_id)]
    form = page.form
    values: dict[str, Any] = {
        "id": queue_id,
        "name": text(form, "name"),
        "channel": text(form, "channel"),
        "required_skills": {n: text(form, f"skill:{n}") for n in names if text(form, f"skill:{n}")},
    }
    values.update({n: text(form, n) for n in NUMBERS if text(form, n)})  # blank: the API's default
    values["offer_during_wrap_up"] = form.get("offer_during_wrap_up") == "on"
    raw = form.get("dispositions", "")
    values["dispositions"] = [
        line.strip() for line in (raw if isinstance(raw, str) else "").splitlines() if line.strip()
    ]
    values["disposition_required"] = form.get("disposition_required") == "on"
    return values


async def _form(
    page: TenantPage, values: dict[str, Any], *, create: bool, errors: dict[str, str] | None = None
) -> Response:
    return page.render(
        "queue_form.html",
        422 if errors else 200,
        section="queues",
        values=values,
        create=create,
        errors=errors or {},
        channels=CHANNELS,
        skills=await page.svc.configuration.list_skills(page.tenant_id),
    )


async def _save(page: TenantPage, values: dict[str, Any], *, create: bool) -> dict[str, str] | None:
    try:
        body = (QueueIn if create else QueueUpdate).model_validate(values)
    except ValidationError as error:
        return validation_errors(error, values)
    queue = body.to_queue(values["id"])
    try:
        await page.svc.node.perform(page.tenant_id, SaveQueue(queue=queue, create=create, actor=page.actor))
    except SERVICE_ERRORS as error:
        return service_errors(error)
    return None


@router.get("/admin/{tenant_id}/queues/new")
async def new_queue(page: TenantPage) -> Response:
    blank = QueueIn(id="new", name="new", channel=Channel.PHONE).to_queue("")
    values = _queue_values(replace(blank, name=""))
    return await _form(page, values, create=True)


@router.post("/admin/{tenant_id}/queues/new")
async def create_queue(page: TenantPage) -> Response:
    values = await _form_values(page, text(page.form, "id"))
    errors = await _save(page, values, create=True)
    if errors:
        return await _form(page, values, create=True, errors=errors)
    return page.back("queues", "queue_created")


async def _existing(page: TenantPage, queue_id: str) -> Queue:
    try:
        queue: Queue = await page.svc.node.perform(page.tenant_id, GetQueue(queue_id=queue_id))
    except SERVICE_ERRORS:
        raise PageRefused(404, f"There is no queue {queue_id!r} in this tenant.") from None
    return queue


@router.get("/admin/{tenant_id}/queues/{queue_id}")
async def edit_queue(page: TenantPage, queue_id: str) -> Response:
    return await _form(page, _queue_values(await _existing(page, queue_id)), create=False)


@router.post("/admin/{tenant_id}/queues/{queue_id}")
async def update_queue(page: TenantPage, queue_id: str) -> Response:
    await _existing(page, queue_id)
    values = await _form_values(page, queue_id)
    errors = await _save(page, values, create=False)
    if errors:
        return await _form(page, values, create=False, errors=errors)
    return page.back("queues", "queue_saved")


@router.post("/admin/{tenant_id}/queues/{queue_id}/delete")
async def delete_queue(page: TenantPage, queue_id: str) -> Response:
    try:
        await page.svc.node.perform(page.tenant_id, DeleteQueue(queue_id=queue_id, actor=page.actor))
    except SERVICE_ERRORS as error:
        return await _list(page, 409, skill_values={}, errors={"queues": next(iter(service_errors(error).values()))})
    return page.back("queues", "queue_deleted")
