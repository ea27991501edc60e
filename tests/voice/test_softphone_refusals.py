"""The browser softphone's registrar (SIP over WebSocket, Kamailio `auth_ephemeral`): only the credentials Callbridge
handed out, unexpired, for the agent's own SIP user, register; anything else gets 403 and a line in Kamailio's log.
Only Callbridge's own pages may open the WebSocket (its `Origin`), and an agent's credentials stop working when they
sign out or are disabled.

The REGISTERs are written here (as the sipp scenarios of test_refusals.py are): a browser would send the same.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import signal
import time
from typing import Any

import pytest
from tests.voice.conftest import DEADLINE, VoiceSystem, wait_for
from tests.voice.test_engines import engine, engine_pid
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from callbridge.channels.sip.webrtc import ephemeral_password, softphone_user


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


CALLBRIDGE = "http://127.0.0.1:8000"  # the harness's public URL: the console's origin


def register(
    ws_url: str, aor_user: str, username: str, password: str, realm: str = "callbridge", origin: str = CALLBRIDGE
) -> int:
    """A browser's REGISTER, challenged then answered with the digest of `username`/`password`; the final code."""
    call_id = secrets.token_hex(8)
    host = ws_url.split("//", 1)[1].rstrip("/")

    def request(cseq: int, authorization: str = "") -> str:
        lines = [
            f"REGISTER sip:{host} SIP/2.0",
            f"Via: SIP/2.0/WS {secrets.token_hex(4)}.invalid;branch=z9hG4bK{secrets.token_hex(6)}",
            "Max-Forwards: 70",
            f"To: <sip:{aor_user}@127.0.0.1>",
            f"From: <sip:{aor_user}@127.0.0.1>;tag={secrets.token_hex(4)}",
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} REGISTER",
            f"Contact: <sip:{secrets.token_hex(4)}@{secrets.token_hex(4)}.invalid;transport=ws>;expires=60",
            *([authorization] if authorization else []),
            "Content-Length: 0",
        ]
        return "\r\n".join(lines) + "\r\n\r\n"

    with connect(ws_url, subprotocols=["sip"], origin=origin, open_timeout=DEADLINE) as socket:  # type: ignore[list-item,arg-type]
        socket.send(request(1))
        challenge = str(socket.recv(timeout=DEADLINE))
        assert challenge.startswith("SIP/2.0 401"), challenge
        nonce = re.search(r'nonce="([^"]+)"', challenge)
        assert nonce, challenge
        uri = f"sip:{host}"
        response = md5(f"{md5(f'{username}:{realm}:{password}')}:{nonce.group(1)}:{md5(f'REGISTER:{uri}')}")
        authorization = (
            f'Authorization: Digest username="{username}", realm="{realm}", nonce="{nonce.group(1)}", '
            f'uri="{uri}", response="{response}", algorithm=MD5'
        )
        socket.send(request(2, authorization))
        return int(str(socket.recv(timeout=DEADLINE)).split()[1])


def test_only_unexpired_credentials_for_the_agents_own_user_register(voice_system: VoiceSystem) -> None:
    softphones: Any = voice_system.voice.softphones
    tenant, _number = voice_system.tenant()
    mine = softphones.credentials(tenant.id, "agent1", time.time())
    user = softphone_user(tenant.id, "agent1")

    assert register(softphones.ws_url, user, mine.username, mine.password) == 200
    assert voice_system.registered(user)

    assert register(softphones.ws_url, user, mine.username, mine.password + "x") == 403
    expired = f"{int(time.time()) - 5}:{user}"
    assert register(softphones.ws_url, user, expired, ephemeral_password(softphones.secret, expired)) == 403
    someone_else = softphone_user(tenant.id, "agent2")
    assert register(softphones.ws_url, someone_else, mine.username, mine.password) == 403
    forged = f"{int(time.time()) + 600}:{user}"
    assert register(softphones.ws_url, user, forged, ephemeral_password("not the secret", forged)) == 403
    assert not voice_system.registered(someone_else)

    log = voice_system.voice.voice_dir / "kamailio.log"
    wait_for(
        lambda: log.read_text(errors="replace").count("voice: browser REGISTER") >= 4,
        "Kamailio's log lines about the refused browsers",
    )


@pytest.mark.parametrize("origin", ["https://evil.example", "http://127.0.0.1:8001", "null", None])
def test_only_callbridges_pages_may_open_the_softphone_websocket(voice_system: VoiceSystem, origin: str | None) -> None:
    softphones: Any = voice_system.voice.softphones
    assert voice_system.voice.layout.ws_allowed_origins == (CALLBRIDGE,)
    with pytest.raises(InvalidStatus) as refused:
        connect(softphones.ws_url, subprotocols=["sip"], origin=origin, open_timeout=DEADLINE)  # type: ignore[list-item,arg-type]
    assert refused.value.response.status_code == 403
    log = voice_system.voice.voice_dir / "kamailio.log"
    wait_for(lambda: "is not Callbridge's" in log.read_text(errors="replace"), "Kamailio's line about the refusal")


def _softphone(voice_system: VoiceSystem, agent: dict[str, str]) -> dict[str, Any]:
    answer = voice_system.harness.client.get("/api/v1/me/softphone", headers=agent)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    assert found["available"] is True, found
    assert found["ice_servers"] == [], found  # none configured: none given (never sip.js's default public STUN)
    return found


def _register(voice_system: VoiceSystem, credentials: dict[str, Any]) -> int:
    user = credentials["aor"].split(":", 1)[1].split("@", 1)[0]
    return register(credentials["ws_url"], user, credentials["username"], credentials["password"])


def test_signing_out_voids_the_softphones_credentials_and_its_registration(voice_system: VoiceSystem) -> None:
    tenant, _number = voice_system.tenant()
    client = voice_system.harness.client
    agent = voice_system.harness.sign_in(tenant.id, "agent1")
    mine = _softphone(voice_system, agent)
    user = softphone_user(tenant.id, "agent1")
    assert _register(voice_system, mine) == 200
    assert voice_system.registered(user)

    assert client.post("/api/v1/me/sign-out", headers=agent).status_code == 204
    wait_for(lambda: not voice_system.registered(user), "the browser's registration removed at sign-out")
    assert _register(voice_system, mine) == 403  # the credentials have not expired, but are void
    assert not voice_system.registered(user)
    log = voice_system.voice.voice_dir / "kamailio.log"
    wait_for(lambda: "credentials revoked at sign-out" in log.read_text(errors="replace"), "Kamailio's line")

    again = voice_system.harness.sign_in(tenant.id, "agent1")  # at once, in the same second too
    fresh = _softphone(voice_system, again)
    assert _register(voice_system, fresh) == 200
    assert _register(voice_system, mine) == 403  # the old ones stay void
    other = _softphone(voice_system, voice_system.harness.sign_in(tenant.id, "agent2"))
    assert _register(voice_system, other) == 200  # nobody else's are touched


def test_disabling_a_signed_in_agent_voids_their_softphone(voice_system: VoiceSystem) -> None:
    tenant, _number = voice_system.tenant()
    client, admin = voice_system.harness.client, voice_system.harness.admin
    agent = voice_system.harness.sign_in(tenant.id, "agent2")
    mine = _softphone(voice_system, agent)
    user = softphone_user(tenant.id, "agent2")
    assert _register(voice_system, mine) == 200

    path = f"/api/v1/tenants/{tenant.id}/agents/agent2"
    row = client.get(path, headers=admin).json()
    fields = ("email", "display_name", "roles", "skills", "capacity", "queue_ids")
    disabled = client.put(path, json={**{k: row[k] for k in fields}, "enabled": False}, headers=admin)
    assert disabled.status_code == 200, disabled.text
    wait_for(lambda: not voice_system.registered(user), "the disabled agent's registration removed")
    assert _register(voice_system, mine) == 403


def test_a_revocation_survives_a_kamailio_restart(voice_system: VoiceSystem) -> None:
    """Kamailio's tables start empty when the watcher starts it again: Callbridge gives the revocations back."""
    tenant, _number = voice_system.tenant()
    agent = voice_system.harness.sign_in(tenant.id, "agent1")
    mine = _softphone(voice_system, agent)
    assert voice_system.harness.client.post("/api/v1/me/sign-out", headers=agent).status_code == 204
    user = softphone_user(tenant.id, "agent1")
    wait_for(lambda: voice_system.voice.softphones.revocations(time.time()).get(user), "the revocation")
    before = engine(voice_system, "kamailio")
    os.kill(before, signal.SIGKILL)
    wait_for(lambda: engine_pid(voice_system, "kamailio") not in (None, before), "kamailio to be started again")
    wait_for(lambda: voice_system.harness.client.get("/readyz").status_code == 200, "readyz 200")
    assert _register(voice_system, mine) == 403
