"""Reports over HTTP and the event WebSocket: role checks on every route, the live aggregates (equal to
a rebuild from the logs), wallboard events, CSV escaping."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from callbridge.reports.csv_export import safe_cell, to_csv
from callbridge.store.report_aggregates import rebuild
from callbridge.store.report_tables import report_agent_days, report_queue_slots
from tests.e2e.conftest import Harness, make_harness

T = "/api/v1/tenants/acme/reports"
GET_ROUTES = [
    f"{T}/wallboard",
    f"{T}/agents",
    f"{T}/agents?format=csv",
    f"{T}/agents/agent1/timeline",
    f"{T}/queues",
    f"{T}/queues?format=csv&group=hour",
    f"{T}/interactions",
    f"{T}/interactions?format=csv",
    f"{T}/teams",
]


@pytest.fixture(scope="module")
def acme(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    for h in make_harness(tmp_path_factory.mktemp("reports")):
        h.setup_tenant("acme")
        body = {
            "id": "boss",
            "email": "boss@acme.example",
            "display_name": "Boss",
            "roles": ["agent", "supervisor"],
            "queue_ids": ["sales"],
        }
        assert h.client.post("/api/v1/tenants/acme/agents", json=body, headers=h.admin).status_code == 201
        h.setup_tenant("globex", agents=1)
        yield h


def call_flow(h: Harness, agent: dict[str, str], pbx: dict[str, str], caller: str) -> str:
    c = h.client
    created = c.post(
        "/api/v1/interactions", json={"queue_id": "sales", "channel": "phone", "from_address": caller}, headers=pbx
    ).json()
    assert c.post(f"/api/v1/me/offers/{created['id']}/accept", headers=agent).status_code == 200
    c.post(f"/api/v1/interactions/{created['id']}/end", json={"reason": "hangup"}, headers=pbx)
    done = c.post(
        f"/api/v1/me/interactions/{created['id']}/complete", json={"disposition": "=HYPERLINK(1)"}, headers=agent
    )
    assert done.status_code == 204
    return str(created["id"])


def rows(h: Harness) -> tuple[list[Any], list[Any]]:
    with h.services.engine.connect() as c:
        days = sorted(
            tuple(round(v, 3) if isinstance(v, float) else v for v in r) for r in c.execute(select(report_agent_days))
        )
        slots = sorted(
            tuple(round(v, 3) if isinstance(v, float) else v for v in r) for r in c.execute(select(report_queue_slots))
        )
    return days, slots


def test_every_route_is_for_supervisors_and_admins_only(acme: Harness) -> None:
    c = acme.client
    agent = acme.sign_in("acme", "agent2")
    boss = acme.sign_in("acme", "boss")
    foreign_agent = acme.sign_in("globex", "agent1")
    for route in GET_ROUTES:
        assert c.get(route).status_code == 401, route
        assert c.get(route, headers=agent).status_code == 403, route
        assert c.get(route, headers=foreign_agent).status_code == 404, route
        assert c.get(route, headers=boss).status_code == 200, route
        assert c.get(route, headers=acme.admin).status_code == 200, route
    assert c.put(f"{T}/teams/agent1", json={"team": "north"}, headers=agent).status_code == 403
    assert c.put(f"{T}/teams/agent1", json={"team": "north"}, headers=boss).status_code == 403  # admins only
    assert c.post(f"{T}/rebuild", headers=agent).status_code == 403
    assert c.post(f"{T}/rebuild", headers=boss).status_code == 403
    for page in ("/supervisor/wallboard", "/supervisor/reports"):
        assert c.get(page, headers=agent).status_code == 403, page
        assert c.get(page, headers=boss).status_code == 200, page


def test_agents_never_receive_wallboard_events(acme: Harness) -> None:
    c = acme.client
    agent = acme.sign_in("acme", "agent1")
    boss = acme.sign_in("acme", "boss")
    pbx = acme.api_key("acme")
    c.put("/api/v1/me/status", json={"status": "available"}, headers=agent)
    ticket = c.post("/api/v1/realtime/tickets", headers=agent).json()["url"]
    boss_ticket = c.post("/api/v1/realtime/tickets", headers=boss).json()["url"] + "&view=tenant"
    with c.websocket_connect(ticket) as agent_ws, c.websocket_connect(boss_ticket) as boss_ws:
        agent_ws.receive_text()
        boss_ws.receive_text()
        call_flow(acme, agent, pbx, "+14155550199")
        seen: list[dict[str, Any]] = []
        for _ in range(60):
            event = json.loads(boss_ws.receive_text())["event"]
            if event["type"] == "wallboard.queue_stats":
                seen.extend(q for q in event["queues"] if q["id"] == "sales" and q["answered"] >= 1)
                if seen:
                    break
        assert seen, "no wallboard.queue_stats for sales"
        assert seen[0]["offered"] >= 1
        assert seen[0]["service_level"] is not None
        agent_ws.send_text(json.dumps({"id": 9, "type": "ping"}))
        kinds = []
        while True:
            frame = json.loads(agent_ws.receive_text())
            if frame["type"] == "result":
                break
            kinds.append(frame["event"]["type"])
        assert "wallboard.queue_stats" not in kinds


def test_live_aggregates_equal_a_rebuild_from_the_logs(acme: Harness) -> None:
    c = acme.client
    agent = acme.sign_in("acme", "agent1")
    pbx = acme.api_key("acme")
    c.put("/api/v1/me/status", json={"status": "available"}, headers=agent)
    first = call_flow(acme, agent, pbx, "+14155550100")
    call_flow(acme, agent, pbx, "=1+2")
    waiting = c.post("/api/v1/interactions", json={"queue_id": "support", "channel": "chat"}, headers=pbx).json()
    c.put("/api/v1/me/status", json={"status": "break", "reason": "lunch"}, headers=agent)
    if waiting["state"] == "queued":
        c.post(f"/api/v1/interactions/{waiting['id']}/end", json={"reason": "caller_hung_up"}, headers=pbx)
    live = rows(acme)
    rebuild(acme.services.engine, "acme")
    assert rows(acme) == live
    report = c.get(f"{T}/agents", params={"agent_id": "agent1"}, headers=acme.admin).json()
    (agent1,) = report["agents"]
    assert agent1["handled"]["phone"] >= 2
    assert agent1["accepted"] >= 2
    queues = c.get(f"{T}/queues", params={"queue_id": "sales"}, headers=acme.admin).json()
    assert queues["queues"][0]["answered"] >= 2
    timeline = c.get(f"{T}/agents/agent1/timeline", headers=acme.admin).json()
    assert first in {i["interaction_id"] for i in timeline["interactions"]}
    assert timeline["statuses"][-1]["status"] == "break"
    found = c.get(f"{T}/interactions", params={"caller": "=1+2"}, headers=acme.admin).json()["interactions"]
    assert [i["from_address"] for i in found] == ["=1+2"]
    exported = c.get(f"{T}/interactions", params={"caller": "=1+2", "format": "csv"}, headers=acme.admin)
    assert exported.headers["content-type"].startswith("text/csv")
    parsed = list(csv.DictReader(io.StringIO(exported.text)))
    assert parsed[0]["from_address"] == "'=1+2"
    assert parsed[0]["disposition"] == "'=HYPERLINK(1)"


def test_teams_filter_agent_activity(acme: Harness) -> None:
    c = acme.client
    assert c.put(f"{T}/teams/agent2", json={"team": "north"}, headers=acme.admin).status_code == 200
    assert c.put(f"{T}/teams/nobody", json={"team": "north"}, headers=acme.admin).status_code == 404
    acme.sign_in("acme", "agent2")
    report = c.get(f"{T}/agents", params={"team": "north"}, headers=acme.admin).json()
    assert [a["agent_id"] for a in report["agents"]] == ["agent2"]
    board = c.get(f"{T}/wallboard", headers=acme.admin).json()
    assert "north" in board["teams"]
    assert {a["id"]: a["team"] for a in board["agents"]}["agent2"] == "north"


def test_bad_ranges_are_refused_naming_the_field(acme: Harness) -> None:
    c = acme.client
    r = c.get(f"{T}/agents", params={"from": "2026-03-10", "to": "2026-03-01"}, headers=acme.admin)
    assert r.status_code == 422
    assert r.json()["field"] == "to"
    r = c.get(f"{T}/queues", params={"from": "2026-01-01", "to": "2026-12-31"}, headers=acme.admin)
    assert r.status_code == 422
    r = c.get(f"{T}/queues", params={"from": "2026-02-30"}, headers=acme.admin)
    assert r.status_code == 422


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=SUM(A1)", "'=SUM(A1)"),
        ("+1 212 555", "'+1 212 555"),
        ("-2+3", "'-2+3"),
        ("@cmd", "'@cmd"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("\uff1d1", "'\uff1d1"),
        ("plain, with comma", "plain, with comma"),
        (-5, -5),
        (2.5, 2.5),
        (None, ""),
    ],
)
def test_csv_cells_cannot_become_formulas(value: Any, cell: Any) -> None:
    assert safe_cell(value) == cell


def test_csv_quotes_separators_and_newlines() -> None:
    text = to_csv(["a", "b"], [['say "hi"', "line\nbreak"], ["=x", 1]])
    assert list(csv.reader(io.StringIO(text))) == [["a", "b"], ['say "hi"', "line\nbreak"], ["'=x", "1"]]


def _queued_calls(h: Harness, tenant_id: str, callers: list[str]) -> dict[str, str]:
    """One queued (then ended) call per caller id, written as a PBX sent it; returns id -> caller."""
    pbx = h.api_key(tenant_id)
    made: dict[str, str] = {}
    for caller in callers:
        body = {"queue_id": "sales", "channel": "phone", "from_address": caller}
        created = h.client.post("/api/v1/interactions", json=body, headers=pbx).json()
        made[created["id"]] = caller
        h.client.post(f"/api/v1/interactions/{created['id']}/end", json={"reason": "caller_hung_up"}, headers=pbx)
    return made


def _found(h: Harness, tenant_id: str, caller: str) -> set[str]:
    r = h.client.get(f"/api/v1/tenants/{tenant_id}/reports/interactions", params={"caller": caller}, headers=h.admin)
    assert r.status_code == 200, r.text
    return {i["from_address"] for i in r.json()["interactions"]}


def test_search_by_caller_finds_the_number_in_any_format(acme: Harness) -> None:
    same = ["+1 415 555 0177", "(415) 555-0177", "415.555.0177", "1-415-555-0177", "+1 (415) 555-0177 ext. 9"]
    _queued_calls(acme, "acme", [*same, "+1 415 555 0178", "info0177@example.com"])
    for query in ("+14155550177", "4155550177", "(415) 555 0177"):
        assert _found(acme, "acme", query) == set(same), query
    # text that is not a whole number still matches the addresses as written
    assert _found(acme, "acme", "info0177") == {"info0177@example.com"}


def test_search_reads_a_caller_without_country_code_in_the_tenants_region(acme: Harness) -> None:
    c = acme.client
    tenant = c.get("/api/v1/tenants/globex", headers=acme.admin).json()
    r = c.put("/api/v1/tenants/globex", json={**tenant, "phone_region": "GB"}, headers=acme.admin)
    assert r.status_code == 200, r.text
    _queued_calls(acme, "globex", ["020 7183 8750", "+44 20 7183 8750", "+1 207 183 8750"])
    assert _found(acme, "globex", "+442071838750") == {"020 7183 8750", "+44 20 7183 8750"}
    assert _found(acme, "globex", "020 7183 8750") == {"020 7183 8750", "+44 20 7183 8750"}
