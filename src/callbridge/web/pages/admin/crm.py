"""CRM connection: one panel per installed connector plugin (`ConnectorPlugin`: the built-in CRM, Salesforce,
any other), each rendered from the plugin: its label, its settings model's fields, its credentials model's
fields (write-only: "leave empty to keep"), its words for choices and where its credentials come from; and
"Test connection".

Saved through `CrmConnections.save`, the service behind `PUT /api/v1/tenants/{id}/crm-connections/{crm}`,
which validates with the plugin's models and audits the change (credentials only as changed).
"""

from __future__ import annotations

import asyncio
import functools
import time
import typing
from enum import Enum
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from callbridge.connectors.base import CrmError
from callbridge.connectors.plugin import AnyPlugin
from callbridge.outbound import DestinationRefused
from callbridge.services.crm_connections import UnknownConnector
from callbridge.services.crm_oauth import ConnectRefused
from callbridge.web.deps import ServicesDep
from callbridge.web.pages.admin.common import Page, PageRefused, TenantPage, tenant_page, text, validation_errors
from callbridge.web.rate_limits import ANONYMOUS, rate_limited

router = APIRouter(include_in_schema=False)

# What each problem code from the connector's check means, said plainly before the connector's own words.
PROBLEM_TITLES = {
    "ok": "Connected",
    "not_configured": "Not set up",
    "unreachable": "CRM unreachable",
    "bad_credentials": "Bad credentials",
    "api_disabled": "API not enabled for the CRM user",
    "permission_missing": "A permission is missing",
    "field_missing": "Call-log field missing or not visible",
    "field_not_visible": "Call-log field not visible",
    "missing_credentials": "Not connected",
    "not_revoked": "Forgotten here, not revoked in the CRM",
}


def _fields(model: type[BaseModel]) -> list[dict[str, Any]]:
    """How to show each setting: text, number, select (an enum), lines (a list), pairs (key=value lines)."""
    found = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        origin = typing.get_origin(annotation)
        label = info.title or name.replace("_", " ").capitalize()
        field: dict[str, Any] = {
            "name": name,
            "label": label,
            "help": info.description or "",
            "required": info.is_required(),
        }
        if isinstance(annotation, type) and issubclass(annotation, Enum):
            field.update(kind="select", options=[m.value for m in annotation])
        elif annotation in (int, float):
            field["kind"] = "number"
        elif annotation is bool:
            field["kind"] = "checkbox"
        elif origin in (tuple, list):
            field["kind"] = "lines"
        elif origin is dict:
            field["kind"] = "pairs"
        else:
            field["kind"] = "text"
        default = None if info.is_required() else info.get_default(call_default_factory=True)
        field["default"] = default.value if isinstance(default, Enum) else default
        found.append(field)
    return found


def _shown(field: dict[str, Any], value: Any) -> Any:
    """A stored value as the form shows it."""
    if field["kind"] == "lines":
        return "\n".join(str(v) for v in value or ())
    if field["kind"] == "pairs":
        return "\n".join(f"{k}={v}" for k, v in (value or {}).items())
    return "" if value is None else value


def _read(fields: list[dict[str, Any]], form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    """The config from the form: blank optional settings take their defaults."""
    config: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in fields:
        key = f"config.{field['name']}"
        if field["kind"] == "checkbox":
            config[field["name"]] = form.get(key) == "on"
            continue
        raw = text(form, key) if field["kind"] not in ("lines", "pairs") else str(form.get(key, ""))
        if not raw.strip() and not field["required"]:
            continue
        if field["kind"] == "lines":
            config[field["name"]] = [line.strip() for line in raw.splitlines() if line.strip()]
        elif field["kind"] == "pairs":
            pairs: dict[str, str] = {}
            for line in (line for line in raw.splitlines() if line.strip()):
                k, sep, v = line.partition("=")
                if not sep or not k.strip():
                    errors[key] = f"write one key=value a line, not {line.strip()!r}"
                    break
                pairs[k.strip()] = v.strip()
            config[field["name"]] = pairs
        else:
            config[field["name"]] = raw
    return config, errors


def _credentials(plugin: AnyPlugin) -> list[dict[str, Any]]:
    """The credentials form: each field of the plugin's credentials model; secrets as password fields."""
    secret = plugin.secret_names()
    shown = []
    for name, info in plugin.credentials_model.model_fields.items():
        label = info.title or name.replace("_", " ").capitalize()
        shown.append({"name": name, "label": label, "help": info.description or "", "secret": name in secret})
    return shown


def _connectors(page: TenantPage, integration: Any) -> list[dict[str, Any]]:
    shown = []
    for crm, plugin in sorted(integration.connections.plugins.items(), key=lambda item: item[1].label):
        entry: dict[str, Any] = {
            "crm": crm,
            "label": plugin.label,
            "fields": _fields(plugin.config_model),
            "credentials": _credentials(plugin),
            "credentials_help": plugin.admin.credentials_help,
            "options": plugin.admin.option_labels,
            "saved": integration.connections.describe(page.tenant_id, crm),
        }
        shown.append(entry)
    return shown


def _render(
    page: TenantPage,
    *,
    values: dict[str, dict[str, Any]] | None = None,
    errors: dict[str, str] | None = None,
    problems: dict[str, list[dict[str, str]]] | None = None,
    editing: str = "",
) -> Response:
    integration = getattr(page.request.app.state, "crm_integration", None)
    if integration is None:
        return page.render("crm.html", section="crm", available=False)
    connectors = _connectors(page, integration)
    pop_settings, log_settings = integration.settings.stored(page.tenant_id)
    for entry in connectors:
        stored = (entry["saved"] or {}).get("config", {})
        given = (values or {}).get(entry["crm"])
        entry["values"] = {
            f["name"]: given.get(f["name"], "") if given is not None else _shown(f, stored.get(f["name"], f["default"]))
            for f in entry["fields"]
        }
    return page.render(
        "crm.html",
        422 if errors else 200,
        section="crm",
        available=True,
        connectors=connectors,
        labels={c["crm"]: c["label"] for c in connectors},
        redirect_uri=connect_redirect_uri(page),
        problems=problems or {},
        titles=PROBLEM_TITLES,
        editing=editing,
        errors=errors or {},
        screen_pop=pop_settings,
        auto_log=log_settings,
    )


async def _render_in_thread(page: TenantPage, **options: Any) -> Response:
    """The page reads each connection's stored settings: from an async handler, off the event loop."""
    return await run_in_threadpool(functools.partial(_render, page, **options))


@router.get("/admin/{tenant_id}/crm")
def crm_connection(page: TenantPage) -> Response:
    return _render(page)


CONNECTED_PATH = "/admin/crm/connected"


def connect_redirect_uri(page: Page) -> str:
    """Where the CRM sends the admin back after Connect: one URL for every tenant and CRM (register it in
    the CRM's OAuth client)."""
    public_url: str = page.svc.settings.effective_public_url()
    return public_url + CONNECTED_PATH


@router.post("/admin/{tenant_id}/crm/{crm}/connect")
def connect_crm(page: TenantPage, crm: str) -> Response:
    """Connect: to the CRM's sign-in as the integration user (authorization code with PKCE)."""
    integration = getattr(page.request.app.state, "crm_integration", None)
    if integration is None or crm not in integration.connections.plugins:
        return _render(page, errors={"form": f"{crm} cannot be set up on this server."}, editing=crm)
    try:
        url = integration.authorizations.start(page.tenant_id, crm, page.who.subject_id, connect_redirect_uri(page))
    except ConnectRefused as error:
        return _render(page, errors={"form": str(error)}, editing=crm)
    return RedirectResponse(url, 303)


@router.get(CONNECTED_PATH, dependencies=[rate_limited(ANONYMOUS)])  # the provider's redirect: no credential
async def crm_connected(
    request: Request, svc: ServicesDep, state: str = "", code: str = "", error: str = "", error_description: str = ""
) -> Response:
    """The CRM sends the admin back here: the code is traded for tokens and the integration user named."""
    integration = getattr(request.app.state, "crm_integration", None)
    pending = await asyncio.to_thread(integration.authorizations.take, state) if integration and state else None
    if integration is None or pending is None:
        raise PageRefused(
            400, "This sign-in is unknown or has expired (Connect waits 10 minutes). Press Connect again."
        )
    page = await tenant_page(pending.tenant_id, request, svc)
    if page.who.subject_id != pending.subject_id:
        raise PageRefused(403, "Another admin started this Connect. Press Connect yourself.")
    if error or not code:
        said = error_description or error or "no authorization code"
        return await _render_in_thread(
            page, errors={"form": f"The CRM did not connect ({said}). Press Connect to try again."}
        )
    try:
        await integration.authorizations.finish(pending, code, page.actor)
    except ConnectRefused as refused:
        return await _render_in_thread(page, errors={"form": str(refused)}, editing=pending.crm)
    return page.back("crm", "crm_connected")


@router.post("/admin/{tenant_id}/crm/{crm}/revoke")
async def revoke_crm(page: TenantPage, crm: str) -> Response:
    """Revoke: the integration user's refresh token is revoked at the CRM and forgotten here."""
    integration = getattr(page.request.app.state, "crm_integration", None)
    if integration is None or crm not in integration.connections.plugins:
        return await _render_in_thread(page, errors={"form": f"{crm} cannot be set up on this server."}, editing=crm)
    try:
        problem = await integration.authorizations.revoke(page.tenant_id, crm, page.actor)
    except ConnectRefused as error:
        return await _render_in_thread(page, errors={"form": str(error)}, editing=crm)
    if problem:
        return await _render_in_thread(page, problems={crm: [{"code": "not_revoked", "message": problem}]})
    return page.back("crm", "crm_revoked")


@router.post("/admin/{tenant_id}/crm/{crm}")
def save_crm_connection(page: TenantPage, crm: str) -> Response:
    integration = getattr(page.request.app.state, "crm_integration", None)
    plugin = integration.connections.plugins.get(crm) if integration is not None else None
    if integration is None or plugin is None:
        return _render(page, errors={"form": f"{crm} cannot be set up on this server."}, editing=crm)
    fields = _fields(plugin.config_model)
    config, errors = _read(fields, page.form)
    submitted = {f["name"]: str(page.form.get(f"config.{f['name']}", "")) for f in fields}
    for f in fields:
        if f["kind"] == "checkbox":
            submitted[f["name"]] = config.get(f["name"], False)
    secrets = {name: str(page.form.get(f"credentials.{name}", "")).strip() for name in plugin.credential_names()}
    if errors:
        return _render(page, values={crm: submitted}, errors=errors, editing=crm)
    try:
        normalized = integration.connections.validate(crm, config, None)
    except ValidationError as error:
        found = validation_errors(error)
        return _render(page, values={crm: submitted}, errors={f"config.{k}": m for k, m in found.items()}, editing=crm)
    except DestinationRefused as refused:
        return _render(page, values={crm: submitted}, errors={f"config.{refused.field}": refused.message}, editing=crm)
    saved = integration.connections.describe(page.tenant_id, crm)
    # "leave empty to keep": blanks keep the stored credentials; the first connection needs all of them
    given = {k: v for k, v in secrets.items() if v}
    keep = saved is not None and saved["has_credentials"]
    try:
        integration.connections.save(
            page.tenant_id,
            crm,
            normalized,
            given if (given or not keep) else None,
            time.time(),
            actor=page.actor,
            keep_missing_secrets=True,
        )
    except ValidationError as error:
        found = validation_errors(error)
        return _render(
            page, values={crm: submitted}, errors={f"credentials.{k}": m for k, m in found.items()}, editing=crm
        )
    except UnknownConnector as error:
        return _render(page, values={crm: submitted}, errors={"form": str(error)}, editing=crm)
    return page.back("crm", "crm_saved")


@router.post("/admin/{tenant_id}/crm/{crm}/test")
async def test_crm_connection(page: TenantPage, crm: str) -> Response:
    """Runs the connector's own check: unreachable, bad credentials, API not enabled, call-log field missing…"""
    integration = getattr(page.request.app.state, "crm_integration", None)
    found: list[dict[str, str]]
    try:
        connector = await integration.connections.get(page.tenant_id, crm) if integration else None
        if connector is None:
            label = integration.connections.label(crm) if integration else crm
            found = [{"code": "not_configured", "message": f"No {label} connection is saved for this tenant yet."}]
        else:
            found = [{"code": p.code, "message": p.message} for p in await connector.check_connection()]
            found = found or [{"code": "ok", "message": "Everything Callbridge needs is in place."}]
    except CrmError as error:
        found = [{"code": error.code or "error", "message": str(error)}]
    except ValidationError as error:  # settings saved by an older version that the connector now refuses
        found = [{"code": "invalid_settings", "message": "; ".join(validation_errors(error).values())}]
    return await _render_in_thread(page, problems={crm: found})
