"""Integration > Screen pop: the screen-pop and auto-log settings in one form, and a "test" search.

Saved with the REST API's models (`ScreenPopSettings`, `AutoLogSettings`), its checks (`check_screen_pop`,
`check_auto_log`) and the same settings store, which audits the change. The test runs the live screen pop's
own decision (`ScreenPopService.decide` with `request_for`) on sample data, through the tenant's connector,
with the settings as they are in the form (not yet saved), and shows what the agent would see.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any, get_args

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from callbridge.connectors.base import CrmError
from callbridge.services.crm_settings import (
    AutoLogSettings,
    ChannelName,
    SaveCrmSettings,
    ScreenPopSettings,
    Trigger,
)
from callbridge.services.screen_pop import PopOutcome, request_for
from callbridge.web.api.crm_integration import check_auto_log, check_screen_pop
from callbridge.web.pages.admin.common import SERVICE_ERRORS, TenantPage, service_errors, text, validation_errors

router = APIRouter(include_in_schema=False)

TRIGGERS: tuple[str, ...] = get_args(Trigger)
CHANNELS: tuple[str, ...] = get_args(ChannelName)
MAX_RULE_ROWS = 50


def _integration(page: TenantPage) -> Any:
    return getattr(page.request.app.state, "crm_integration", None)


def _rule_rows(form: FormData, keep_blank: bool = False) -> list[dict[str, Any]]:
    """The rule rows of the form (`rule-<n>-…`), in order, without the ones ticked for removal or left blank."""
    rows_sent = text(form, "rule_rows")
    count = min(int(rows_sent), MAX_RULE_ROWS + 1) if rows_sent.isdigit() else 0
    rows = []
    for n in range(count):
        row = {
            "data_key": text(form, f"rule-{n}-data_key"),
            "object_type": text(form, f"rule-{n}-object_type"),
            "field": text(form, f"rule-{n}-field"),
            "channels": [c for c in form.getlist(f"rule-{n}-channels") if isinstance(c, str)],
        }
        blank = not (row["data_key"] or row["object_type"] or row["field"])
        if form.get(f"rule-{n}-remove") == "on" or (blank and not keep_blank):
            continue
        rows.append(row)
    return rows


def _pop_input(form: FormData) -> dict[str, Any]:
    """The form as the API's JSON body (blank numbers are the defaults)."""
    checked = form.getlist
    return {
        "enabled": form.get("enabled") == "on",
        "crm": text(form, "crm"),
        "all_agents": text(form, "agents", "all") == "all",
        "agent_ids": [a for a in checked("agent_ids") if isinstance(a, str)],
        "triggers": [t for t in checked("triggers") if isinstance(t, str)],
        "phone_by_caller_id": form.get("phone_by_caller_id") == "on",
        "chat_by_case_number": form.get("chat_by_case_number") == "on",
        "rules": _rule_rows(form),
        "new_record_object_type": text(form, "new_record_object_type"),
        "search_timeout_ms": text(form, "search_timeout_ms") or 800,
        "window": {
            "width": text(form, "window.width") or None,
            "height": text(form, "window.height") or None,
            "reuse": text(form, "window.reuse") == "same",
        },
    }


def _log_input(form: FormData) -> dict[str, Any]:
    return {
        "crm": text(form, "auto_log.crm"),
        "phone": form.get("auto_log.phone") == "on",
        "voicemail": form.get("auto_log.voicemail") == "on",
        "chat": form.get("auto_log.chat") == "on",
    }


def _sample(form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    """The test's sample interaction; `key=value` lines for its data."""
    data: dict[str, str] = {}
    errors: dict[str, str] = {}
    for number, line in enumerate(text(form, "sample_data").splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            errors["sample_data"] = f"line {number}: write key=value, e.g. account_number=12345"
            break
        data[key.strip()] = value.strip()
    channel = text(form, "sample_channel", "phone")
    if channel not in CHANNELS:
        errors["sample_channel"] = f"one of {', '.join(CHANNELS)}"
    sample = {
        "channel": channel,
        "phone": text(form, "sample_phone"),
        "case_number": text(form, "sample_case_number"),
        "data": data,
        "data_text": text(form, "sample_data"),
    }
    return sample, errors


async def _render(
    page: TenantPage,
    pop: Mapping[str, Any],
    log: Mapping[str, Any],
    *,
    errors: dict[str, str] | None = None,
    sample: Mapping[str, Any] | None = None,
    result: Mapping[str, Any] | None = None,
    extra_row: bool = True,
) -> Response:
    integration = _integration(page)
    rules = list(pop.get("rules", []))
    if extra_row or not rules:
        rules.append({"data_key": "", "object_type": "", "field": "", "channels": []})
    return page.render(
        "screen_pop.html",
        422 if errors else 200,
        section="screen-pop",
        available=integration is not None,
        pop=pop,
        log=log,
        rules=rules,
        crms=integration.connections.names() if integration else [],
        crm_labels={name: integration.connections.label(name) for name in integration.connections.names()}
        if integration
        else {},
        agents=await page.svc.configuration.list_agent_rows(page.tenant_id),
        triggers=TRIGGERS,
        channels=CHANNELS,
        sample=sample or {"channel": "phone", "phone": "", "case_number": "", "data_text": ""},
        result=result,
        errors=errors or {},
    )


@router.get("/admin/{tenant_id}/screen-pop")
async def screen_pop(page: TenantPage) -> Response:
    integration = _integration(page)
    if integration is None:
        return await _render(
            page, ScreenPopSettings().model_dump(mode="json"), AutoLogSettings().model_dump(mode="json")
        )
    pop, log = await asyncio.to_thread(integration.settings.stored, page.tenant_id)
    return await _render(page, pop.model_dump(mode="json"), log.model_dump(mode="json"))


@router.post("/admin/{tenant_id}/screen-pop")
async def save_screen_pop(page: TenantPage) -> Response:
    """One form, three buttons: Save, Test (nothing saved) and Add a rule (another empty row)."""
    integration = _integration(page)
    pop_in, log_in = _pop_input(page.form), _log_input(page.form)
    action = text(page.form, "action", "save")
    sample, sample_errors = _sample(page.form)
    if integration is None:
        return await _render(
            page, pop_in, log_in, errors={"form": "The CRM integration is not running on this server."}
        )
    if action == "add_rule":
        return await _render(page, {**pop_in, "rules": _rule_rows(page.form, keep_blank=True)}, log_in, sample=sample)
    errors: dict[str, str] = {}
    pop: ScreenPopSettings | None = None
    log: AutoLogSettings | None = None
    try:
        pop = ScreenPopSettings.model_validate(pop_in)
        await check_screen_pop(integration, page.svc.node, page.tenant_id, pop)
    except ValidationError as error:
        errors.update(validation_errors(error, pop_in))
    except SERVICE_ERRORS as error:
        errors.update(service_errors(error))
    try:
        log = AutoLogSettings.model_validate(log_in)
        check_auto_log(integration, log)
    except ValidationError as error:
        errors.update({f"auto_log.{k}": m for k, m in validation_errors(error).items()})
    except SERVICE_ERRORS as error:
        errors.update({f"auto_log.{k}": m for k, m in service_errors(error).items()})
    if action == "test":
        errors = {k: m for k, m in {**errors, **sample_errors}.items() if not k.startswith("auto_log.")}
        if errors or pop is None:
            return await _render(page, pop_in, log_in, errors=errors, sample=sample, extra_row=False)
        result = await _test(page, pop, sample)
        return await _render(page, pop_in, log_in, sample=sample, result=result, extra_row=False)
    if errors or pop is None or log is None:
        return await _render(page, pop_in, log_in, errors=errors, sample=sample, extra_row=False)
    saved = SaveCrmSettings(screen_pop=pop, auto_log=log, now=time.time(), actor=page.actor)
    await page.svc.node.perform(page.tenant_id, saved)
    return page.back("screen-pop", "screen_pop_saved")


async def _test(page: TenantPage, settings: ScreenPopSettings, sample: Mapping[str, Any]) -> dict[str, Any]:
    """What would pop for the sample, by the live screen pop's own decision."""
    integration = _integration(page)
    try:
        connector = await integration.connections.get(page.tenant_id, settings.crm)
    except CrmError as error:
        return {"problem": f"The {settings.crm} connection cannot be used: {error}"}
    if connector is None:
        return {"problem": f"No {settings.crm} connection is saved: set it up under CRM connection first."}
    request = request_for(
        page.tenant_id,
        sample["channel"],
        phone=sample["phone"],
        case_number=sample["case_number"],
        data=sample["data"],
    )
    started = time.perf_counter()
    outcome: PopOutcome = await integration.screen_pop.decide(connector, settings, request)
    return {
        "outcome": outcome,
        "kind": outcome.target.kind.value,
        "failed": outcome.target.kind.value == "search" and not outcome.timed_out and outcome.matches == 0,
        "milliseconds": round((time.perf_counter() - started) * 1000),
        "enabled": settings.enabled,
    }
