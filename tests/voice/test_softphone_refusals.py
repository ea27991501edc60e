"""The browser softphone's registrar (SIP over WebSocket, Kamailio `auth_ephemeral`): only the credentials Callbridge
handed out, unexpired, for the agent's own SIP user, register; anything else gets 403 and a line in Kamailio's log.

The REGISTERs are written here (as the sipp scenarios of test_refusals.py are): a browser would send the same.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from typing import Any

from tests.voice.conftest import DEADLINE, VoiceSystem, wait_for
from websockets.sync.client import connect

from callbridge.channels.sip.webrtc import ephemeral_password, softphone_user


def md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def register(ws_url: str, aor_user: str, username: str, password: str, realm: str = "callbridge") -> int:
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

    with connect(ws_url, subprotocols=["sip"], open_timeout=DEADLINE) as socket:  # type: ignore[list-item]
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
