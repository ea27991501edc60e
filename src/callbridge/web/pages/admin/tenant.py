"""The tenant's own settings: name, time zone, default phone region, allowed CRM origins."""

from __future__ import annotations

import zoneinfo

import phonenumbers
from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from callbridge.services.configuration import TenantSettings
from callbridge.web.api.schemas import TenantUpdate
from callbridge.web.pages.admin.common import (
    SERVICE_ERRORS,
    TenantPage,
    lines,
    service_errors,
    text,
    validation_errors,
)

router = APIRouter(include_in_schema=False)

TIME_ZONES = sorted(zoneinfo.available_timezones())
REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)


def _render(page: TenantPage, values: dict[str, object], errors: dict[str, str] | None = None) -> Response:
    return page.render(
        "tenant.html",
        422 if errors else 200,
        values=values,
        errors=errors or {},
        time_zones=TIME_ZONES,
        regions=REGIONS,
        section="",
    )


@router.get("/admin/{tenant_id}/")
def tenant_settings(page: TenantPage) -> Response:
    tenant = page.tenant
    assert tenant is not None
    values: dict[str, object] = {
        "name": tenant.name,
        "time_zone": tenant.time_zone,
        "phone_region": tenant.phone_region,
        "allowed_origins": list(tenant.allowed_origins),
    }
    return _render(page, values)


@router.post("/admin/{tenant_id}/")
def save_tenant_settings(page: TenantPage) -> Response:
    values: dict[str, object] = {
        "name": text(page.form, "name"),
        "time_zone": text(page.form, "time_zone"),
        "phone_region": text(page.form, "phone_region"),
        "allowed_origins": lines(text(page.form, "allowed_origins")),
    }
    try:
        body = TenantUpdate.model_validate(values)
        page.svc.configuration.update_tenant(
            TenantSettings(page.tenant_id, body.name, body.time_zone, body.phone_region, body.allowed_origins),
            actor=page.actor,
        )
    except ValidationError as error:
        return _render(page, values, validation_errors(error, values))
    except SERVICE_ERRORS as error:
        return _render(page, values, service_errors(error))
    return page.back("", "tenant_saved")
