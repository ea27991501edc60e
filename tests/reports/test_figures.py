"""Report figures against hand-computed ones: intervals across midnight and both 2026 DST changes
in New York (2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from callbridge.reports.calendar import split_by_day
from callbridge.store.database import make_engine, upgrade
from callbridge.store.report_aggregates import rebuild
from callbridge.store.report_tables import report_agent_days
from callbridge.store.reports import (
    Range,
    SearchFilter,
    agent_activity,
    agent_timeline,
    queue_performance,
    search_interactions,
)
from tests.reports.fixtures import NY, Log, ny

LATER = ny("2026-12-01 00:00")  # "now": long after the fixtures


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'reports.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def spring(log: Log) -> None:
    log.status("a1", "break", ny("2026-03-07 22:00"), "signed_in")
    log.status("a1", "available", ny("2026-03-07 23:30"))
    log.status("a1", "busy", ny("2026-03-08 01:30"))
    log.status("a1", "wrap_up", ny("2026-03-08 03:30"))  # one real hour after 01:30 EST
    log.status("a1", "available", ny("2026-03-08 03:40"))
    log.status("a1", "logged_out", ny("2026-03-08 04:00"))
    log.answered_call(
        "i1", "a1", "sales", "phone",
        queued=ny("2026-03-08 01:29:45"), accepted=ny("2026-03-08 01:30"),
        ended=ny("2026-03-08 03:30"), done=ny("2026-03-08 03:40"),
        from_address="+12125550100", disposition="Sale",
    )  # fmt: skip
    # a chat offered to a2, not answered in time, back in the queue, then the customer leaves
    queued = ny("2026-03-08 01:00")
    log.interaction("i2", "chat", "support", queued, state="abandoned", from_address="=cmd|' /C calc'!A0")
    log.event("i2", "created", queued, queue_id="support", channel="chat", direction="inbound")
    log.event("i2", "queued", queued, queue_id="support", requeued=False)
    log.event("i2", "offered", queued + 5, agent_id="a2", queue_id="support", offer_id="o2", deadline=queued + 25)
    log.event("i2", "offer_ended", queued + 25, agent_id="a2", offer_id="o2", outcome="timed_out")
    log.event("i2", "queued", queued + 25, queue_id="support", requeued=True)
    log.event("i2", "abandoned", queued + 60, reason="caller_hung_up")


def autumn(log: Log) -> None:
    log.status("a1", "available", ny("2026-10-31 23:00"))
    log.status("a1", "logged_out", ny("2026-11-01 03:00"))
    first_one_am, second_one_am = ny("2026-11-01 01:30", fold=0), ny("2026-11-01 01:30", fold=1)
    assert second_one_am - first_one_am == 3600
    log.answered_call(
        "j1", "a1", "sales", "phone", first_one_am - 10, first_one_am, first_one_am + 300, first_one_am + 330
    )
    log.abandoned_call("j2", "sales", "phone", second_one_am - 50, second_one_am)
    log.abandoned_call("j3", "sales", "phone", ny("2026-11-01 09:59:55"), ny("2026-11-01 10:00"))


def test_splitting_by_local_day_across_both_dst_changes() -> None:
    assert list(split_by_day(ny("2026-03-07 23:00"), ny("2026-03-08 04:00"), NY)) == [
        (date(2026, 3, 7), 3600.0),
        (date(2026, 3, 8), 3 * 3600.0),  # 02:00-03:00 does not exist
    ]
    assert list(split_by_day(ny("2026-10-31 23:00"), ny("2026-11-01 03:00"), NY)) == [
        (date(2026, 10, 31), 3600.0),
        (date(2026, 11, 1), 4 * 3600.0),  # 01:00-02:00 happens twice
    ]


def test_agent_activity_across_midnight_and_spring_forward(engine: Engine) -> None:
    log = Log(engine)
    spring(log)
    rebuild(engine, "nyc")
    with engine.connect() as c:
        first_day = agent_activity(c, "nyc", Range(date(2026, 3, 7), date(2026, 3, 7), NY), LATER)
        second_day = agent_activity(c, "nyc", Range(date(2026, 3, 8), date(2026, 3, 8), NY), LATER)
        both = agent_activity(c, "nyc", Range(date(2026, 3, 7), date(2026, 3, 8), NY), LATER)
    (a1,) = first_day
    assert a1["seconds"] == {"break": 5400.0, "available": 1800.0, "working_offline": 0.0, "busy": 0.0, "wrap_up": 0.0}
    assert a1["sign_ins"] == 1
    assert a1["first_sign_in_at"] == ny("2026-03-07 22:00")
    assert a1["last_sign_out_at"] is None
    a1, a2 = second_day
    assert a1["seconds"] == {
        "break": 0.0,
        "available": 5400.0 + 1200.0,
        "working_offline": 0.0,
        "busy": 3600.0,
        "wrap_up": 600.0,
    }
    assert a1["last_sign_out_at"] == ny("2026-03-08 04:00")
    assert (a1["offers"], a1["accepted"], a1["missed"]) == (1, 1, 0)
    assert a1["handled"] == {"phone": 1, "chat": 0, "voicemail": 0}
    assert a1["average_handle_seconds"] == 4200.0  # 01:30 EST -> 03:40 EDT
    assert a1["average_wrap_up_seconds"] == 600.0
    assert (a2["agent_id"], a2["offers"], a2["accepted"], a2["missed"]) == ("a2", 1, 0, 1)
    whole = both[0]
    assert whole["signed_in_seconds"] == 5400 + 1800 + 6600 + 3600 + 600
    assert whole["sign_ins"] == 1


ZERO_FIGURES = {
    "offered": 0, "answered": 0, "abandoned": 0, "answered_in_sl": 0, "abandoned_in_sl": 0,
    "average_wait_seconds": None, "average_answer_seconds": None, "longest_wait_seconds": 0.0,
    "service_level": None, "service_level_with_abandoned": None,
}  # fmt: skip


def test_queue_performance_and_both_service_levels(engine: Engine) -> None:
    log = Log(engine)
    spring(log)
    autumn(log)
    rebuild(engine, "nyc")
    with engine.connect() as c:
        spring_report = queue_performance(c, "nyc", Range(date(2026, 3, 8), date(2026, 3, 8), NY))
        autumn_report = queue_performance(
            c, "nyc", Range(date(2026, 11, 1), date(2026, 11, 1), NY), queue_ids=["sales"]
        )
    sales, support = spring_report["queues"]
    assert (sales["offered"], sales["answered"], sales["abandoned"]) == (1, 1, 0)
    assert sales["service_level"] == 1.0
    assert sales["average_wait_seconds"] == 15.0
    # the missed offer kept the chat's place: it waited 60 s in all, more than the 30 s threshold
    assert (support["offered"], support["answered"], support["abandoned"]) == (1, 0, 1)
    assert support["service_level"] is None
    assert support["service_level_with_abandoned"] == 0.0
    assert support["longest_wait_seconds"] == 60.0
    # every local hour of the day is there, the quiet ones with zeros: the spring day has 23
    spring_hours = spring_report["all"]["by_hour"]
    assert len(spring_hours) == 23
    assert [h["label"] for h in spring_hours if h["offered"]] == ["2026-03-08 01:00 EST"]
    assert spring_hours[0]["label"] == "2026-03-08 00:00 EST"
    assert spring_hours[2]["label"] == "2026-03-08 03:00 EDT"
    assert spring_hours[5] == {"start": ny("2026-03-08 06:00"), "label": "2026-03-08 06:00 EDT", **ZERO_FIGURES}
    assert (spring_report["start"], spring_report["end"]) == (ny("2026-03-08 00:00"), ny("2026-03-09 00:00"))
    assert spring_report["all"]["by_day"][0]["start"] == spring_report["start"]
    (sales,) = autumn_report["queues"]
    assert (sales["offered"], sales["answered"], sales["abandoned"]) == (3, 1, 2)
    assert (sales["answered_in_sl"], sales["abandoned_in_sl"]) == (1, 1)
    assert sales["service_level"] == 1.0
    assert sales["service_level_with_abandoned"] == 0.6667  # (1 answered + 1 abandoned within 20 s) / 3
    assert sales["average_wait_seconds"] == 21.7  # (10 + 50 + 5) / 3
    assert sales["longest_wait_seconds"] == 50.0
    assert len(sales["by_hour"]) == 25  # the autumn day's repeated hour is its own bucket
    hours = [
        (h["label"], h["offered"], h["answered"], h["abandoned"])
        for h in sales["by_hour"]
        if h["offered"] or h["abandoned"]
    ]
    assert hours == [
        ("2026-11-01 01:00 EDT", 1, 1, 0),
        ("2026-11-01 01:00 EST", 1, 0, 1),  # the repeated hour is its own bucket
        ("2026-11-01 09:00 EST", 1, 0, 0),
        ("2026-11-01 10:00 EST", 0, 0, 1),
    ]
    assert [(d["day"], d["offered"]) for d in sales["by_day"]] == [("2026-11-01", 3)]


def test_agent_activity_in_the_autumn_day_of_25_hours(engine: Engine) -> None:
    log = Log(engine)
    autumn(log)
    rebuild(engine, "nyc")
    with engine.connect() as c:
        rows = agent_activity(c, "nyc", Range(date(2026, 11, 1), date(2026, 11, 1), NY), LATER)
        before = agent_activity(c, "nyc", Range(date(2026, 10, 31), date(2026, 10, 31), NY), LATER)
    assert rows[0]["seconds"]["available"] == 4 * 3600.0
    assert before[0]["seconds"]["available"] == 3600.0


def test_timeline_cuts_statuses_at_the_day_boundaries(engine: Engine) -> None:
    log = Log(engine)
    spring(log)
    with engine.connect() as c:
        timeline = agent_timeline(c, "nyc", "a1", date(2026, 3, 8), NY, LATER)
    statuses = [(s["status"], s["seconds"]) for s in timeline["statuses"]]
    assert statuses == [("available", 5400.0), ("busy", 3600.0), ("wrap_up", 600.0), ("available", 1200.0)]
    (call,) = timeline["interactions"]
    assert call["interaction_id"] == "i1"
    assert [e["type"] for e in call["events"]] == ["offered", "offer_ended", "connected", "wrap_up", "completed"]
    assert call["disposition"] == "Sale"


def test_open_status_counts_up_to_now(engine: Engine) -> None:
    log = Log(engine)
    log.status("a1", "break", ny("2026-03-09 08:00"), "signed_in")
    rebuild(engine, "nyc")
    from sqlalchemy import update

    from callbridge.store.tables import agents

    with engine.begin() as c:
        c.execute(update(agents).where(agents.c.id == "a1").values(status="break", status_since=ny("2026-03-09 08:00")))
    with engine.connect() as c:
        (row,) = agent_activity(c, "nyc", Range(date(2026, 3, 9), date(2026, 3, 9), NY), ny("2026-03-09 08:30"))
        timeline = agent_timeline(c, "nyc", "a1", date(2026, 3, 9), NY, ny("2026-03-09 08:30"))
    assert row["seconds"]["break"] == 1800.0
    assert timeline["statuses"][-1]["status"] == "break"
    assert timeline["statuses"][-1]["seconds"] == 1800.0


def test_search_filters(engine: Engine) -> None:
    log = Log(engine)
    spring(log)
    autumn(log)
    period = Range(date(2026, 3, 1), date(2026, 11, 30), NY)
    with engine.connect() as c:

        def ids(f: SearchFilter) -> list[str]:
            return [r["id"] for r in search_interactions(c, "nyc", period, f)]

        assert ids(SearchFilter()) == ["j3", "j2", "j1", "i1", "i2"]
        assert ids(SearchFilter(caller="555")) == ["i1"]
        assert ids(SearchFilter(caller="%")) == []  # no wildcard injection
        assert ids(SearchFilter(agent_id="a1", channel="phone")) == ["j1", "i1"]
        assert ids(SearchFilter(queue_id="support")) == ["i2"]
        assert ids(SearchFilter(disposition="sale")) == ["i1"]
        narrow = Range(date(2026, 3, 8), date(2026, 3, 8), NY)
        assert [r["id"] for r in search_interactions(c, "nyc", narrow, SearchFilter())] == ["i1", "i2"]
        assert c.execute(select(report_agent_days)).first() is None  # nothing was aggregated yet
