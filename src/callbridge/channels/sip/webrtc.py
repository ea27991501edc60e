"""The console's browser softphone: SIP over WebSocket to Kamailio, media through rtpengine as WebRTC.

Browsers register with short-lived credentials (Kamailio's `auth_ephemeral` module): the user name is
`<expiry>:<softphone user>` and the password base64(HMAC-SHA1(secret, user name)). The secret is made at every
start of voice and written only into Kamailio's generated configuration (0600), so a credential is at most
`voice_softphone_ttl_seconds` long (10 minutes by default) and a restart of Callbridge voids them all (the console
fetches new ones).

A credential is only as good as the agent session that asked for it (`GET /api/v1/me/softphone`): when the agent
signs out or is disabled, `revoke` marks every credential of theirs issued until then (Kamailio's
`softphone_revoked` table: the latest expiry such a credential can carry) and the voice channel removes the
browser's registration. Credentials issued afterwards expire later than the mark, so they work.

A call rings the browser when the agent's phone is the browser (the default for an agent without a desk phone,
`voice_phones`): rtpengine re-offers the caller's side towards the browser with ICE, DTLS-SRTP and Opus (the
caller keeps G.711, rtpengine transcodes), and the browser's answer is taken back to plain RTP/AVP.

Browsers behind NAT get ICE servers with their credentials (`ice_servers`): STUN URLs as configured, and TURN
URLs with TURN REST API credentials (what coturn's `use-auth-secret` checks): user name `<expiry>:<softphone
user>`, password base64(HMAC-SHA1(TURN secret, user name)), expiring with the SIP credentials.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any, Literal

RingsOn = Literal["browser", "desk"]
INTERACTION_HEADER = "X-Callbridge-Interaction"  # the console matches the ringing INVITE to its offer with it
CONSULT_HEADER = "X-Callbridge-Consult"  # a colleague's consult (consult.py): the agent id of who asks

# Towards the browser: WebRTC's media profile. rtpengine keeps G.711 towards the caller and transcodes; the
# browser is offered Opus only (G.711 masked), so every browser leg is the same, measured, kind. (No
# `SDES: off`: on a re-offer rtpengine 10.5 then wants SRTP towards the plain-RTP caller and sends nothing.)
WEBRTC_OFFER: dict[str, Any] = {
    "ICE": "force",
    "transport-protocol": "UDP/TLS/RTP/SAVPF",
    "rtcp-mux": ["require"],
    "codec": {"mask": ["PCMU", "PCMA"], "transcode": ["opus"]},
    "replace": ["origin", "session-connection"],
    "flags": ["port-latching", "generate-mid"],
}
# The browser's answer, as the caller's side sees it: plain RTP, its own RTCP port, no ICE.
WEBRTC_ANSWER: dict[str, Any] = {
    "ICE": "remove",
    "transport-protocol": "RTP/AVP",
    "rtcp-mux": ["demux"],
    "replace": ["origin", "session-connection"],
    "flags": ["port-latching"],
}


# A browser's side, when it is the offerer of a pairing (a consult from a browser, webrtc.py's `pairing`): it
# stays WebRTC. The flags of an answer shape the offerer's side, so without these a browser agent's leg would be
# turned into plain RTP without ICE, and the browser would stop hearing anything.
BROWSER_SIDE_ANSWER: dict[str, Any] = {
    "ICE": "force",
    "transport-protocol": "UDP/TLS/RTP/SAVPF",
    "rtcp-mux": ["require"],
    "replace": ["origin", "session-connection"],
    "flags": ["port-latching"],
}
# A desk phone's side offered from a browser's (Opus only): plain RTP, G.711 added for rtpengine to transcode to.
PLAIN_FROM_BROWSER_OFFER: dict[str, Any] = {
    "ICE": "remove",
    "transport-protocol": "RTP/AVP",
    "rtcp-mux": ["demux"],
    "codec": {"transcode": ["PCMU", "PCMA"]},
    "replace": ["origin", "session-connection"],
    "flags": ["port-latching"],
}


def pairing(
    *, offerer_browser: bool, answerer_browser: bool, plain: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """rtpengine's flags for making two monologues of a call each other's peers (`offer` from one tag to the
    other, then `answer`): the offer's flags shape the answerer's side, the answer's the offerer's. Each side keeps
    its own kind: a browser's WebRTC (ICE, DTLS-SRTP, Opus), a SIP phone's plain RTP (`plain`); rtpengine
    transcodes between them."""
    if not offerer_browser and not answerer_browser:
        return plain, plain
    offer = WEBRTC_OFFER if answerer_browser else PLAIN_FROM_BROWSER_OFFER
    answer = BROWSER_SIDE_ANSWER if offerer_browser else WEBRTC_ANSWER
    return offer, answer


# RFC 7064 (stun:, stuns:) and RFC 7065 (turn:, turns:): host, optional port, and for TURN an optional transport.
_ICE_URL = re.compile(
    r"^(?P<scheme>stuns?|turns?):(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)"
    r"(?::(?P<port>[0-9]{1,5}))?(?:\?transport=(?P<transport>udp|tcp))?$"
)
_EXAMPLE = {"stun": "stun:stun.example.com:3478", "turn": "turn:turn.example.com:3478?transport=udp"}


def parse_ice_urls(value: str, variable: str, schemes: tuple[str, ...]) -> tuple[str, ...]:
    """The comma-separated URLs of `variable` (a setting), each checked as a browser would: a URL it refuses
    would make every softphone call fail in the browser, so it is refused at start-up, naming the variable."""
    urls = tuple(part.strip() for part in value.split(",") if part.strip())
    for url in urls:
        found = _ICE_URL.match(url)
        port = int(found.group("port") or 3478) if found else 0
        transport_ok = found is not None and (found.group("transport") is None or found.group("scheme") == "turn")
        if found is None or found.group("scheme") not in schemes or not 1 <= port <= 65535 or not transport_ok:
            raise ValueError(
                f"{variable}: {url!r} is not a {' or '.join(s + ':' for s in schemes)} URL "
                f"(e.g. {_EXAMPLE[schemes[0]]})"
            )
    return urls


def turn_password(secret: str, username: str) -> str:
    """The TURN REST API's password (coturn `use-auth-secret`): base64(HMAC-SHA1(shared secret, user name))."""
    return ephemeral_password(secret, username)


@dataclass(frozen=True, slots=True)
class IceServers:
    """The STUN and TURN servers a softphone's peer connection uses (RTCIceServer entries)."""

    stun_urls: tuple[str, ...] = ()
    turn_urls: tuple[str, ...] = ()
    turn_secret: str = ""

    def for_user(self, username: str) -> list[dict[str, Any]]:
        """`username` is `<expiry>:<softphone user>`: the TURN credential ends with the SIP one."""
        servers: list[dict[str, Any]] = []
        if self.stun_urls:
            servers.append({"urls": list(self.stun_urls)})
        if self.turn_urls:
            credential = turn_password(self.turn_secret, username)
            servers.append({"urls": list(self.turn_urls), "username": username, "credential": credential})
        return servers


@dataclass(frozen=True, slots=True)
class SoftphoneCredentials:
    ws_url: str
    aor: str
    username: str
    password: str
    expires_at: int
    ice_servers: list[dict[str, Any]]


def softphone_user(tenant_id: str, agent_id: str) -> str:
    """The SIP user of an agent's browser: stable (the controller rings it), opaque (ids may hold anything a
    SIP user part may not), distinct from desk phones' user names (which cannot contain '~')."""
    digest = hashlib.sha256(f"{tenant_id}\0{agent_id}".encode()).hexdigest()[:24]
    return f"web~{digest}"


def new_secret() -> str:
    return secrets.token_hex(32)


def ephemeral_password(secret: str, username: str) -> str:
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1)
    return base64.b64encode(mac.digest()).decode()


def browser_sdp(sdp: str) -> str:
    """rtpengine's offer, fit for a browser.

    * No `a=ssrc`: rtpengine passes the caller's through while it sends its transcoded stream under another
      SSRC, and Chromium then plays silence.
    * `a=setup:active` instead of `actpass` (allowed in an offer since RFC 8842): rtpengine 10.5 starts its DTLS
      handshake as the client before the browser's answer is back, and a browser that also chose the client
      role (as browsers do for actpass) fails the connection. Told so, the browser waits as the server."""
    lines = sdp.replace("\r\n", "\n").split("\n")
    kept = [line for line in lines if not line.startswith(("a=ssrc:", "a=ssrc-group:"))]
    kept = ["a=setup:active" if line == "a=setup:actpass" else line for line in kept]
    return "\r\n".join(kept)


class Softphones:
    """Credentials for agents' browsers, and the media offer a ringing browser gets."""

    def __init__(
        self,
        *,
        ws_url: str,
        domain: str,
        ttl_seconds: int,
        secret: str | None = None,
        ice_servers: IceServers | None = None,
    ) -> None:
        self.ws_url = ws_url
        self.ice_servers = ice_servers or IceServers()
        self.domain = domain
        self.ttl_seconds = ttl_seconds
        self.secret = secret or new_secret()
        self.revoked: dict[str, int] = {}  # softphone user → revocation mark (see `revoke`), until it passes

    def credentials(self, tenant_id: str, agent_id: str, now: float) -> SoftphoneCredentials:
        user = softphone_user(tenant_id, agent_id)
        # after a revocation in this same second, a new credential must still expire later than its mark
        expires_at = max(int(now) + self.ttl_seconds, self.revoked.get(user, 0) + 1)
        username = f"{expires_at}:{user}"
        return SoftphoneCredentials(
            ws_url=self.ws_url,
            aor=f"sip:{user}@{self.domain}",
            username=username,
            password=ephemeral_password(self.secret, username),
            expires_at=expires_at,
            ice_servers=self.ice_servers.for_user(username),
        )

    def revoke(self, tenant_id: str, agent_id: str, now: float) -> tuple[str, int]:
        """Voids the agent's credentials issued until `now`: returns their softphone user and the mark Kamailio
        refuses credentials up to (the latest expiry one of them can carry)."""
        user = softphone_user(tenant_id, agent_id)
        mark = max(int(now) + self.ttl_seconds, self.revoked.get(user, 0))
        self.revoked = {u: m for u, m in self.revoked.items() if m > now}  # the rest expired on their own
        self.revoked[user] = mark
        return user, mark

    def revocations(self, now: float) -> dict[str, int]:
        """The marks still in force, for a Kamailio that started again (its tables start empty)."""
        return {user: mark for user, mark in self.revoked.items() if mark > now}


@dataclass(frozen=True, slots=True)
class RingTarget:
    """Where an offer rings: the registered SIP user, the SDP its INVITE carries, and the rtpengine flags its
    answer is taken with."""

    username: str
    sdp: str
    answer_options: dict[str, Any]
    webrtc: bool


async def ring_target(
    *,
    directory: Any,
    ng: Any,
    softphones: Softphones | None,
    call: Any,
    agent_id: str,
    plain_options: dict[str, Any],
) -> RingTarget | None:
    """The agent's browser or desk phone, as they chose (`voice_phones`). The callee side of rtpengine is offered
    again when the kind of phone changes from one ring to the next (a browser missed the offer, a desk phone
    takes it): its ports towards the caller stay (port latching)."""
    import asyncio

    choice = await asyncio.to_thread(directory.agent_phone, call.tenant_id, agent_id)
    if choice is None:
        return None
    if choice.rings == "browser" and softphones is not None:
        offer = await ng.command("offer", _offer_arguments(call, WEBRTC_OFFER))
        call.callee_webrtc = True
        return RingTarget(softphone_user(call.tenant_id, agent_id), browser_sdp(offer["sdp"]), WEBRTC_ANSWER, True)
    if choice.desk_phone is None:
        return None
    sdp = call.callee_sdp
    if getattr(call, "callee_webrtc", False):
        sdp = (await ng.command("offer", _offer_arguments(call, plain_options)))["sdp"]
        call.callee_sdp = sdp
        call.callee_webrtc = False
    return RingTarget(choice.desk_phone, sdp, plain_options, False)


def _offer_arguments(call: Any, options: dict[str, Any]) -> dict[str, Any]:
    return {"call-id": call.sip_call_id, "from-tag": call.caller_tag, "sdp": call.caller_sdp, **options}
