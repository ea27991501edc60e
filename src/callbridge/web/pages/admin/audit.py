"""The audit log page: who changed what and when, filtered by actor, target and date."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.responses import Response

from callbridge.services.audit import list_entries, target_types
from callbridge.web.api.schemas import DB_INT_MAX
from callbridge.web.pages.admin.common import TenantPage

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50


def _day_start(value: str, zone: ZoneInfo) -> float | None:
    """Midnight of an ISO date (YYYY-MM-DD) in the tenant's time zone, or None if blank; ValueError if bad."""
    if not value:
        return None
    return datetime.combine(date.fromisoformat(value), time(), zone).timestamp()


@router.get("/admin/{tenant_id}/audit")
def audit_page(
    page: TenantPage,
    actor: str = "",
    target_type: str = "",
    target_id: str = "",
    since: str = "",
    until: str = "",
    before_id: Annotated[int | None, Query(ge=1, le=DB_INT_MAX)] = None,
) -> Response:
    assert page.tenant is not None
    zone = ZoneInfo(page.tenant.time_zone)
    filters = {"actor": actor, "target_type": target_type, "target_id": target_id, "since": since, "until": until}
    errors: dict[str, str] = {}
    start = end = None
    try:
        start = _day_start(since, zone)
    except ValueError:
        errors["since"] = "a date like 2025-01-31"
    try:
        end_day = _day_start(until, zone)
        end = None if end_day is None else (datetime.fromtimestamp(end_day, zone) + timedelta(days=1)).timestamp()
    except ValueError:
        errors["until"] = "a date like 2025-01-31"
    if start is not None and end is not None and end <= start:
        errors["until"] = "must be on or after the first day"
    entries = (
        []
        if errors
        else list_entries(
            page.svc.engine,
            page.tenant_id,
            actor=actor,
            target_type=target_type,
            target_id=target_id,
            since=start,
            until=end,
            before_id=before_id,
            limit=PAGE_SIZE,
        )
    )
    return page.render(
        "audit.html",
        422 if errors else 200,
        section="audit",
        entries=entries,
        filters=filters,
        errors=errors,
        target_types=target_types(page.svc.engine, page.tenant_id),
        more=len(entries) == PAGE_SIZE,
    )
