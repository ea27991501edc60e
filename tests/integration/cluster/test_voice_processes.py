"""Voice on two nodes: two `callbridge serve` processes with voice on, on one PostgreSQL database and one NATS bus,
behind one Kamailio whose dispatcher lists both voice controllers, with one rtpengine for both (the engines run
here, as an administrator runs them: CALLBRIDGE_VOICE_MANAGE_ENGINES=false). Real baresip callers and desk phones.

(a) Calls reach an agent whichever controller Kamailio gives them to, also when the node holding the tenant is
the other one; each side hears the other. (b) One node is killed (-9): the calls its controller carried end
`failed` ("the voice server carrying the call stopped") within a bounded time and their callers are hung up (a
BYE from Kamailio's dialog module), the other node's calls wait on, and new calls are answered by the other
controller. (c) Click to dial asked of the node that does not hold the tenant is carried by it, and ends when the
agent hangs up in the console. A call carried by the node that does not hold its tenant is offered voicemail when
nobody works its queue (the caller hears the prompt), or held (the caller hears the hold music), resumed,
transferred warm to a colleague (a consult, then the caller hears them) and then to an outside number (the outside
party hears the caller): the commands reach the carrier over the bus, and fail with 503 once it is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, update

from callbridge.auth.credentials import create_admin_user, create_session
from callbridge.channels.sip import KamailioRpc
from callbridge.channels.sip.engines import (
    EngineLayout,
    EngineProcess,
    dispatcher_list,
    kamailio_command,
    kamailio_config,
    kamailio_modules_dir,
    rtpengine_command,
)
from callbridge.channels.sip.ng import NgClient, NgError
from callbridge.channels.sip.overflow import TONE_HZ
from callbridge.channels.voice_nodes import CARRIER_GONE
from callbridge.store.database import make_engine, upgrade
from callbridge.store.tables import agents, interactions
from tests.e2e.test_restart import free_port
from tests.integration.cluster.test_failover_processes import LEASE_SECONDS, held, start_node, stop_node
from tests.voice.audio import first_run
from tests.voice.conftest import AGENT_TONE, CALLER_TONE, Baresip, free_ports, require_engines, wait_for
from tests.voice.test_calls import labels_of, runs
from tests.voice.test_transfers import CALLER_HEARS as TRANSFER_HEARS
from tests.voice.test_transfers import OUTSIDE_TONE, SECOND_AGENT_TONE

PASSWORD = "correct horse battery"
# a dead node's calls must have failed within this: its heartbeat expires after one lease, the holder notices at
# its next two rounds (a third of a lease each), and a tenant it held is taken over meanwhile; plus scheduling
FAIL_WITHIN_SECONDS = float(os.environ.get("CALLBRIDGE_TEST_VOICE_FAIL_WITHIN_SECONDS", "20"))
CALLER_HEARS = {"agent": (AGENT_TONE,)}
AGENT_HEARS = {"caller": (CALLER_TONE,)}


class VoiceCluster:
    def __init__(self, database_url: str, nats_url: str, tmp_path: Path) -> None:
        self.database_url = database_url
        self.tmp = tmp_path
        suffix = uuid.uuid4().hex[:6]  # the bus is shared: names unique to this test
        self.names = [f"voice-a-{suffix}", f"voice-b-{suffix}"]
        self.http_ports = [free_port(), free_port()]
        self.urls = [f"http://127.0.0.1:{port}" for port in self.http_ports]
        self.sip_port, controller_a, controller_b, ng_port, self.trunk_port = free_ports(5, spacing=3)
        self.controller_ports = [controller_a, controller_b]
        rtp = 50000 + (os.getpid() % 100) * 50
        engines = tmp_path / "engines"
        engines.mkdir()
        self.layout = EngineLayout(
            sip_address="127.0.0.1",
            sip_port=self.sip_port,
            controller_address="127.0.0.1",
            controller_port=controller_a,
            ng_address="127.0.0.1",
            ng_port=ng_port,
            rtp_address="127.0.0.1",
            rtp_port_min=rtp,
            rtp_port_max=rtp + 49,
            realm="callbridge",
            trunk_networks=("127.0.0.1/32",),
            trunk_address=("127.0.0.1", self.trunk_port),  # calls out reach a test peer
            rpc_socket=engines / "rpc.sock",
            controllers=(("127.0.0.1", controller_a), ("127.0.0.1", controller_b)),
            dispatcher_list=engines / "dispatcher.list",
        )
        self.engines: list[EngineProcess] = []
        self.nodes: list[subprocess.Popen[bytes] | None] = [None, None]
        self.peers: list[Baresip] = []
        self.extra = {
            "CALLBRIDGE_BUS_URL": nats_url,
            "CALLBRIDGE_VOICE_ENABLED": "true",
            "CALLBRIDGE_VOICE_MANAGE_ENGINES": "false",
            "CALLBRIDGE_VOICE_SIP_PORT": str(self.sip_port),
            "CALLBRIDGE_VOICE_RTPENGINE_NG": f"127.0.0.1:{ng_port}",
            "CALLBRIDGE_VOICE_RTP_PORT_MIN": str(rtp),
            "CALLBRIDGE_VOICE_RTP_PORT_MAX": str(rtp + 49),
            "CALLBRIDGE_VOICE_TRUNK_NETWORKS": "127.0.0.1/32",
            "CALLBRIDGE_VOICE_TRUNK_ADDRESS": f"127.0.0.1:{self.trunk_port}",
            "CALLBRIDGE_VOICE_WS_PORT": "0",
            "CALLBRIDGE_VOICE_KAMAILIO_RPC": str(self.layout.rpc_socket),
            "CALLBRIDGE_VOICE_CONTROLLERS": f"127.0.0.1:{controller_a},127.0.0.1:{controller_b}",
            "CALLBRIDGE_HEARTBEAT_TIMEOUT_SECONDS": "600",  # the agents have no console open
        }

    def start_engines(self) -> None:
        directory = self.layout.rpc_socket.parent
        assert self.layout.dispatcher_list is not None
        self.layout.dispatcher_list.write_text(dispatcher_list(self.layout))
        config = directory / "kamailio.cfg"
        config.write_text(kamailio_config(self.layout, kamailio_modules_dir()))
        for process in (
            EngineProcess("rtpengine", rtpengine_command(self.layout, directory / "rtpengine.pid"), directory),
            EngineProcess("kamailio", kamailio_command(config), directory),
        ):
            process.start()
            self.engines.append(process)
        rpc = KamailioRpc(self.layout.rpc_socket, timeout=0.5)

        def kamailio_up() -> bool:
            try:
                rpc.call("core.version")
            except Exception:
                return False
            return True

        wait_for(kamailio_up, "Kamailio's JSON-RPC socket")

    def start_node(self, n: int) -> None:
        extra = {**self.extra, "CALLBRIDGE_VOICE_CONTROLLER_PORT": str(self.controller_ports[n])}
        self.nodes[n] = start_node(
            self.database_url, self.names[n], self.http_ports[n], self.tmp / self.names[n], extra
        )

    def stop_node(self, n: int) -> None:
        process = self.nodes[n]
        assert process is not None
        stop_node(process)
        self.nodes[n] = None

    def kill(self, n: int) -> None:
        process = self.nodes[n]
        assert process is not None
        process.send_signal(signal.SIGKILL)
        process.wait()
        self.nodes[n] = None

    def holder(self, tenant_id: str) -> int:
        for n, url in enumerate(self.urls):
            if self.nodes[n] is not None and tenant_id in held(url):
                return n
        raise AssertionError(f"no node holds {tenant_id}")

    def baresip(self, name: str, frequency: float, account: str, sip_port: int | None = None) -> Baresip:
        peer = Baresip(self.tmp / "peers" / name, frequency, account, sip_port)
        self.peers.append(peer)
        peer.start()
        return peer

    def caller(self, name: str) -> Baresip:
        return self.baresip(name, CALLER_TONE, "<sip:+14155550111@127.0.0.1>;regint=0")

    def dial(self, caller: Baresip, number: str) -> None:
        caller.command("dial", f"sip:{number}@127.0.0.1:{self.sip_port}")

    def stop(self) -> None:
        for peer in self.peers:
            peer.stop()
        for process in self.nodes:
            if process is not None:
                stop_node(process)
        for engine in reversed(self.engines):
            with contextlib.suppress(Exception):
                engine.stop()


def calls(engine: Engine, tenant_id: str) -> dict[str, Any]:
    """The tenant's SIP calls as stored: id → (state, carrying node, end reason)."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(interactions.c.id, interactions.c.state, interactions.c.data, interactions.c.end_reason).where(
                interactions.c.tenant_id == tenant_id, interactions.c.id.like("sip-%")
            )
        ).all()
    return {row.id: (row.state, (row.data or {}).get("voice_node"), row.end_reason) for row in rows}


def rtpengine_carries(layout: EngineLayout, sip_call_id: str) -> bool:
    """Whether the shared rtpengine still has the call (NG `query`)."""

    async def query() -> bool:
        ng = NgClient(layout.ng_address, layout.ng_port)
        await ng.start()
        try:
            await ng.command("query", {"call-id": sip_call_id})
        except NgError:
            return False
        finally:
            ng.close()
        return True

    return asyncio.run(query())


def sip_call_id(engine: Engine, tenant_id: str, interaction_id: str) -> str:
    with engine.connect() as connection:
        data = connection.execute(
            select(interactions.c.data).where(
                interactions.c.tenant_id == tenant_id, interactions.c.id == interaction_id
            )
        ).scalar_one()
    return str(data["sip_call_id"])


def new_calls(engine: Engine, tenant_id: str, before: dict[str, Any], count: int) -> Callable[[], dict[str, Any]]:
    def found() -> dict[str, Any]:
        now = {k: v for k, v in calls(engine, tenant_id).items() if k not in before}
        return now if len(now) >= count else {}

    return found


@pytest.mark.slow
def test_calls_spread_over_two_voice_nodes_and_a_dead_nodes_calls_fail(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    require_engines()
    engine = make_engine(database_url)
    upgrade(engine)
    create_admin_user(engine, "root@example.com", PASSWORD)
    cluster = VoiceCluster(database_url, nats_url, tmp_path)
    try:
        cluster.start_engines()
        cluster.start_node(0)
        numbers = {"acme": "+18005550101", "other": "+18005550102"}
        with httpx.Client(base_url=cluster.urls[0], timeout=10) as http:  # node A alone holds every tenant now
            token = http.post("/api/v1/auth/admin-sessions", json={"email": "root@example.com", "password": PASSWORD})
            admin = {"Authorization": f"Bearer {token.json()['token']}"}
            for tenant_id, number in numbers.items():
                body = {"id": tenant_id, "name": tenant_id.title()}
                assert http.post("/api/v1/tenants", json=body, headers=admin).status_code == 201
                wait_for(lambda tenant_id=tenant_id: tenant_id in held(cluster.urls[0]), "node A to take the tenant")
                queue = {"id": "sales", "name": "Sales", "channel": "phone", "offer_timeout_seconds": 60}
                assert http.post(f"/api/v1/tenants/{tenant_id}/queues", json=queue, headers=admin).status_code == 201
                response = http.put(
                    f"/api/v1/tenants/{tenant_id}/voice/numbers/{number}", json={"queue_id": "sales"}, headers=admin
                )
                assert response.status_code == 200, response.text
            for agent_id in ("agent1", "agent2"):
                agent = {"id": agent_id, "email": f"{agent_id}@acme.example", "display_name": agent_id}
                agent["queue_ids"] = ["sales"]  # type: ignore[assignment]
                assert http.post("/api/v1/tenants/acme/agents", json=agent, headers=admin).status_code == 201
                phone = {"username": f"acme-{agent_id}", "password": "desk-phone-secret"}
                response = http.put(f"/api/v1/tenants/acme/voice/desk-phones/{agent_id}", json=phone, headers=admin)
                assert response.status_code == 200, response.text
        cluster.stop_node(0)  # hands the tenants over; they load the agents as signed in below when taken again
        with engine.begin() as connection:  # what single sign-on does, without an identity provider
            connection.execute(
                update(agents).where(agents.c.tenant_id == "acme").values(presence="break", status="break")
            )
        cluster.start_node(0)
        cluster.start_node(1)
        # a tenant per node (the fair share of two tenants on two nodes)
        wait_for(lambda: all(len(held(url)) == 1 for url in cluster.urls), "each node to hold one tenant")

        # ------------------------------------------------------------ (a) both controllers carry calls to agents
        rpc = KamailioRpc(cluster.layout.rpc_socket)
        phones = []
        for agent_id in ("agent1", "agent2"):
            username = f"acme-{agent_id}"
            phones.append(
                cluster.baresip(
                    f"{agent_id}-phone",
                    AGENT_TONE,
                    f"<sip:{username}@127.0.0.1:{cluster.sip_port}>;auth_pass=desk-phone-secret;answermode=auto;"
                    "regint=600",
                )
            )

            def registered(username: str = username) -> bool:
                try:
                    return bool(rpc.call("ul.lookup", "location", username))
                except Exception:
                    return False

            wait_for(registered, f"{username}'s registration")
        acme_url = cluster.urls[cluster.holder("acme")]
        for agent_id in ("agent1", "agent2"):
            session = create_session(engine, "agent", agent_id, "acme", time.time())
            response = httpx.put(
                f"{acme_url}/api/v1/me/status",
                json={"status": "available"},
                headers={"Authorization": f"Bearer {session}"},
                timeout=10,
            )
            assert response.status_code == 200, response.text

        callers = [cluster.caller("caller-1"), cluster.caller("caller-2")]
        for caller in callers:
            before = calls(engine, "acme")
            cluster.dial(caller, numbers["acme"])
            wait_for(lambda caller=caller: caller.saw("CALL_ESTABLISHED"), "the call to be answered")
            wait_for(new_calls(engine, "acme", before, 1), "the call's interaction")
        connected = wait_for(
            lambda: (found := calls(engine, "acme")) and all(v[0] == "connected" for v in found.values()) and found,
            "both calls to reach an agent",
        )
        carriers = {carrier for _state, carrier, _reason in connected.values()}
        assert carriers == set(cluster.names), f"each controller carries a call: {connected}"
        for caller in callers:
            wait_for(
                lambda caller=caller: first_run(labels_of(caller.heard(), CALLER_HEARS), "agent") is not None,
                "each caller to hear an agent",
            )
        for phone in phones:
            wait_for(
                lambda phone=phone: first_run(labels_of(phone.heard(), AGENT_HEARS), "caller") is not None,
                "each agent to hear a caller",
            )
        for caller in callers:
            caller.command("hangup")
        wait_for(
            lambda: all(v[0] in ("wrap_up", "completed") for v in calls(engine, "acme").values()), "both calls to end"
        )

        # --------------------------------------------- (b) a node dies: its calls fail, the other carries on
        waiting: list[tuple[str, Baresip]] = []
        caller_of: dict[str, Baresip] = {}
        for n, tenant_id in enumerate(("other", "other", "acme", "acme")):  # acme's agents are in wrap-up
            caller = cluster.caller(f"waiting-{n}")
            before = calls(engine, tenant_id)
            cluster.dial(caller, numbers[tenant_id])
            wait_for(lambda caller=caller: caller.saw("CALL_ESTABLISHED"), "the waiting call to be answered")
            (interaction_id,) = wait_for(new_calls(engine, tenant_id, before, 1), "the waiting call's interaction")
            waiting.append((tenant_id, caller))
            caller_of[interaction_id] = caller
        # agent1 takes one of acme's calls (agent2 stays on break): the dead node is the one carrying it, so that
        # its agent's leg (an INVITE the dead controller sent through Kamailio) has to be ended too
        agent_phone = phones[0]

        def count(event_type: str) -> int:
            return sum(e.get("type") == event_type for e in agent_phone.poll_events())

        closed_before, established_before = count("CALL_CLOSED"), count("CALL_ESTABLISHED")
        for agent_id, status in (("agent2", "break"), ("agent1", "available")):
            response = httpx.put(
                f"{acme_url}/api/v1/me/status", json={"status": status}, headers=agent_session(engine, agent_id)
            )
            assert response.status_code == 200, response.text
        for interaction_id, (state, _carrier, _reason) in calls(engine, "acme").items():  # (a)'s wrap-ups end
            if state == "wrap_up":
                for agent_id in ("agent1", "agent2"):  # only the agent who took it may: the other gets a 4xx
                    httpx.post(
                        f"{acme_url}/api/v1/me/interactions/{interaction_id}/complete",
                        json={},
                        headers=agent_session(engine, agent_id),
                    )
        (talking,) = wait_for(
            lambda: [k for k, v in calls(engine, "acme").items() if v[0] == "connected"], "agent1 to take a call"
        )
        wait_for(lambda: count("CALL_ESTABLISHED") > established_before, "agent1's phone to answer")
        response = httpx.put(  # so that agent1 takes no other call once this one has failed
            f"{acme_url}/api/v1/me/status", json={"status": "break"}, headers=agent_session(engine, "agent1")
        )
        assert response.status_code == 200, response.text
        live = {
            t: {k: v for k, v in calls(engine, t).items() if v[0] in ("queued", "connected")} for t in ("acme", "other")
        }
        by_carrier = {
            name: [(t, k) for t in live for k, v in live[t].items() if v[1] == name] for name in cluster.names
        }
        assert all(by_carrier.values()), f"both controllers carry calls: {live}"

        victim = cluster.names.index(live["acme"][talking][1])
        survivor = 1 - victim
        cluster.kill(victim)
        killed_at = time.monotonic()

        def failed() -> bool:
            for tenant_id, interaction_id in by_carrier[cluster.names[victim]]:
                state, _carrier, reason = calls(engine, tenant_id)[interaction_id]
                if state != "failed":
                    return False
                assert reason == CARRIER_GONE
            return True

        wait_for(failed, "the dead node's calls to fail", timeout=FAIL_WITHIN_SECONDS)
        failed_after = time.monotonic() - killed_at
        for tenant_id, interaction_id in by_carrier[cluster.names[survivor]]:
            assert calls(engine, tenant_id)[interaction_id][0] == "queued", "the other node's calls wait on"
            assert rtpengine_carries(cluster.layout, sip_call_id(engine, tenant_id, interaction_id))
        for tenant_id, interaction_id in by_carrier[cluster.names[victim]]:  # their media ended with them
            call_id = sip_call_id(engine, tenant_id, interaction_id)
            wait_for(lambda call_id=call_id: not rtpengine_carries(cluster.layout, call_id), "rtpengine to drop it")
        for _tenant_id, interaction_id in by_carrier[cluster.names[victim]]:  # and their callers hear it end
            caller = caller_of[interaction_id]
            wait_for(lambda caller=caller: caller.saw("CALL_CLOSED"), "the dead node's caller to be hung up (BYE)")
        wait_for(  # and the agent's phone, which the dead controller rang, hears it end too
            lambda: count("CALL_CLOSED") > closed_before,
            "agent1's phone to be hung up (BYE)",
        )
        for _tenant_id, interaction_id in by_carrier[cluster.names[survivor]]:
            assert not caller_of[interaction_id].saw("CALL_CLOSED"), "the other node's callers wait on"

        # two new calls: round robin would give one of them to the dead controller if Kamailio still took it for
        # alive (then it goes to the next one after 2 s without an answer)
        answered_after = []
        for n in range(2):
            late = cluster.caller(f"after-the-crash-{n}")
            before = calls(engine, "other")
            dialled_at = time.monotonic()
            cluster.dial(late, numbers["other"])
            wait_for(lambda late=late: late.saw("CALL_ESTABLISHED"), "a new call to be answered by the live controller")
            answered_after.append(time.monotonic() - dialled_at)
            ((state, carrier, _reason),) = wait_for(new_calls(engine, "other", before, 1), "its interaction").values()
            assert (state, carrier) == ("queued", cluster.names[survivor])
        print(
            f"\nlease {LEASE_SECONDS} s: the dead node's {len(by_carrier[cluster.names[victim]])} calls failed "
            f"{failed_after:.2f} s after kill -9; new calls answered {', '.join(f'{t:.2f}' for t in answered_after)} s "
            "after dialling"
        )
    finally:
        cluster.stop()
        engine.dispose()


SUPPORT = "+18005550103"
PROMPT_HEARS = {"prompt_tone": (float(TONE_HZ),)}


def carried_elsewhere(cluster: VoiceCluster, engine: Engine, number: str, name: str, holder: str) -> tuple[Any, str]:
    """Dials `number` until a call is carried by the controller of a node other than `holder` (the others are hung
    up); returns its caller and interaction id."""
    for n in range(4):
        candidate = cluster.caller(f"{name}-{n}")
        before = calls(engine, "acme")
        cluster.dial(candidate, number)
        wait_for(lambda candidate=candidate: candidate.saw("CALL_ESTABLISHED"), "the call to be answered")
        ((interaction_id, (_state, carrier, _reason)),) = wait_for(
            new_calls(engine, "acme", before, 1), "its interaction"
        ).items()
        if carrier != holder:
            return candidate, interaction_id
        candidate.command("hangup")
        wait_for(lambda i=interaction_id: calls(engine, "acme")[i][0] == "abandoned", "the other call to end")
    raise AssertionError("no call went to the controller of the node not holding the tenant")


def agent_session(engine: Engine, agent_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {create_session(engine, 'agent', agent_id, 'acme', time.time())}"}


@pytest.mark.slow
def test_hold_consult_and_a_transfer_out_reach_the_node_carrying_the_call_when_another_holds_its_tenant(
    database_url: str, nats_url: str, tmp_path: Path
) -> None:
    require_engines()
    engine = make_engine(database_url)
    upgrade(engine)
    create_admin_user(engine, "root@example.com", PASSWORD)
    cluster = VoiceCluster(database_url, nats_url, tmp_path)
    number = "+18005550101"
    try:
        cluster.start_engines()
        cluster.start_node(0)
        with httpx.Client(base_url=cluster.urls[0], timeout=10) as http:
            token = http.post("/api/v1/auth/admin-sessions", json={"email": "root@example.com", "password": PASSWORD})
            admin = {"Authorization": f"Bearer {token.json()['token']}"}
            assert http.post("/api/v1/tenants", json={"id": "acme", "name": "Acme"}, headers=admin).status_code == 201
            wait_for(lambda: "acme" in held(cluster.urls[0]), "node A to take the tenant")
            queue = {"id": "sales", "name": "Sales", "channel": "phone", "offer_timeout_seconds": 60}
            assert http.post("/api/v1/tenants/acme/queues", json=queue, headers=admin).status_code == 201
            response = http.put(
                f"/api/v1/tenants/acme/voice/numbers/{number}", json={"queue_id": "sales"}, headers=admin
            )
            assert response.status_code == 200, response.text
            # nobody works support: its callers are offered voicemail at once (voicemail overflow)
            for queue_id, channel in (("messages", "voicemail"), ("support", "phone")):
                body = {"id": queue_id, "name": queue_id.title(), "channel": channel}
                assert http.post("/api/v1/tenants/acme/queues", json=body, headers=admin).status_code == 201
            response = http.put(
                f"/api/v1/tenants/acme/voice/numbers/{SUPPORT}", json={"queue_id": "support"}, headers=admin
            )
            assert response.status_code == 200, response.text
            body = {"voicemail_queue_id": "messages"}
            response = http.put("/api/v1/tenants/acme/voice/queues/support", json=body, headers=admin)
            assert response.status_code == 200, response.text
            for agent_id in ("agent1", "agent2"):
                agent = {"id": agent_id, "email": f"{agent_id}@acme.example", "display_name": agent_id}
                agent["queue_ids"] = ["sales"]  # type: ignore[assignment]
                assert http.post("/api/v1/tenants/acme/agents", json=agent, headers=admin).status_code == 201
                phone = {"username": f"acme-{agent_id}", "password": "desk-phone-secret"}
                response = http.put(f"/api/v1/tenants/acme/voice/desk-phones/{agent_id}", json=phone, headers=admin)
                assert response.status_code == 200, response.text
        cluster.stop_node(0)
        with engine.begin() as connection:  # signed in, on break: calls wait until the agent is available
            connection.execute(
                update(agents).where(agents.c.tenant_id == "acme").values(presence="break", status="break")
            )
        cluster.start_node(0)
        cluster.start_node(1)
        wait_for(lambda: any("acme" in held(url) for url in cluster.urls), "a node to hold the tenant")
        holder = cluster.holder("acme")
        rpc = KamailioRpc(cluster.layout.rpc_socket)
        desk_phones = []
        for agent_id, tone in (("agent1", AGENT_TONE), ("agent2", SECOND_AGENT_TONE)):
            desk_phones.append(
                cluster.baresip(
                    f"{agent_id}-phone",
                    tone,
                    f"<sip:acme-{agent_id}@127.0.0.1:{cluster.sip_port}>;auth_pass=desk-phone-secret;answermode=auto;"
                    "regint=600",
                )
            )

            def registered(username: str = f"acme-{agent_id}") -> bool:
                try:
                    return bool(rpc.call("ul.lookup", "location", username))
                except Exception:
                    return False

            wait_for(registered, f"{agent_id}'s desk phone's registration")
        first_phone, second_phone = desk_phones
        # voicemail overflow of a call carried by the node that does not hold the tenant: the carrier asks the
        # holder whether anybody works the queue, and diverts the caller to voicemail (the prompt and its tone)
        (caller, call_id) = carried_elsewhere(cluster, engine, SUPPORT, "support-caller", cluster.names[holder])
        wait_for(
            lambda: first_run(labels_of(caller.heard(), PROMPT_HEARS), "prompt_tone") is not None,
            "the caller to hear the voicemail prompt's tone",
        )
        wait_for(lambda: calls(engine, "acme")[call_id][0] == "abandoned", "the call to be offered voicemail")
        caller.command("hangup")

        # click to dial, asked of the node that does not hold the tenant: its controller places and carries the
        # call, and the holder's decision when the agent hangs up in the console (asked of the holder) reaches it
        agent1 = agent_session(engine, "agent1")
        other = 1 - holder
        customer = cluster.baresip(
            "customer",
            OUTSIDE_TONE,
            f"<sip:+14155550188@127.0.0.1:{cluster.trunk_port}>;regint=0;answermode=auto",
            sip_port=cluster.trunk_port,
        )
        response = httpx.post(
            f"{cluster.urls[other]}/api/v1/me/calls", json={"to_address": "+14155550188"}, headers=agent1, timeout=10
        )
        assert response.status_code == 201, response.text
        dialled = response.json()["id"]
        assert calls(engine, "acme")[dialled][1] == cluster.names[other]  # its voice_node
        wait_for(lambda: first_phone.saw("CALL_ESTABLISHED"), "agent1's phone to answer")
        wait_for(lambda: customer.saw("CALL_ESTABLISHED"), "the customer to answer")
        wait_for(
            lambda: "customer" in runs(labels_of(first_phone.heard(), {"customer": (OUTSIDE_TONE,)})),
            "agent1 to hear the customer",
        )
        wait_for(
            lambda: "agent" in runs(labels_of(customer.heard(), {"agent": (AGENT_TONE,)})),
            "the customer to hear agent1",
        )
        response = httpx.post(
            f"{cluster.urls[holder]}/api/v1/me/interactions/{dialled}/end", json={}, headers=agent1, timeout=10
        )
        assert response.status_code == 200, response.text
        wait_for(lambda: customer.saw("CALL_CLOSED"), "the customer to be hung up")
        wait_for(lambda: first_phone.saw("CALL_CLOSED"), "agent1's phone to be hung up")
        response = httpx.post(
            f"{cluster.urls[holder]}/api/v1/me/interactions/{dialled}/complete", json={}, headers=agent1, timeout=10
        )
        assert response.status_code == 204, response.text
        customer.stop()  # the trunk's port is the outside party's below
        first_phone.events.clear()  # what agent1's phone sees from now on

        # calls wait (the agent is on break) until one is carried by the node that does not hold the tenant
        caller, call_id = carried_elsewhere(cluster, engine, number, "caller", cluster.names[holder])
        response = httpx.put(
            f"{cluster.urls[holder]}/api/v1/me/status", json={"status": "available"}, headers=agent1, timeout=10
        )
        assert response.status_code == 200, response.text
        wait_for(lambda: calls(engine, "acme")[call_id][0] == "connected", "the agent to answer")
        wait_for(lambda: runs(labels_of(caller.heard(), TRANSFER_HEARS))[-1:] == ["agent"], "the caller to hear agent1")

        # hold and resume, asked of the holder, done by the carrier: the caller hears the music, then the agent
        interaction = f"{cluster.urls[holder]}/api/v1/me/interactions/{call_id}"
        response = httpx.post(f"{interaction}/hold", headers=agent1, timeout=10)
        assert response.status_code == 200, response.text
        assert response.json()["data"].get("on_hold_since")
        wait_for(lambda: runs(labels_of(caller.heard(), TRANSFER_HEARS))[-2:] == ["agent", "music"], "hold music")
        response = httpx.post(f"{interaction}/resume", headers=agent1, timeout=10)
        assert response.status_code == 200, response.text
        wait_for(
            lambda: runs(labels_of(caller.heard(), TRANSFER_HEARS))[-3:] == ["agent", "music", "agent"],
            "the caller to hear agent1 again",
        )

        # a warm transfer: agent1 consults agent2 (asked of the holder) while the caller holds, then completes it
        # (asked of the carrier); the caller talks to agent2 and agent1's phone is hung up
        agent2 = agent_session(engine, "agent2")
        response = httpx.put(
            f"{cluster.urls[holder]}/api/v1/me/status", json={"status": "available"}, headers=agent2, timeout=10
        )
        assert response.status_code == 200, response.text
        response = httpx.post(f"{interaction}/consult", json={"target": "agent2"}, headers=agent1, timeout=10)
        assert response.status_code == 204, response.text
        wait_for(
            lambda: runs(labels_of(caller.heard(), TRANSFER_HEARS))[-2:] == ["agent", "music"], "music while consulting"
        )
        wait_for(
            lambda: "agent" in runs(labels_of(second_phone.heard(), {"agent": (AGENT_TONE,)})), "agent2 to hear agent1"
        )
        carrier_url = cluster.urls[1 - holder]
        response = httpx.post(
            f"{carrier_url}/api/v1/me/interactions/{call_id}/consult/complete", headers=agent1, timeout=10
        )
        assert response.status_code == 204, response.text
        wait_for(lambda: first_phone.saw("CALL_CLOSED"), "agent1's phone to be hung up")
        wait_for(
            lambda: runs(labels_of(caller.heard(), TRANSFER_HEARS))[-1:] == ["second"], "the caller to hear agent2"
        )
        wait_for(lambda: calls(engine, "acme")[call_id][0] == "connected", "the call to be agent2's")

        outside = cluster.baresip(
            "outside-party",
            OUTSIDE_TONE,
            f"<sip:+14155550199@127.0.0.1:{cluster.trunk_port}>;regint=0;answermode=auto",
            sip_port=cluster.trunk_port,
        )
        # a blind transfer to an outside number by agent2, asked of the carrier: the call is still bridged to
        # agent2 there (the holder's decision about the completed consult, which reaches the carrier after the
        # media moved, is not followed again)
        response = httpx.post(
            f"{carrier_url}/api/v1/me/interactions/{call_id}/transfer",
            json={"target": "+14155550199"},
            headers=agent2,
            timeout=10,
        )
        assert response.status_code == 204, response.text
        wait_for(lambda: second_phone.saw("CALL_CLOSED"), "agent2's phone to be hung up")
        incoming = wait_for(lambda: outside.saw("CALL_ESTABLISHED"), "the outside number to answer")
        assert number.lstrip("+") in str(incoming.get("peeruri", "")), incoming  # the tenant's number as caller id
        wait_for(
            lambda: "caller" in runs(labels_of(outside.heard(), AGENT_HEARS)), "the outside party to hear the caller"
        )
        hears = {"outside": (OUTSIDE_TONE,), **TRANSFER_HEARS}
        wait_for(
            lambda: runs(labels_of(caller.heard(), hears))[-1:] == ["outside"], "the caller to hear the outside party"
        )
        wait_for(lambda: calls(engine, "acme")[call_id][0] == "wrap_up", "agent2's wrap-up")

        # the carrier dies: a command for its call is refused with the reason. Until the bus has seen the dead
        # node's connection close, a command may still be sent to it and time out ("did not answer"): 503 too
        cluster.kill(1 - holder)

        def refused_as_stopped() -> bool:
            response = httpx.post(
                f"{cluster.urls[holder]}/api/v1/me/interactions/{call_id}/transfer",
                json={"target": "+14155550199"},
                headers=agent2,
                timeout=10,
            )
            assert response.status_code == 503, response.text
            return "the voice server carrying this call has stopped" in response.json()["message"]

        wait_for(refused_as_stopped, "a command to be refused because the voice server carrying the call stopped")
    finally:
        cluster.stop()
        engine.dispose()
