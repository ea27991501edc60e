"""Historical reports, read from the pre-aggregated tables (and, for today's open statuses, the live
agent rows), over a range of local days in the tenant's time zone."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, Select, func, or_, select

from callbridge.domain.audit import Actor
from callbridge.phones import stored_forms
from callbridge.reports.calendar import day_bounds, day_start, hour_label, hour_start, local_day, zone
from callbridge.reports.facts import SLOT_SECONDS, STATUS_COLUMNS
from callbridge.store.audit import record
from callbridge.store.report_tables import (
    AGENT_DAY_SUMS,
    QUEUE_SLOT_SUMS,
    THRESHOLD_FIELDS,
    report_agent_days,
    report_agent_teams,
    report_queue_slots,
    report_queue_thresholds,
)
from callbridge.store.tables import agent_status_events, agents, interaction_events, interactions, queues, tenants

STATUSES = tuple(STATUS_COLUMNS)


@dataclass(frozen=True, slots=True)
class Range:
    first: date
    last: date  # inclusive
    tz: ZoneInfo

    @property
    def bounds(self) -> tuple[float, float]:
        return day_bounds(self.first, self.last, self.tz)


def tenant_zone(connection: Connection, tenant_id: str) -> ZoneInfo:
    name = connection.execute(select(tenants.c.time_zone).where(tenants.c.id == tenant_id)).scalar()
    return zone(name or "UTC")


def tenant_region(connection: Connection, tenant_id: str) -> str:
    """The region that numbers without a country code are read in (the tenant's `phone_region`)."""
    region = connection.execute(select(tenants.c.phone_region).where(tenants.c.id == tenant_id)).scalar()
    return str(region or "US")


def teams(connection: Connection, tenant_id: str) -> dict[str, str]:
    rows = connection.execute(
        select(report_agent_teams.c.agent_id, report_agent_teams.c.team).where(
            report_agent_teams.c.tenant_id == tenant_id
        )
    )
    return {r.agent_id: r.team for r in rows}


def set_team(connection: Connection, tenant_id: str, agent_id: str, team: str) -> str:
    """Puts an agent in a team (an empty team removes it); returns the team before. LookupError: no such agent."""
    exists = connection.execute(
        select(agents.c.id).where(agents.c.tenant_id == tenant_id, agents.c.id == agent_id)
    ).first()
    if exists is None:
        raise LookupError(f"agent {agent_id!r} does not exist")
    t = report_agent_teams
    before = connection.execute(select(t.c.team).where(t.c.tenant_id == tenant_id, t.c.agent_id == agent_id)).scalar()
    connection.execute(t.delete().where(t.c.tenant_id == tenant_id, t.c.agent_id == agent_id))
    if team:
        connection.execute(t.insert().values(tenant_id=tenant_id, agent_id=agent_id, team=team))
    return str(before or "")


def set_thresholds(
    connection: Connection, tenant_id: str, queue_id: str, values: Mapping[str, int | None]
) -> dict[str, int | None]:
    """Sets a queue's wallboard thresholds (all None removes them); returns those before. LookupError: no such
    queue."""
    exists = connection.execute(
        select(queues.c.id).where(queues.c.tenant_id == tenant_id, queues.c.id == queue_id)
    ).first()
    if exists is None:
        raise LookupError(f"queue {queue_id!r} does not exist")
    before = thresholds(connection, tenant_id).get(queue_id, dict.fromkeys(THRESHOLD_FIELDS))
    t = report_queue_thresholds
    connection.execute(t.delete().where(t.c.tenant_id == tenant_id, t.c.queue_id == queue_id))
    if any(v is not None for v in values.values()):
        connection.execute(t.insert().values(tenant_id=tenant_id, queue_id=queue_id, **values))
    return before


def thresholds(connection: Connection, tenant_id: str) -> dict[str, dict[str, int | None]]:
    """Each queue's wallboard thresholds (queues without any are left out)."""
    t = report_queue_thresholds
    rows = connection.execute(select(t).where(t.c.tenant_id == tenant_id))
    return {r.queue_id: {name: getattr(r, name) for name in THRESHOLD_FIELDS} for r in rows}


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _avg(total: float, count: float) -> float | None:
    return round(total / count, 1) if count else None


def service_levels(sums: dict[str, float]) -> tuple[float | None, float | None]:
    """(answered in SL / answered, (answered in SL + abandoned in SL) / (answered + abandoned))."""
    sl = _ratio(sums.get("answered_in_sl", 0.0), sums.get("answered", 0.0))
    sl2 = _ratio(
        sums.get("answered_in_sl", 0.0) + sums.get("abandoned_in_sl", 0.0),
        sums.get("answered", 0.0) + sums.get("abandoned", 0.0),
    )
    return sl, sl2


# ------------------------------------------------------------------ agent activity


def agent_activity(
    connection: Connection,
    tenant_id: str,
    period: Range,
    now: float,
    *,
    agent_ids: Collection[str] | None = None,
    team: str | None = None,
) -> list[dict[str, Any]]:
    """One row per agent who did anything in the range (or is signed in now within it)."""
    d = report_agent_days.c
    sums = [func.sum(d[name]).label(name) for name in AGENT_DAY_SUMS]
    query = (
        select(
            d.agent_id, *sums, func.min(d.first_sign_in_at).label("first"), func.max(d.last_sign_out_at).label("last")
        )
        .where(d.tenant_id == tenant_id, d.day >= period.first.isoformat(), d.day <= period.last.isoformat())
        .group_by(d.agent_id)
    )
    found: dict[str, dict[str, Any]] = {}
    for summed in connection.execute(query).mappings():
        found[summed["agent_id"]] = dict(summed)
    start, end = period.bounds
    # the status each signed-in agent is in now has not been logged yet: count it up to now
    live = connection.execute(
        select(agents.c.id, agents.c.status, agents.c.status_since).where(
            agents.c.tenant_id == tenant_id, agents.c.status != "logged_out"
        )
    )
    for current in live:
        column = STATUS_COLUMNS.get(current.status)
        lo, hi = max(current.status_since, start), min(now, end)
        if column is None or hi <= lo:
            continue
        entry = found.setdefault(
            current.id, {"agent_id": current.id, **dict.fromkeys(AGENT_DAY_SUMS, 0.0), "first": None, "last": None}
        )
        entry[column] = (entry[column] or 0.0) + (hi - lo)
    names = {
        r.id: r.display_name
        for r in connection.execute(select(agents.c.id, agents.c.display_name).where(agents.c.tenant_id == tenant_id))
    }
    team_of = teams(connection, tenant_id)
    out = []
    for agent_id in sorted(found, key=lambda a: (str(names.get(a, a)).lower(), a)):
        if agent_ids is not None and agent_id not in agent_ids:
            continue
        if team is not None and team_of.get(agent_id) != team:
            continue
        row: dict[str, Any] = found[agent_id]
        handled = sum(row[c] or 0.0 for c in ("handled_phone", "handled_chat", "handled_voicemail"))
        out.append(
            {
                "agent_id": agent_id,
                "display_name": names.get(agent_id, agent_id),
                "team": team_of.get(agent_id, ""),
                "first_sign_in_at": row["first"],
                "last_sign_out_at": row["last"],
                "sign_ins": int(row["sign_ins"] or 0),
                "seconds": {s: round(row[STATUS_COLUMNS[s]] or 0.0, 1) for s in STATUSES},
                "signed_in_seconds": round(sum(row[STATUS_COLUMNS[s]] or 0.0 for s in STATUSES), 1),
                "offers": int(row["offers"] or 0),
                "accepted": int(row["accepted"] or 0),
                "missed": int(row["missed"] or 0),
                "handled": {
                    "phone": int(row["handled_phone"] or 0),
                    "chat": int(row["handled_chat"] or 0),
                    "voicemail": int(row["handled_voicemail"] or 0),
                },
                "average_handle_seconds": _avg(row["handle_s"] or 0.0, handled),
                "average_wrap_up_seconds": _avg(row["after_work_s"] or 0.0, handled),
            }
        )
    return out


# ---------------------------------------------------------------- queue performance


def _queue_figures(sums: dict[str, float], max_wait: float) -> dict[str, Any]:
    sl, sl2 = service_levels(sums)
    waits = sums.get("answer_wait_s", 0.0) + sums.get("abandon_wait_s", 0.0)
    left = sums.get("answered", 0.0) + sums.get("abandoned", 0.0)
    return {
        "offered": int(sums.get("offered", 0.0)),
        "answered": int(sums.get("answered", 0.0)),
        "abandoned": int(sums.get("abandoned", 0.0)),
        "answered_in_sl": int(sums.get("answered_in_sl", 0.0)),
        "abandoned_in_sl": int(sums.get("abandoned_in_sl", 0.0)),
        "average_wait_seconds": _avg(waits, left),
        "average_answer_seconds": _avg(sums.get("answer_wait_s", 0.0), sums.get("answered", 0.0)),
        "longest_wait_seconds": round(max_wait, 1),
        "service_level": sl,
        "service_level_with_abandoned": sl2,
    }


FIELDS = (*QUEUE_SLOT_SUMS, "max_wait_s")
MAX_INDEX = len(QUEUE_SLOT_SUMS)


def _add(buckets: dict[Any, list[float]], key: Any, values: tuple[float, ...]) -> None:
    target = buckets.get(key)
    if target is None:
        buckets[key] = list(values)
        return
    for n in range(MAX_INDEX):
        target[n] += values[n]
    if values[MAX_INDEX] > target[MAX_INDEX]:
        target[MAX_INDEX] = values[MAX_INDEX]


def _figures(values: list[float] | None) -> dict[str, Any]:
    sums = dict(zip(FIELDS, values, strict=True)) if values is not None else {}
    return _queue_figures(sums, sums.get("max_wait_s", 0.0))


def _offset_segments(period: Range) -> list[tuple[float, float, int]]:
    """The range cut where the zone's UTC offset changes: [(start, end, offset seconds)]."""
    start, end = period.bounds

    def offset_at(at: float) -> int:
        found = datetime.fromtimestamp(at, period.tz).utcoffset()
        return int(found.total_seconds()) if found is not None else 0

    segments: list[tuple[float, float, int]] = []
    seg_start, current = start, offset_at(start)
    at = start
    while at < end:
        step_end = min(at + 3600, end)
        if offset_at(step_end - 1) != current:  # a change inside this hour: find it to the 15 minutes
            cut = at
            while offset_at(cut) == current:
                cut += SLOT_SECONDS
            segments.append((seg_start, cut, current))
            seg_start, current = cut, offset_at(cut)
        at = step_end
    segments.append((seg_start, end, current))
    return segments


def queue_performance(
    connection: Connection,
    tenant_id: str,
    period: Range,
    *,
    queue_ids: Collection[str] | None = None,
    hours_per_queue: bool | None = None,
) -> dict[str, Any]:
    """Per queue: totals and by local day (and by local hour when `hours_per_queue`, by default when
    queues are chosen); all queues together: totals, by local day and by local hour. Every day and every
    hour of the range is there, the quiet ones with zeros; `start` and `end` bound the range.

    The database does the summing: by queue and local day (one query per stretch of constant UTC
    offset, where a local day is `(slot + offset) // 86400`), and by local hour for all queues together
    (grouped by 15-minute slot, which every zone's hours are made of)."""
    start, end = period.bounds
    s = report_queue_slots.c
    sums = (*(func.sum(s[n]) for n in QUEUE_SLOT_SUMS), func.max(s.max_wait_s))
    in_range = [s.tenant_id == tenant_id, s.slot >= int(start), s.slot < end]
    if queue_ids is not None:
        in_range.append(s.queue_id.in_(list(queue_ids)))
    if hours_per_queue is None:
        hours_per_queue = queue_ids is not None
    tz = period.tz
    epoch = date(1970, 1, 1).toordinal()
    queue_total: dict[str, list[float]] = {}
    queue_day: dict[tuple[str, str], list[float]] = {}
    for seg_start, seg_end, offset in _offset_segments(period):
        local_days = ((s.slot + offset) // 86400).label("local_day")
        query = (
            select(s.queue_id, local_days, *sums)
            .where(*in_range, s.slot >= int(seg_start), s.slot < seg_end)
            .group_by(s.queue_id, local_days)
        )
        for row in connection.execute(query):
            values = tuple(float(v or 0.0) for v in row[2:])
            day = date.fromordinal(epoch + int(row[1])).isoformat()
            _add(queue_total, row[0], values)
            _add(queue_day, (row[0], day), values)
    all_hour: dict[float, list[float]] = {}
    queue_hour: dict[tuple[str, float], list[float]] = {}
    hour_of: dict[int, float] = {}
    keys = (s.queue_id, s.slot) if hours_per_queue else (s.slot,)
    for row in connection.execute(select(*keys, *sums).where(*in_range).group_by(*keys)):
        slot = int(row[len(keys) - 1])
        values = tuple(float(v or 0.0) for v in row[len(keys) :])
        hour = hour_of.get(slot)
        if hour is None:
            hour = hour_of[slot] = hour_start(slot, tz)
        _add(all_hour, hour, values)
        if hours_per_queue:
            _add(queue_hour, (row[0], hour), values)
    all_total: dict[None, list[float]] = {}
    all_day: dict[str, list[float]] = {}
    for hour, summed in all_hour.items():
        _add(all_total, None, tuple(summed))
        _add(all_day, local_day(hour, tz).isoformat(), tuple(summed))
    queue_rows = connection.execute(
        select(queues.c.id, queues.c.name, queues.c.channel, queues.c.service_level_seconds).where(
            queues.c.tenant_id == tenant_id
        )
    ).all()
    days = [(period.first + timedelta(days=n)).isoformat() for n in range((period.last - period.first).days + 1)]
    day_starts = {day: day_start(date.fromisoformat(day), tz) for day in days}
    every_hour = local_hours(period)
    labels = {hour: hour_label(hour, tz) for hour in every_hour}

    def hours(buckets: dict[float, list[float]]) -> list[dict[str, Any]]:
        return [{"start": h, "label": labels[h], **_figures(buckets.get(h))} for h in every_hour]

    def by_day(buckets: Mapping[str, list[float] | None]) -> list[dict[str, Any]]:
        return [{"day": day, "start": day_starts[day], **_figures(buckets.get(day))} for day in days]

    out = []
    for q in sorted(queue_rows, key=lambda r: str(r.name).lower()):
        if queue_ids is not None and q.id not in queue_ids:
            continue
        entry: dict[str, Any] = {
            "queue_id": q.id,
            "name": q.name,
            "channel": q.channel,
            "service_level_seconds": q.service_level_seconds,
            **_figures(queue_total.get(q.id)),
            "by_day": by_day({day: queue_day.get((q.id, day)) for day in days}),
        }
        if hours_per_queue:
            entry["by_hour"] = hours({h: v for (qid, h), v in queue_hour.items() if qid == q.id})
        out.append(entry)
    whole = {
        **_figures(all_total.get(None)),
        "by_day": by_day(all_day),
        "by_hour": hours(all_hour),
    }
    return {"start": start, "end": end, "queues": out, "all": whole}


def local_hours(period: Range) -> list[float]:
    """Every local hour of the range, as the epoch second it begins (at the autumn change the repeated
    hour is two hours; in spring the skipped one is none), so a report shows the quiet hours too."""
    start, end = period.bounds
    found: list[float] = []
    at = start
    while at < end:  # every zone's hours are made of 15-minute slots
        hour = hour_start(at, period.tz)
        if not found or hour != found[-1]:
            found.append(hour)
        at += SLOT_SECONDS
    return found


def queue_today(connection: Connection, tenant_id: str, tz: ZoneInfo, now: float) -> dict[str, dict[str, Any]]:
    """Today's (local) counters per queue: offered, answered, abandoned, service levels."""
    today = local_day(now, tz)
    start, end = day_bounds(today, today, tz)
    s = report_queue_slots.c
    rows = connection.execute(
        select(
            s.queue_id, *(func.sum(s[n]).label(n) for n in QUEUE_SLOT_SUMS), func.max(s.max_wait_s).label("max_wait_s")
        )
        .where(s.tenant_id == tenant_id, s.slot >= int(start), s.slot < end)
        .group_by(s.queue_id)
    ).mappings()
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        sums = {n: float(row[n] or 0.0) for n in QUEUE_SLOT_SUMS}
        out[row["queue_id"]] = {"day": today.isoformat(), **_queue_figures(sums, float(row["max_wait_s"] or 0.0))}
    return out


# ------------------------------------------------------------------------ timeline


def agent_timeline(
    connection: Connection, tenant_id: str, agent_id: str, day: date, tz: ZoneInfo, now: float
) -> dict[str, Any]:
    """The agent's statuses (cut to the day) and the interactions they were offered or handled that day."""
    start, end = day_bounds(day, day, tz)
    e = agent_status_events.c
    rows = connection.execute(
        select(e.status, e.reason, e.at, e.previous_status, e.previous_since)
        .where(e.tenant_id == tenant_id, e.agent_id == agent_id, e.at >= start)
        .order_by(e.at, e.id)
        .limit(5000)
    ).all()
    segments: list[dict[str, Any]] = []
    reasons: dict[float, str] = {}
    for row in rows:
        reasons[row.at] = row.reason
        if row.previous_since < end:
            segments.append(
                _segment(
                    row.previous_status, reasons.get(row.previous_since, ""), row.previous_since, row.at, start, end
                )
            )
        if row.at >= end:
            break
    else:
        live = connection.execute(
            select(agents.c.status, agents.c.status_reason, agents.c.status_since).where(
                agents.c.tenant_id == tenant_id, agents.c.id == agent_id
            )
        ).first()
        if live is not None and live.status_since < min(now, end):
            reason = live.status_reason
            segments.append(
                _segment(live.status, reason, live.status_since, min(now, end), start, end) | {"open": True}
            )
    segments = [s for s in segments if s["seconds"] > 0 and s["status"] != "logged_out"]
    ie = interaction_events.c
    events = connection.execute(
        select(ie.interaction_id, ie.type, ie.at, ie.detail)
        .where(ie.tenant_id == tenant_id, ie.agent_id == agent_id, ie.at >= start, ie.at < end)
        .order_by(ie.at, ie.id)
        .limit(5000)
    ).all()
    by_interaction: dict[str, dict[str, Any]] = {}
    for ev in events:
        item = by_interaction.setdefault(ev.interaction_id, {"interaction_id": ev.interaction_id, "events": []})
        detail = ev.detail or {}
        item["events"].append(
            {"type": ev.type, "at": ev.at, **({"outcome": detail["outcome"]} if "outcome" in detail else {})}
        )
    if by_interaction:
        i = interactions.c
        for found_row in connection.execute(
            select(
                i.id, i.channel, i.direction, i.queue_id, i.from_address, i.to_address, i.state, i.disposition
            ).where(i.tenant_id == tenant_id, i.id.in_(list(by_interaction)))
        ):
            by_interaction[found_row.id].update(
                channel=found_row.channel,
                direction=found_row.direction,
                queue_id=found_row.queue_id,
                from_address=found_row.from_address,
                to_address=found_row.to_address,
                state=found_row.state,
                disposition=found_row.disposition,
            )
    return {
        "agent_id": agent_id,
        "day": day.isoformat(),
        "start": start,
        "end": end,
        "statuses": segments,
        "interactions": sorted(by_interaction.values(), key=lambda x: x["events"][0]["at"]),
    }


def _segment(status: str, reason: str, since: float, until: float, start: float, end: float) -> dict[str, Any]:
    lo, hi = max(since, start), min(until, end)
    return {"status": status, "reason": reason, "from": lo, "to": hi, "seconds": round(max(0.0, hi - lo), 3)}


# -------------------------------------------------------------------------- search


@dataclass(frozen=True, slots=True)
class SearchFilter:
    caller: str | None = None
    agent_id: str | None = None
    queue_id: str | None = None
    channel: str | None = None
    disposition: str | None = None
    region: str = "US"  # the tenant's phone_region: how a caller typed without a country code is read


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_query(tenant_id: str, period: Range, f: SearchFilter) -> Select[Any]:
    start, end = period.bounds
    i = interactions.c
    query = select(
        i.id,
        i.channel,
        i.direction,
        i.queue_id,
        i.state,
        i.from_address,
        i.to_address,
        i.agent_id,
        i.created_at,
        i.connected_at,
        i.ended_at,
        i.completed_at,
        i.disposition,
        i.end_reason,
        i.enqueued_at,
    ).where(i.tenant_id == tenant_id, i.created_at >= start, i.created_at < end)
    if f.caller:
        # a number matches in any format it was stored in (its dial digits); other text (an e-mail, part
        # of a number) matches the addresses as written
        pattern = f"%{_escape_like(f.caller)}%"
        matches = [i.from_address.like(pattern, escape="\\"), i.to_address.like(pattern, escape="\\")]
        forms = stored_forms(f.caller, f.region)
        if forms:
            matches += [i.from_digits.in_(forms), i.to_digits.in_(forms)]
        query = query.where(or_(*matches))
    if f.agent_id:
        query = query.where(i.agent_id == f.agent_id)
    if f.queue_id:
        query = query.where(i.queue_id == f.queue_id)
    if f.channel:
        query = query.where(i.channel == f.channel)
    if f.disposition:
        query = query.where(func.lower(i.disposition) == f.disposition.lower())
    return query.order_by(i.created_at.desc(), i.id)


def search_interactions(
    connection: Connection, tenant_id: str, period: Range, f: SearchFilter, *, limit: int = 100, offset: int = 0
) -> list[dict[str, Any]]:
    rows = connection.execute(search_query(tenant_id, period, f).limit(limit).offset(offset)).mappings()
    return [dict(r) for r in rows]


def day_of(text: str) -> date:
    return datetime.strptime(text, "%Y-%m-%d").date()  # noqa: DTZ007 - a calendar date, no time


# ------------------------------------------------------------------------ the reports' store


class ReportStore:
    """The reports' reads and the changes of teams and thresholds, each in a transaction of its own. Sync: call
    it from a worker thread (a sync route, or `asyncio.to_thread`)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def zone(self, tenant_id: str) -> ZoneInfo:
        with self.engine.connect() as connection:
            return tenant_zone(connection, tenant_id)

    def agent_timeline(self, tenant_id: str, agent_id: str, day: date, tz: ZoneInfo, now: float) -> dict[str, Any]:
        with self.engine.connect() as connection:
            return agent_timeline(connection, tenant_id, agent_id, day, tz, now)

    def agent_activity(
        self,
        tenant_id: str,
        period: Range,
        now: float,
        *,
        agent_ids: Collection[str] | None = None,
        team: str | None = None,
    ) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            return agent_activity(connection, tenant_id, period, now, agent_ids=agent_ids, team=team)

    def queue_performance(
        self,
        tenant_id: str,
        period: Range,
        *,
        queue_ids: Collection[str] | None = None,
        hours_per_queue: bool | None = None,
    ) -> dict[str, Any]:
        with self.engine.connect() as connection:
            return queue_performance(
                connection, tenant_id, period, queue_ids=queue_ids, hours_per_queue=hours_per_queue
            )

    def search_interactions(
        self,
        tenant_id: str,
        period: Range,
        *,
        caller: str | None = None,
        agent_id: str | None = None,
        queue_id: str | None = None,
        channel: str | None = None,
        disposition: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """A caller is read in the tenant's phone region."""
        with self.engine.connect() as connection:
            region = tenant_region(connection, tenant_id)
            f = SearchFilter(caller, agent_id, queue_id, channel, disposition, region)
            return search_interactions(connection, tenant_id, period, f, limit=limit, offset=offset)

    def teams(self, tenant_id: str) -> dict[str, str]:
        with self.engine.connect() as connection:
            return teams(connection, tenant_id)

    def set_team(self, tenant_id: str, agent_id: str, team: str, actor: Actor) -> dict[str, str]:
        """Puts an agent in a team (empty: none), audited; returns every agent's team. LookupError: no such
        agent."""
        with self.engine.begin() as connection:
            before = set_team(connection, tenant_id, agent_id, team)
            record(
                connection,
                tenant_id=tenant_id,
                actor=actor,
                action="team.updated",
                target_type="agent_team",
                target_id=agent_id,
                before={"team": before},
                after={"team": team},
            )
            return teams(connection, tenant_id)

    def thresholds(self, tenant_id: str) -> dict[str, dict[str, int | None]]:
        with self.engine.connect() as connection:
            return thresholds(connection, tenant_id)

    def set_thresholds(self, tenant_id: str, queue_id: str, values: Mapping[str, int | None], actor: Actor) -> None:
        """Sets a queue's wallboard thresholds, audited. LookupError: no such queue."""
        with self.engine.begin() as connection:
            before = set_thresholds(connection, tenant_id, queue_id, values)
            record(
                connection,
                tenant_id=tenant_id,
                actor=actor,
                action="wallboard_thresholds.updated",
                target_type="queue",
                target_id=queue_id,
                before=before,
                after=values,
            )

    def today(self, tenant_id: str, now: float) -> tuple[str, dict[str, dict[str, Any]]]:
        """The tenant's local day and today's counters per queue."""
        with self.engine.connect() as connection:
            tz = tenant_zone(connection, tenant_id)
            return local_day(now, tz).isoformat(), queue_today(connection, tenant_id, tz, now)

    def wallboard_counters(
        self, tenant_id: str, now: float
    ) -> tuple[str, dict[str, dict[str, Any]], dict[str, str], dict[str, dict[str, int | None]]]:
        """What the wallboard starts from besides the live state: the day, today's counters, teams, thresholds."""
        day, today = self.today(tenant_id, now)
        with self.engine.connect() as connection:
            return day, today, teams(connection, tenant_id), thresholds(connection, tenant_id)
