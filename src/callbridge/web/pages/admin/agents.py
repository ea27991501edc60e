"""Agents: create, edit, disable, delete; e-mail, roles, skills with levels, capacity per channel, queues,
"auto login for single sign-on"; agents sharing an e-mail are flagged."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from callbridge.channels.sip.directory import RINGS, DirectoryError, VoiceDirectory
from callbridge.domain.model import Channel, Role
from callbridge.services.configuration import profile_from_input
from callbridge.services.operations import DeleteAgent, ListQueues, SaveAgent
from callbridge.web.api.schemas import AgentIn, AgentUpdate
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
ROLES = [r.value for r in Role]


def shared_emails(rows: Sequence[Any]) -> dict[str, list[str]]:
    """E-mail (any case) -> ids of the agents that share it, for e-mails used more than once.

    Single sign-on matches a CRM user to an agent by e-mail and takes the oldest agent when several share it.
    """
    by_email: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_email[row.email.strip().lower()].append(row.id)
    return {email: ids for email, ids in by_email.items() if len(ids) > 1}


def _row_values(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "email": row.email,
        "display_name": row.display_name,
        "roles": list(row.roles),
        "skills": dict(row.skills),
        "capacity": dict(row.capacity),
        "queue_ids": list(row.queue_ids),
        "enabled": row.enabled,
        "auto_login": row.auto_login,
    }


def _form_values(page: TenantPage, skill_names: Sequence[str], agent_id: str) -> dict[str, Any]:
    form = page.form
    return {
        "id": agent_id,
        "email": text(form, "email"),
        "display_name": text(form, "display_name"),
        "roles": [r for r in form.getlist("roles") if isinstance(r, str)],
        "skills": {n: text(form, f"skill:{n}") for n in skill_names if text(form, f"skill:{n}")},
        "capacity": {c: text(form, f"capacity:{c}") or "0" for c in CHANNELS},
        "queue_ids": [q for q in form.getlist("queue_ids") if isinstance(q, str)],
        "enabled": form.get("enabled") == "on",
        "auto_login": form.get("auto_login") == "on",
    }


def _directory(page: TenantPage) -> VoiceDirectory:
    return VoiceDirectory(page.svc.engine, page.svc.settings.voice_sip_realm)


async def _with_phone(page: TenantPage, values: dict[str, Any]) -> dict[str, Any]:
    """What rings for the agent (voice): the browser softphone or the desk phone."""
    phone = await asyncio.to_thread(_directory(page).agent_phone, page.tenant_id, values["id"])
    if phone is not None:
        values = {**values, "rings": phone.rings, "desk_phone": phone.desk_phone}
    return values


async def _save_phone(page: TenantPage, agent_id: str) -> dict[str, str] | None:
    rings = text(page.form, "rings")
    if not rings:
        return None
    directory = _directory(page)
    current = await asyncio.to_thread(directory.agent_phone, page.tenant_id, agent_id)
    if current is not None and current.chosen and current.rings == rings:
        return None
    try:
        now = page.svc.clock.now()
        await asyncio.to_thread(directory.set_agent_phone, page.tenant_id, agent_id, rings, now, page.actor)
    except DirectoryError as error:
        return {error.field: str(error)}
    return None


async def _form(
    page: TenantPage, values: dict[str, Any], *, create: bool, errors: dict[str, str] | None = None
) -> Response:
    queues = await page.svc.node.perform(page.tenant_id, ListQueues())
    return page.render(
        "agent_form.html",
        422 if errors else 200,
        section="agents",
        values=values,
        create=create,
        errors=errors or {},
        skills=await page.svc.configuration.list_skills(page.tenant_id),
        queues=queues,
        channels=CHANNELS,
        roles=ROLES,
        rings=RINGS,
    )


async def _save(page: TenantPage, values: dict[str, Any], *, create: bool) -> dict[str, str] | None:
    """Saves through the same model and service as the REST API; returns the errors, if any."""
    try:
        body = (AgentIn if create else AgentUpdate).model_validate(values)
    except ValidationError as error:
        errors = validation_errors(error, values)
        if "roles" in errors and not values["roles"]:
            errors["roles"] = "choose at least one role"
        return errors
    profile = profile_from_input(
        values["id"],
        body.email,
        body.display_name,
        body.roles,
        body.skills,
        body.capacity,
        body.queue_ids,
        body.enabled,
    )
    try:
        save = SaveAgent(profile=profile, auto_login=body.auto_login, create=create, actor=page.actor)
        await page.svc.node.perform(page.tenant_id, save)
    except SERVICE_ERRORS as error:
        return service_errors(error)
    return None


@router.get("/admin/{tenant_id}/agents")
async def agent_list(page: TenantPage) -> Response:
    rows = await page.svc.configuration.list_agent_rows(page.tenant_id)
    return page.render("agents.html", section="agents", agents=rows, shared=shared_emails(rows))


@router.get("/admin/{tenant_id}/agents/new")
async def new_agent(page: TenantPage) -> Response:
    values = {
        "id": "",
        "email": "",
        "display_name": "",
        "roles": [Role.AGENT.value],
        "skills": {},
        "capacity": {Channel.PHONE.value: 1, Channel.CHAT.value: 3, Channel.VOICEMAIL.value: 1},
        "queue_ids": [],
        "enabled": True,
        "auto_login": True,
    }
    return await _form(page, values, create=True)


@router.post("/admin/{tenant_id}/agents/new")
async def create_agent(page: TenantPage) -> Response:
    names = [s["name"] for s in await page.svc.configuration.list_skills(page.tenant_id)]
    values = _form_values(page, names, text(page.form, "id"))
    errors = await _save(page, values, create=True)
    if errors:
        return await _form(page, values, create=True, errors=errors)
    return page.back("agents", "agent_created")


async def _existing(page: TenantPage, agent_id: str) -> Any:
    try:
        return await page.svc.configuration.get_agent_row(page.tenant_id, agent_id)
    except SERVICE_ERRORS:
        raise PageRefused(404, f"There is no agent {agent_id!r} in this tenant.") from None


@router.get("/admin/{tenant_id}/agents/{agent_id}")
async def edit_agent(page: TenantPage, agent_id: str) -> Response:
    values = await _with_phone(page, _row_values(await _existing(page, agent_id)))
    return await _form(page, values, create=False)


@router.post("/admin/{tenant_id}/agents/{agent_id}")
async def update_agent(page: TenantPage, agent_id: str) -> Response:
    await _existing(page, agent_id)
    names = [s["name"] for s in await page.svc.configuration.list_skills(page.tenant_id)]
    values = _form_values(page, names, agent_id)
    errors = await _save(page, values, create=False) or await _save_phone(page, agent_id)
    if errors:
        values = {**await _with_phone(page, values), "rings": text(page.form, "rings")}
        return await _form(page, values, create=False, errors=errors)
    return page.back("agents", "agent_saved")


@router.post("/admin/{tenant_id}/agents/{agent_id}/enabled")
async def enable_agent(page: TenantPage, agent_id: str) -> Response:
    """Disable (or enable again) in one click: a disabled agent cannot sign in and is offered nothing."""
    values = _row_values(await _existing(page, agent_id))
    values["enabled"] = page.form.get("enabled") == "true"
    errors = await _save(page, values, create=False)
    if errors:
        return await _form(page, values, create=False, errors=errors)
    return page.back("agents", "agent_enabled" if values["enabled"] else "agent_disabled")


@router.post("/admin/{tenant_id}/agents/{agent_id}/delete")
async def delete_agent(page: TenantPage, agent_id: str) -> Response:
    await _existing(page, agent_id)
    try:
        await page.svc.node.perform(page.tenant_id, DeleteAgent(agent_id=agent_id, actor=page.actor))
    except SERVICE_ERRORS as error:
        rows = await page.svc.configuration.list_agent_rows(page.tenant_id)
        return page.render(
            "agents.html", 409, section="agents", agents=rows, shared=shared_emails(rows), errors=service_errors(error)
        )
    return page.back("agents", "agent_deleted")
