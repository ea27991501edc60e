"""A browser whose page is slow to reply to the INVITE still rings: on a busy machine a console's script got to the
INVITE, and so sent its 100 Trying, 6.9 s after Kamailio passed it on (20 consoles on 2 cores). With tm's 5 s reply
timer Kamailio answered 408 for the browser, the controller took it for a phone that is not there, declined the
offer and put the agent on break. The browser here is a WebSocket written by hand (as test_softphone_refusals.py's
REGISTERs) that replies 7 s late, as that page did.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

from tests.voice.conftest import DEADLINE, VoiceSystem, wait_for
from tests.voice.test_calls import caller_for, interaction
from tests.voice.test_softphone_refusals import md5
from websockets.sync.client import ClientConnection, connect

from callbridge.channels.sip.webrtc import softphone_user

CALLBRIDGE = "http://127.0.0.1:8000"  # the harness's public URL: the console's origin
LATE_SECONDS = 7.0  # later than tm's 5 s, as the page seen on the loaded machine


def _register(socket: ClientConnection, ws_url: str, user: str, username: str, password: str) -> None:
    """Registers `user` over the open WebSocket `socket` (challenge, digest): calls to it come over this socket."""
    host = ws_url.split("//", 1)[1].rstrip("/")
    call_id, tag, contact = secrets.token_hex(8), secrets.token_hex(4), secrets.token_hex(4)

    def request(cseq: int, authorization: str = "") -> str:
        lines = [
            f"REGISTER sip:{host} SIP/2.0",
            f"Via: SIP/2.0/WS {contact}.invalid;branch=z9hG4bK{secrets.token_hex(6)}",
            "Max-Forwards: 70",
            f"To: <sip:{user}@127.0.0.1>",
            f"From: <sip:{user}@127.0.0.1>;tag={tag}",
            f"Call-ID: {call_id}",
            f"CSeq: {cseq} REGISTER",
            f"Contact: <sip:{contact}@{contact}.invalid;transport=ws>;expires=600",
            *([authorization] if authorization else []),
            "Content-Length: 0",
        ]
        return "\r\n".join(lines) + "\r\n\r\n"

    socket.send(request(1))
    challenge = str(socket.recv(timeout=DEADLINE))
    nonce = re.search(r'nonce="([^"]+)"', challenge)
    assert nonce, challenge
    uri = f"sip:{host}"
    response = md5(f"{md5(f'{username}:callbridge:{password}')}:{nonce.group(1)}:{md5(f'REGISTER:{uri}')}")
    socket.send(
        request(
            2,
            f'Authorization: Digest username="{username}", realm="callbridge", nonce="{nonce.group(1)}", '
            f'uri="{uri}", response="{response}", algorithm=MD5',
        )
    )
    answer = str(socket.recv(timeout=DEADLINE))
    assert answer.startswith("SIP/2.0 200"), answer


def _reply(request: str, status: str) -> str:
    """A reply to `request` (its Via, From, To with a tag of ours, Call-ID, CSeq)."""
    headers = [
        line
        for line in request.split("\r\n")
        if line.split(":", 1)[0].lower() in ("via", "v", "from", "f", "call-id", "i", "cseq", "record-route")
    ]
    to = next(line for line in request.split("\r\n") if line.split(":", 1)[0].lower() in ("to", "t"))
    return "\r\n".join([f"SIP/2.0 {status}", *headers, f"{to};tag=slowpage", "Content-Length: 0"]) + "\r\n\r\n"


def test_a_browser_that_replies_to_the_invite_late_keeps_its_offer(voice_system: VoiceSystem) -> None:
    system = voice_system
    tenant, number = system.tenant(offer_timeout=60)
    agent = tenant.agent("agent1")  # no desk phone: the console's softphone rings
    found = system.harness.client.get("/api/v1/me/softphone", headers=agent)
    assert found.status_code == 200, found.text
    credentials: dict[str, Any] = found.json()
    user = softphone_user(tenant.id, "agent1")
    url = credentials["ws_url"]
    with connect(url, subprotocols=["sip"], origin=CALLBRIDGE, open_timeout=DEADLINE) as page:  # type: ignore[list-item]
        _register(page, url, user, credentials["username"], credentials["password"])
        caller = caller_for(system, "caller-for-a-slow-page")
        caller.command("dial", f"sip:{number}@127.0.0.1:{system.sip_port}")
        invite = str(page.recv(timeout=DEADLINE))
        assert invite.startswith("INVITE "), invite
        arrived = time.monotonic()
        # the page's script is busy: nothing goes back for LATE_SECONDS (the behaviour under test, not a wait)
        while (left := LATE_SECONDS - (time.monotonic() - arrived)) > 0:
            try:
                message = str(page.recv(timeout=left))
            except TimeoutError:
                break
            assert not message.startswith("CANCEL "), "Kamailio gave up on the browser before it could reply"
        page.send(_reply(invite, "100 Trying"))
        page.send(_reply(invite, "180 Ringing"))

        offered = interaction(system, tenant.id)
        assert offered is not None
        assert (offered["state"], offered.get("agent_id")) == ("offered", "agent1"), offered
        me = system.harness.client.get("/api/v1/me", headers=agent).json()
        assert me["agents"]["agent1"]["status"] != "break", me["agents"]["agent1"]

        caller.command("hangup")
        wait_for(lambda: interaction(system, tenant.id) is None, "the interaction to end")
