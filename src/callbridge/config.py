"""Configuration: environment variables (CALLBRIDGE_*) and an optional TOML file.

The TOML file is read from the path in CALLBRIDGE_CONFIG_FILE, if set;
environment variables win over it.
"""

from __future__ import annotations

import os
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from callbridge_ratelimit import valid_rate

if TYPE_CHECKING:
    from callbridge.auth.login_throttle import ThrottlePolicy
    from callbridge.outbound import OutboundPolicy


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CALLBRIDGE_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///var/callbridge.db",
        description="SQLAlchemy URL. SQLite (the default) needs no set-up; PostgreSQL: postgresql+psycopg://…",
    )
    data_dir: Path = Field(default=Path("var"), description="Where the SQLite file, keys and uploads live.")
    host: str = Field(default="127.0.0.1", description="Address `callbridge serve` binds to.")
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = Field(default="", description="The URL agents reach Callbridge at; derived from host/port.")
    secret_key: str = Field(
        default="", description="Signs sessions and encrypts stored CRM tokens; generated into data_dir if empty."
    )
    heartbeat_timeout_seconds: float = Field(
        default=30.0, gt=0, description="An agent silent for longer is treated as gone (break: connection_lost)."
    )
    heartbeat_interval_seconds: float = Field(default=10.0, gt=0, description="How often consoles should ping.")
    summary_interval_seconds: float = Field(
        default=0.5, gt=0, le=5, description="How often colleagues' presence and queue summaries are pushed."
    )
    default_wrap_up_seconds: int = Field(default=30, ge=0, description="Wrap-up time of calls outside any queue.")
    log_format: str = Field(default="console", pattern="^(console|json)$")
    log_level: str = Field(default="INFO")
    ws_ticket_seconds: float = Field(default=30.0, gt=0)
    voicemail_max_bytes: int = Field(
        default=10 * 1024 * 1024, gt=0, description="Largest voicemail audio upload accepted (413 above it)."
    )
    chat_max_message_chars: int = Field(
        default=2000, ge=1, le=20000, description="Longest chat message, in characters."
    )
    chat_max_messages: int = Field(default=2000, ge=1, description="Most messages one chat conversation may hold.")
    chat_messages_per_minute: int = Field(
        default=60, ge=1, description="Frames (messages, typing) one chat participant may send per minute."
    )
    chat_starts_per_minute: int = Field(
        default=10, ge=1, description="Chats one client address may start per minute through the widget."
    )
    chat_reconnect_grace_seconds: float = Field(
        default=30.0, ge=0, description="A customer whose chat connection drops and stays away this long has left."
    )
    outbound_allowed_networks: str = Field(
        default="",
        description="Internal address ranges Callbridge may connect to for a tenant's URLs (CRM, webhook, single "
        "sign-on), comma-separated, e.g. 127.0.0.0/8 for a built-in CRM on this machine. Empty: public addresses only.",
    )

    rate_limit_storage: str = Field(
        default="",
        description="Where request rate limits are counted: empty (the database when it is PostgreSQL, so every "
        "node shares the counts; memory with SQLite), `memory`, `database`, or a Redis URI (redis://host:6379/0).",
    )
    rate_limit_sign_in: str = Field(
        default="60/minute",
        description="Password sign-in requests one client address may make (admin API and page), e.g. 60/minute.",
    )
    rate_limit_anonymous: str = Field(
        default="600/minute",
        description="Requests one client address may make to the other routes that need no credential (single "
        "sign-on, WebSocket connections, the chat widget's routes), e.g. 600/minute.",
    )

    login_account_failures: int = Field(
        default=5, ge=1, description="Wrong passwords for one account before each further one delays sign-in."
    )
    login_address_failures: int = Field(
        default=20, ge=1, description="Wrong passwords from one client address before each further one delays it."
    )
    login_delay_seconds: float = Field(
        default=1.0, gt=0, description="The first delay; it doubles with every further wrong password."
    )
    login_max_delay_seconds: float = Field(default=300.0, gt=0, description="The longest delay (never a lock-out).")
    trusted_proxies: str = Field(
        default="",
        description="Addresses or networks of the reverse proxies in front of Callbridge, comma-separated (e.g. "
        "10.0.0.5,10.1.0.0/16). Only a request whose direct peer is one of them has its client address and scheme "
        "taken from X-Forwarded-For / X-Forwarded-Proto. Empty: forwarding headers are never trusted.",
    )

    cluster_enabled: bool = Field(
        default=False,
        description="Run as one node of several on one PostgreSQL database: each tenant runs on the node holding "
        "its lease. SQLite (the default) is single-node only.",
    )
    node_id: str = Field(
        default="",
        max_length=200,
        description="This node's name on tenant leases; unique per node. Empty: <hostname>:<port>.",
    )
    node_url: str = Field(
        default="",
        description="The URL other nodes and clients reach this node at (named in 503s for tenants held "
        "elsewhere). Empty: http://<host>:<port>.",
    )
    lease_seconds: float = Field(
        default=5.0,
        ge=0.5,
        le=300,
        description="How long a tenant's lease lasts without renewal (renewed every third of it): a node that "
        "dies loses its tenants to the others within about this time and a third.",
    )
    bus_url: str = Field(
        default="",
        description="NATS server(s) the nodes of a cluster share, e.g. nats://10.0.0.9:4222 (comma-separated for "
        "several): requests for a tenant another node holds are forwarded to it, and its events reach "
        "WebSockets on every node. Empty: no bus; such requests answer 503 naming the holder.",
    )
    forward_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="How long a node waits for the holder's answer to a forwarded request before answering 503.",
    )

    @model_validator(mode="after")
    def _cluster_needs_postgresql(self) -> Settings:
        if self.cluster_enabled and not self.database_url.startswith("postgresql"):
            raise ValueError(
                "CALLBRIDGE_CLUSTER_ENABLED needs PostgreSQL: set CALLBRIDGE_DATABASE_URL=postgresql+psycopg://… "
                "(SQLite runs one node only)"
            )
        if self.bus_url and not self.cluster_enabled:
            raise ValueError("CALLBRIDGE_BUS_URL joins the nodes of a cluster: set CALLBRIDGE_CLUSTER_ENABLED=true too")
        return self

    @field_validator("rate_limit_sign_in", "rate_limit_anonymous")
    @classmethod
    def _a_rate(cls, value: str) -> str:
        return valid_rate(value)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, value: str) -> str:
        parse_proxies(value)
        return value

    def login_throttle_policy(self) -> ThrottlePolicy:
        from callbridge.auth.login_throttle import ThrottlePolicy

        return ThrottlePolicy(
            self.login_account_failures,
            self.login_address_failures,
            self.login_delay_seconds,
            max(self.login_max_delay_seconds, self.login_delay_seconds),
        )

    def trusted_proxy_networks(self) -> list[str]:
        return [str(network) for network in parse_proxies(self.trusted_proxies)]

    voice_enabled: bool = Field(
        default=False,
        description="Carry real phone calls: `callbridge serve` starts the voice controller (SIP, channels/sip) and, "
        "unless voice_manage_engines is off, Kamailio and rtpengine with configuration it generates.",
    )
    voice_manage_engines: bool = Field(
        default=True,
        description="Start and stop Kamailio and rtpengine (config under <data_dir>/voice/); off: connect to ones "
        "the administrator runs at the addresses below.",
    )
    voice_sip_address: str = Field(default="127.0.0.1", description="Address Kamailio (the SIP edge) listens on.")
    voice_sip_port: int = Field(default=5060, ge=1, le=65535, description="Kamailio's SIP port (UDP).")
    voice_controller_address: str = Field(
        default="127.0.0.1", description="Address the voice controller (SIP back-to-back agent) listens on."
    )
    voice_controller_port: int = Field(default=5080, ge=1, le=65535, description="The controller's SIP port (UDP).")
    voice_controllers: str = Field(
        default="",
        description="Voice on several nodes: every node's voice controller (comma-separated IP:port, UDP), which "
        "Kamailio's dispatcher spreads new calls over, probing each with OPTIONS; empty: this node's controller "
        "only. It shapes the Kamailio script this node generates (voice_manage_engines, or engines.kamailio_config).",
        pattern=r"^$|^\s*[0-9.]+:[0-9]{1,5}\s*(,\s*[0-9.]+:[0-9]{1,5}\s*)*$",
    )
    voice_kamailio_rpc: Path | None = Field(
        default=None,
        description="Kamailio's JSON-RPC Unix socket when the administrator runs Kamailio (voice_manage_engines "
        "off); unset: <data_dir>/voice/kamailio-rpc.sock. Nodes sharing one Kamailio name the same socket.",
    )
    voice_rtpengine_ng: str = Field(
        default="127.0.0.1:2223", description="rtpengine's NG control address (host:port, UDP)."
    )
    voice_dtmf_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="UDP port on voice_controller_address where the controller hears the keys callers press "
        "(rtpengine's --dtmf-log-dest), for voice menus; 0: a free port chosen at each start. Set it when you run "
        "rtpengine yourself (voice_manage_engines off).",
    )
    voice_rtp_address: str = Field(default="127.0.0.1", description="Address rtpengine sends and receives RTP on.")
    voice_rtp_port_min: int = Field(default=30000, ge=1024, le=65535, description="Lowest RTP port rtpengine uses.")
    voice_rtp_port_max: int = Field(default=30999, ge=1024, le=65535, description="Highest RTP port rtpengine uses.")
    voice_sip_realm: str = Field(
        default="callbridge", pattern=r"^[A-Za-z0-9.\-]{1,100}$", description="Digest realm desk phones sign in to."
    )
    voice_trunk_networks: str = Field(
        default="",
        description="Source addresses (comma-separated IPs or CIDR ranges) the carrier trunk's calls may come from; "
        "calls from anywhere else get 403. Empty: no trunk calls are accepted.",
    )
    voice_trunk_address: str = Field(
        default="",
        description="The carrier's SIP address for calls Callbridge places (click to dial, transfers to outside "
        "numbers): IP or IP:port (port 5060 by default over UDP, 5061 over TLS; see voice_trunk_transport). Empty: "
        "no call goes out.",
        pattern=r"^$|^[0-9.]+(:[0-9]{1,5})?$",
    )
    voice_trunk_transport: Literal["udp", "tls"] = Field(
        default="udp",
        description="How Kamailio sends calls to voice_trunk_address: `udp`, or `tls` (SIP over TLS, the carrier's "
        "TLS port, usually 5061; needs voice_sip_tls_port, whose certificate Kamailio shows the carrier if asked). "
        "Over TLS the carrier's certificate must chain to voice_trunk_ca_file (or the system's CAs); a carrier that "
        "fails this gets no call, and the agent is told why.",
    )
    voice_trunk_ca_file: Path | None = Field(
        default=None,
        description="PEM file of the CAs that may sign the carrier's TLS certificate (voice_trunk_transport=tls); "
        "unset: the system's CAs (/etc/ssl/certs/ca-certificates.crt).",
    )
    voice_trunk_verify: bool = Field(
        default=True,
        description="Whether Kamailio checks the carrier's TLS certificate (voice_trunk_transport=tls). false: it "
        "does not, and anyone on the path can pose as the carrier and hear the calls: for a lab only.",
    )
    voice_trunk_username: str = Field(
        default="",
        pattern=r'^[^\s"\\]{0,200}$',
        description="User name Callbridge answers the carrier's digest challenge (401 WWW-Authenticate or 407 "
        "Proxy-Authenticate) with, for calls it places (click to dial, transfers to outside numbers); goes with "
        "voice_trunk_password. Empty: calls are sent without credentials, and a carrier that asks for them gets none.",
    )
    voice_trunk_password: SecretStr = Field(
        default=SecretStr(""),
        description="The password for voice_trunk_username (a secret: never logged, never shown). A carrier that "
        "refuses the credentials (403, or a second challenge) gets no call, and the agent is told why.",
    )
    voice_ws_address: str = Field(
        default="127.0.0.1",
        description="Address Kamailio accepts SIP over WebSocket on (the console's browser softphone).",
    )
    voice_ws_port: int = Field(
        default=5066, ge=0, le=65535, description="Kamailio's SIP-over-WebSocket port (TCP); 0: no browser softphone."
    )
    voice_ws_url: str = Field(
        default="",
        description="The WebSocket URL browsers connect to (e.g. wss://sip.example.com/ behind a TLS proxy); "
        "empty: ws://<voice_ws_address>:<voice_ws_port>/ (wss:// with voice_wss_cert).",
    )
    voice_wss_cert: Path | None = Field(
        default=None,
        description="PEM certificate (chain) for Kamailio to serve the softphone's WebSocket over TLS (WSS) on "
        "voice_ws_port, with voice_wss_key; browsers need WSS when the console is served over https. Its name "
        "must be the host in the WebSocket URL. Unset: plain WS (or TLS ended by a proxy in front, voice_ws_url).",
    )
    voice_wss_key: Path | None = Field(
        default=None, description="The PEM private key of voice_wss_cert (unencrypted: Kamailio reads it at start)."
    )
    voice_sip_tls_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Kamailio's SIP-over-TLS port (TCP, usually 5061) on voice_sip_address, for desk phones and the "
        "carrier trunk: phones register over it with their digest credentials, and only voice_trunk_networks may "
        "start calls over it, as over UDP. It serves the certificate of voice_wss_cert and voice_wss_key (Kamailio's "
        "one TLS certificate), which it needs. 0: no SIP over TLS.",
    )
    voice_softphone_secret: str = Field(
        default="",
        description="The secret Kamailio checks browsers' short-lived SIP credentials with (auth_ephemeral); empty: "
        "a new random one at each start. Set it when you run Kamailio yourself (voice_manage_engines off).",
    )
    voice_softphone_ttl_seconds: int = Field(
        default=600,
        ge=60,
        le=86400,
        description="How long the browser softphone's SIP credentials (derived from the agent's session) stay valid.",
    )
    voice_stun_urls: str = Field(
        default="",
        description="STUN servers the console's softphone asks for its public address (comma-separated `stun:` or "
        "`stuns:` URLs, e.g. stun:stun.example.com:3478); empty: none.",
    )
    voice_turn_urls: str = Field(
        default="",
        description="TURN servers that relay the softphone's media when a browser cannot reach rtpengine directly "
        "(comma-separated `turn:`/`turns:` URLs, e.g. turn:turn.example.com:3478?transport=udp); needs "
        "voice_turn_secret. Empty: none.",
    )
    voice_turn_secret: str = Field(
        default="",
        description="The TURN server's shared secret (coturn `static-auth-secret`): each softphone gets a TURN user "
        "name `<expiry>:<softphone user>` and password base64(HMAC-SHA1(secret, user name)), valid as long as its "
        "SIP credentials (voice_softphone_ttl_seconds).",
    )
    voice_hold_music: Path | None = Field(
        default=None,
        description="Audio file (WAV, MP3) played to waiting callers; unset: a tune generated with sox at start-up.",
    )

    @field_validator("voice_trunk_networks")
    @classmethod
    def _trunk_networks(cls, value: str) -> str:
        import ipaddress

        for part in value.split(","):
            if part.strip():
                ipaddress.ip_network(part.strip(), strict=False)
        return value

    @field_validator("voice_stun_urls")
    @classmethod
    def _stun_urls(cls, value: str) -> str:
        from callbridge.channels.sip.webrtc import parse_ice_urls

        parse_ice_urls(value, "CALLBRIDGE_VOICE_STUN_URLS", ("stun", "stuns"))
        return value

    @field_validator("voice_turn_urls")
    @classmethod
    def _turn_urls(cls, value: str) -> str:
        from callbridge.channels.sip.webrtc import parse_ice_urls

        parse_ice_urls(value, "CALLBRIDGE_VOICE_TURN_URLS", ("turn", "turns"))
        return value

    @model_validator(mode="after")
    def _wss_needs_both_files(self) -> Settings:
        if (self.voice_wss_cert is None) != (self.voice_wss_key is None):
            raise ValueError(
                "CALLBRIDGE_VOICE_WSS_CERT and CALLBRIDGE_VOICE_WSS_KEY go together (Kamailio's certificate and key)"
            )
        if bool(self.voice_trunk_username) != bool(self.voice_trunk_password.get_secret_value()):
            raise ValueError(
                "CALLBRIDGE_VOICE_TRUNK_USERNAME and CALLBRIDGE_VOICE_TRUNK_PASSWORD go together (the credentials "
                "Callbridge answers the carrier's digest challenge with)"
            )
        if self.voice_trunk_transport == "tls" and self.voice_trunk_address and not self.voice_sip_tls_port:
            raise ValueError(
                "CALLBRIDGE_VOICE_TRUNK_TRANSPORT=tls needs CALLBRIDGE_VOICE_SIP_TLS_PORT (Kamailio's SIP-over-TLS "
                "port, which its calls to the carrier leave from and the carrier's answers come back to)"
            )
        if self.voice_sip_tls_port and self.voice_wss_cert is None:
            raise ValueError(
                "CALLBRIDGE_VOICE_SIP_TLS_PORT needs CALLBRIDGE_VOICE_WSS_CERT and CALLBRIDGE_VOICE_WSS_KEY "
                "(the certificate and key Kamailio serves on its TLS ports)"
            )
        for name, path in (
            ("CALLBRIDGE_VOICE_WSS_CERT", self.voice_wss_cert),
            ("CALLBRIDGE_VOICE_WSS_KEY", self.voice_wss_key),
            ("CALLBRIDGE_VOICE_TRUNK_CA_FILE", self.voice_trunk_ca_file),
        ):
            if path is not None and not path.is_file():
                raise ValueError(f"{name}: no such file: {path}")
        return self

    @model_validator(mode="after")
    def _turn_needs_its_secret(self) -> Settings:
        if self.voice_turn_urls.strip() and not self.voice_turn_secret:
            raise ValueError(
                "CALLBRIDGE_VOICE_TURN_URLS needs CALLBRIDGE_VOICE_TURN_SECRET (the TURN server's static-auth-secret)"
            )
        if self.voice_turn_secret and not self.voice_turn_urls.strip():
            raise ValueError("CALLBRIDGE_VOICE_TURN_SECRET is set but CALLBRIDGE_VOICE_TURN_URLS names no TURN server")
        return self

    @field_validator("outbound_allowed_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        from callbridge.outbound import parse_networks

        parse_networks(value)
        return value

    def outbound_policy(self) -> OutboundPolicy:
        from callbridge.outbound import OutboundPolicy

        return OutboundPolicy.from_setting(self.outbound_allowed_networks)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("CALLBRIDGE_CONFIG_FILE")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    def effective_node_id(self) -> str:
        import socket

        return self.node_id or f"{socket.gethostname()}:{self.port}"

    def effective_node_url(self) -> str:
        return self.node_url.rstrip("/") or f"http://{self.host}:{self.port}"

    def effective_public_url(self) -> str:
        return self.public_url.rstrip("/") or f"http://{self.host}:{self.port}"


def parse_proxies(value: str) -> list[IPv4Network | IPv6Network]:
    """`CALLBRIDGE_TRUSTED_PROXIES` as networks (an address is a network of one); anything else is refused,
    "*" included: trusting every peer would let any client choose its own address."""
    networks: list[IPv4Network | IPv6Network] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            networks.append(ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network (e.g. 10.0.0.5 or 10.1.0.0/16)") from None
    return networks
