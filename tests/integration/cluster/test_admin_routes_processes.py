"""Three `callbridge serve` processes on one PostgreSQL database and one NATS bus: voicemail, chat settings
and the CRM integration's settings work through any node. A voicemail deposited on a node that does not hold
the tenant is queued by the holder; settings saved on any node are the ones the holder acts on (its auto
log writes the outbox from them)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.channels.test_voicemail import wav_bytes
from tests.integration.cluster.test_failover_processes import LEASE_SECONDS, PASSWORD, wait_for
from tests.integration.cluster.test_forwarding_processes import Cluster, cluster, set_up_tenant

__all__ = ["cluster"]


def answer(response: httpx.Response) -> tuple[int, Any]:
    return response.status_code, response.json()


@pytest.mark.slow
def test_voicemail_and_settings_work_through_any_node(cluster: Cluster) -> None:
    pbx, agent = set_up_tenant(cluster)
    holder = cluster.holder("acme")
    assert holder is not None
    h = cluster.urls[holder]
    x, y = (cluster.urls[n] for n in range(3) if n != holder)
    x_dir = next(cluster.workdir / cluster.names[n] for n in range(3) if cluster.urls[n] == x)
    for url in (x, y):  # a non-holder may only learn where the tenant is on its next lease round
        wait_for(
            lambda url=url: httpx.get(f"{url}/api/v1/me", headers=agent, timeout=10).status_code == 200,
            "a non-holder to reach the holder",
            LEASE_SECONDS * 5,
        )
    token = httpx.post(
        f"{y}/api/v1/auth/admin-sessions", json={"email": "root@example.com", "password": PASSWORD}, timeout=10
    )
    admin = {"Authorization": f"Bearer {token.json()['token']}"}
    tenant = "/api/v1/tenants/acme"

    # settings saved through one non-holder read the same through every node
    chat_settings = {
        "widget_origins": ["https://shop.example"],
        "form_fields": [{"name": "order", "label": "Order number", "required": True, "max_length": 20}],
    }
    saved = httpx.put(f"{x}{tenant}/chat/settings", json=chat_settings, headers=admin, timeout=10)
    assert saved.status_code == 200, saved.text
    for url in (h, y):
        assert answer(httpx.get(f"{url}{tenant}/chat/settings", headers=admin, timeout=10)) == (200, saved.json())
    pop = {"enabled": True, "crm": "builtin_crm", "all_agents": False, "agent_ids": ["agent1"]}
    popped = httpx.put(f"{x}{tenant}/screen-pop", json=pop, headers=admin, timeout=10)
    assert popped.status_code == 200, popped.text
    for url in (h, y):
        assert answer(httpx.get(f"{url}{tenant}/screen-pop", headers=admin, timeout=10)) == (200, popped.json())
    # the holder's refusal, through a non-holder: an agent the tenant does not have
    unknown = httpx.put(f"{y}{tenant}/screen-pop", json={**pop, "agent_ids": ["nobody"]}, headers=admin)
    assert unknown.status_code == 422, unknown.text
    assert unknown.json()["field"] == "agent_ids"
    logged = httpx.put(
        f"{y}{tenant}/auto-log/settings", json={"crm": "builtin_crm", "voicemail": True}, headers=admin, timeout=10
    )
    assert logged.status_code == 200, logged.text
    assert httpx.get(f"{h}{tenant}/auto-log/settings", headers=admin, timeout=10).json()["voicemail"] is True

    # a voicemail queue and the agent in it, through non-holders
    queue = {"id": "messages", "name": "Messages", "channel": "voicemail", "offer_timeout_seconds": 600}
    assert httpx.post(f"{x}{tenant}/queues", json=queue, headers=admin, timeout=10).status_code == 201
    profile = {"email": "agent1@acme.example", "display_name": "Agent 1", "queue_ids": ["sales", "messages"]}
    changed = httpx.put(f"{y}{tenant}/agents/agent1", json={"id": "agent1", **profile}, headers=admin, timeout=10)
    assert changed.status_code == 200, changed.text
    assert httpx.put(f"{y}/api/v1/me/status", json={"status": "available"}, headers=agent).status_code == 200

    def deposit(url: str, **fields: str) -> httpx.Response:
        form = {"queue_id": "messages", "from_address": "+14155550100", **fields}
        audio = {"audio": ("vm.wav", wav_bytes(0.5), "application/octet-stream")}
        return httpx.post(f"{url}/api/v1/voicemails", data=form, files=audio, headers=pbx, timeout=10)

    # the wrong queue: the holder's refusal, and no audio left behind on the node that took the upload
    wrong = deposit(x, queue_id="sales", id="vm-wrong")
    assert wrong.status_code == 409, wrong.text
    assert wrong.json()["field"] == "queue_id"
    assert answer(deposit(h, queue_id="sales", id="vm-wrong")) == answer(wrong)
    assert not list((x_dir / "voicemail").rglob("vm-wrong.*"))

    left = deposit(x, id="vm1")
    assert left.status_code == 201, left.text
    assert left.json()["duration_seconds"] == 0.5
    again = deposit(y, id="vm1")
    assert again.status_code == 409, again.text
    assert again.json()["field"] == "id"
    # queued on the holder and offered to the agent, whichever node the console asks
    offered = httpx.get(f"{y}/api/v1/me", headers=agent, timeout=10).json()["interactions"]["vm1"]
    assert (offered["state"], offered["agent_id"]) == ("offered", "agent1")
    assert httpx.post(f"{y}/api/v1/me/offers/vm1/accept", headers=agent, timeout=10).status_code == 200
    mine = httpx.get(f"{y}/api/v1/me/voicemail/vm1", headers=agent, timeout=10)
    assert mine.status_code == 200, mine.text
    assert mine.json()["bytes"] == len(wav_bytes(0.5))
    played = httpx.get(f"{x}/api/v1/voicemails/vm1/audio", headers={**pbx, "Range": "bytes=0-3"}, timeout=10)
    assert (played.status_code, played.content) == (206, b"RIFF")
    assert httpx.post(f"{x}/api/v1/me/interactions/vm1/end", json={}, headers=agent, timeout=10).status_code == 200
    done = httpx.post(f"{y}/api/v1/me/interactions/vm1/complete", json={}, headers=agent, timeout=10)
    assert done.status_code == 204, done.text
    # the holder's auto log followed the settings saved through another node
    outbox = httpx.get(f"{x}{tenant}/auto-log", headers=admin, timeout=10)
    assert outbox.status_code == 200, outbox.text
    assert [entry["interaction_id"] for entry in outbox.json()] == ["vm1"]
