"""Supervisor API: the live wallboard, agent timelines, historical reports and their CSV export.

Every route needs a supervisor or admin of the tenant; agents get 403. Dates are local days
(YYYY-MM-DD) in the tenant's time zone; `from` and `to` are inclusive and default to today.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field

from callbridge.reports.calendar import local_day
from callbridge.reports.csv_export import to_csv
from callbridge.reports.live import ReadWallboard, ReportsService
from callbridge.store.report_aggregates import rebuild
from callbridge.store.reports import Range, ReportStore, day_of
from callbridge.web.api.audit import actor_of
from callbridge.web.api.schemas import DB_INT_MAX
from callbridge.web.deps import ServicesDep, TenantAdminDep, TenantSupervisorDep
from callbridge.web.errors import ERROR_RESPONSES, InvalidField

router = APIRouter(prefix="/api/v1/tenants/{tenant_id}/reports", tags=["reports"], responses=ERROR_RESPONSES)

MAX_DAYS = 93
Format = Literal["json", "csv"]
DayQuery = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="a local day, YYYY-MM-DD")]


def reports_service(request: Request) -> ReportsService:
    found: ReportsService = request.app.state.reports
    return found


def _period(svc: ServicesDep, tenant_id: str, first: str | None, last: str | None) -> Range:
    tz = ReportStore(svc.engine).zone(tenant_id)
    today = local_day(svc.clock.now(), tz)
    try:
        start = day_of(first) if first else today
        end = day_of(last) if last else start
    except ValueError as error:
        raise InvalidField(f"not a calendar date: {error}", "from" if first else "to") from error
    if end < start:
        raise InvalidField("'to' is before 'from'", "to")
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidField(f"a report covers at most {MAX_DAYS} days", "to")
    return Range(start, end, tz)


def _csv(name: str, header: list[str], rows: list[list[Any]]) -> Response:
    return Response(
        to_csv(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _iso(at: float | None, period: Range) -> str:
    return "" if at is None else datetime.fromtimestamp(at, period.tz).isoformat(timespec="seconds")


def _known_tenant(svc: ServicesDep, tenant_id: str) -> None:
    if not svc.node.has_tenant(tenant_id):
        raise HTTPException(404, f"tenant {tenant_id!r} does not exist")


@router.get("/wallboard", summary="Live figures of every queue and agent (then follow wallboard.queue_stats events)")
async def wallboard(tenant_id: str, svc: ServicesDep, _who: TenantSupervisorDep) -> dict[str, Any]:
    _known_tenant(svc, tenant_id)
    found: dict[str, Any] = await svc.node.perform(tenant_id, ReadWallboard())
    return found


@router.get("/agents/{agent_id}/timeline", summary="One agent's statuses and interactions on a local day")
def agent_timeline(
    tenant_id: str, agent_id: str, svc: ServicesDep, _who: TenantSupervisorDep, day: DayQuery = None
) -> dict[str, Any]:
    period = _period(svc, tenant_id, day, day)
    found = ReportStore(svc.engine).agent_timeline(tenant_id, agent_id, period.first, period.tz, svc.clock.now())
    return {"time_zone": str(period.tz), **found}


AGENT_HEADER = [
    "agent_id", "agent", "team", "first_sign_in", "last_sign_out", "sign_ins",
    "break_s", "available_s", "working_offline_s", "busy_s", "wrap_up_s", "signed_in_s",
    "offers", "accepted", "missed", "handled_phone", "handled_chat", "handled_voicemail",
    "average_handle_s", "average_wrap_up_s",
]  # fmt: skip


@router.get("/agents", summary="Agent activity over a range of local days")
def agent_activity(
    tenant_id: str,
    svc: ServicesDep,
    _who: TenantSupervisorDep,
    first: Annotated[DayQuery, Query(alias="from")] = None,
    last: Annotated[DayQuery, Query(alias="to")] = None,
    team: str | None = None,
    agent_id: Annotated[list[str] | None, Query()] = None,
    format: Format = "json",  # noqa: A002 - the query parameter's name
) -> Any:
    period = _period(svc, tenant_id, first, last)
    rows = ReportStore(svc.engine).agent_activity(
        tenant_id, period, svc.clock.now(), agent_ids=set(agent_id) if agent_id else None, team=team or None
    )
    if format == "csv":
        return _csv(
            f"agent-activity-{period.first}-{period.last}",
            AGENT_HEADER,
            [
                [
                    r["agent_id"], r["display_name"], r["team"], _iso(r["first_sign_in_at"], period),
                    _iso(r["last_sign_out_at"], period), r["sign_ins"], *r["seconds"].values(), r["signed_in_seconds"],
                    r["offers"], r["accepted"], r["missed"], *r["handled"].values(),
                    r["average_handle_seconds"], r["average_wrap_up_seconds"],
                ]
                for r in rows
            ],
        )  # fmt: skip
    return {
        "from": period.first.isoformat(),
        "to": period.last.isoformat(),
        "time_zone": str(period.tz),
        "agents": rows,
    }


QUEUE_FIGURES = [
    "offered", "answered", "abandoned", "answered_in_sl", "abandoned_in_sl", "average_wait_seconds",
    "longest_wait_seconds", "service_level", "service_level_with_abandoned",
]  # fmt: skip


@router.get(
    "/queues",
    summary="Queue performance over a range of local days, by day and by hour",
    description="Every local day and hour of the range is listed, quiet ones with zeros; `start` and `end` (epoch "
    "seconds) bound the range. The CSV has a row per queue and `group` (total, day or hour), then the same rows "
    "for all queues together (queue_id empty).",
)
def queue_performance(
    tenant_id: str,
    svc: ServicesDep,
    _who: TenantSupervisorDep,
    first: Annotated[DayQuery, Query(alias="from")] = None,
    last: Annotated[DayQuery, Query(alias="to")] = None,
    queue_id: Annotated[list[str] | None, Query()] = None,
    format: Format = "json",  # noqa: A002
    group: Literal["total", "day", "hour"] = "day",
) -> Any:
    period = _period(svc, tenant_id, first, last)
    report = ReportStore(svc.engine).queue_performance(
        tenant_id,
        period,
        queue_ids=set(queue_id) if queue_id else None,
        hours_per_queue=True if format == "csv" and group == "hour" else None,
    )
    if format == "csv":
        rows: list[list[Any]] = []
        # each queue, then all queues together (what the page's charts draw), queue_id empty
        for q in [*report["queues"], {**report["all"], "queue_id": "", "name": "All queues"}]:
            if group == "total":
                rows.append([q["queue_id"], q["name"], "", *(q[k] for k in QUEUE_FIGURES)])
            elif group == "day":
                rows.extend([q["queue_id"], q["name"], d["day"], *(d[k] for k in QUEUE_FIGURES)] for d in q["by_day"])
            else:
                rows.extend(
                    [q["queue_id"], q["name"], h["label"], *(h[k] for k in QUEUE_FIGURES)] for h in q["by_hour"]
                )
        return _csv(
            f"queue-performance-{period.first}-{period.last}", ["queue_id", "queue", group, *QUEUE_FIGURES], rows
        )
    return {"from": period.first.isoformat(), "to": period.last.isoformat(), "time_zone": str(period.tz), **report}


SEARCH_HEADER = [
    "id", "created_at", "channel", "direction", "queue_id", "state", "from_address", "to_address", "agent_id",
    "connected_at", "ended_at", "completed_at", "disposition", "end_reason",
]  # fmt: skip


@router.get("/interactions", summary="Search interactions by caller, agent, queue, channel, disposition and date")
def search(
    tenant_id: str,
    svc: ServicesDep,
    _who: TenantSupervisorDep,
    first: Annotated[DayQuery, Query(alias="from")] = None,
    last: Annotated[DayQuery, Query(alias="to")] = None,
    caller: Annotated[str | None, Query(max_length=100)] = None,
    agent_id: str | None = None,
    queue_id: str | None = None,
    channel: Literal["phone", "chat", "voicemail"] | None = None,
    disposition: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=DB_INT_MAX)] = 0,
    format: Format = "json",  # noqa: A002
) -> Any:
    period = _period(svc, tenant_id, first, last)
    rows = ReportStore(svc.engine).search_interactions(
        tenant_id,
        period,
        caller=caller,
        agent_id=agent_id,
        queue_id=queue_id,
        channel=channel,
        disposition=disposition,
        limit=limit,
        offset=offset,
    )
    if format == "csv":
        times = {"created_at", "connected_at", "ended_at", "completed_at"}
        return _csv(
            f"interactions-{period.first}-{period.last}",
            SEARCH_HEADER,
            [[_iso(r[k], period) if k in times else r[k] for k in SEARCH_HEADER] for r in rows],
        )
    return {
        "from": period.first.isoformat(),
        "to": period.last.isoformat(),
        "time_zone": str(period.tz),
        "interactions": rows,
    }


class TeamIn(BaseModel):
    team: str = Field(max_length=100, description="the agent's team; empty removes it")


@router.get("/teams", summary="Each agent's team")
def get_teams(tenant_id: str, svc: ServicesDep, _who: TenantSupervisorDep) -> dict[str, str]:
    return ReportStore(svc.engine).teams(tenant_id)


@router.put("/teams/{agent_id}", summary="Puts an agent in a team (admins)")
def put_team(tenant_id: str, agent_id: str, body: TeamIn, svc: ServicesDep, who: TenantAdminDep) -> dict[str, str]:
    actor = actor_of(svc.engine, who)
    try:
        return ReportStore(svc.engine).set_team(tenant_id, agent_id, body.team.strip(), actor)
    except LookupError as missing:
        raise HTTPException(404, str(missing)) from missing


class ThresholdsIn(BaseModel):
    """A queue's wallboard thresholds: a figure at or beyond amber (red) turns its tile amber (red). Leave a
    threshold out (or null) to have none. Service level is in percent and alerts when it falls *below*."""

    model_config = {"extra": "forbid"}

    waiting_amber: int | None = Field(default=None, ge=1, le=100_000, description="interactions waiting")
    waiting_red: int | None = Field(default=None, ge=1, le=100_000)
    longest_wait_amber_seconds: int | None = Field(default=None, ge=1, le=86_400)
    longest_wait_red_seconds: int | None = Field(default=None, ge=1, le=86_400)
    service_level_amber_percent: int | None = Field(default=None, ge=0, le=100, description="alerts below this")
    service_level_red_percent: int | None = Field(default=None, ge=0, le=100)


def _check_order(body: ThresholdsIn) -> None:
    for amber, red, word in (
        (body.waiting_amber, body.waiting_red, "waiting"),
        (body.longest_wait_amber_seconds, body.longest_wait_red_seconds, "longest_wait"),
    ):
        if amber is not None and red is not None and red < amber:
            field = "waiting_red" if word == "waiting" else "longest_wait_red_seconds"
            raise InvalidField("the red threshold must be at least the amber one", field)
    amber_sl, red_sl = body.service_level_amber_percent, body.service_level_red_percent
    if amber_sl is not None and red_sl is not None and red_sl > amber_sl:
        raise InvalidField(
            "the red service level must be at most the amber one (lower is worse)", "service_level_red_percent"
        )


@router.get("/thresholds", summary="Each queue's wallboard thresholds (queues without any are left out)")
def get_thresholds(tenant_id: str, svc: ServicesDep, _who: TenantSupervisorDep) -> dict[str, dict[str, int | None]]:
    return ReportStore(svc.engine).thresholds(tenant_id)


@router.put("/thresholds/{queue_id}", summary="Sets a queue's wallboard thresholds (supervisors and admins)")
def put_thresholds(
    tenant_id: str, queue_id: str, body: ThresholdsIn, svc: ServicesDep, who: TenantSupervisorDep
) -> dict[str, int | None]:
    _check_order(body)
    values = body.model_dump()
    actor = actor_of(svc.engine, who)
    try:
        ReportStore(svc.engine).set_thresholds(tenant_id, queue_id, values, actor)
    except LookupError as missing:
        raise HTTPException(404, str(missing)) from missing
    return values


@router.post(
    "/rebuild", status_code=204, summary="Recomputes the aggregates from the logs (admins; after a time-zone change)"
)
async def rebuild_aggregates(tenant_id: str, svc: ServicesDep, _who: TenantAdminDep) -> Response:
    _known_tenant(svc, tenant_id)
    await asyncio.to_thread(rebuild, svc.engine, tenant_id)
    return Response(status_code=204)
