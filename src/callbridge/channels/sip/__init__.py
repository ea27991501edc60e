"""The voice channel: real phone calls on Kamailio (SIP edge), rtpengine (media) and a sippy controller.

`VoiceChannel.start` (when `CALLBRIDGE_VOICE_ENABLED=true`): makes the waiting sounds, writes the engines'
configuration under `<data_dir>/voice/`, starts Kamailio and rtpengine (unless the administrator runs them:
`CALLBRIDGE_VOICE_MANAGE_ENGINES=false`), waits until both answer, gives Kamailio the desk phones'
credentials, then starts the controller. `stop` ends live calls as `failed`, then stops what it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import Engine

from callbridge.channels.sip.controller import VoiceController
from callbridge.channels.sip.directory import DeskPhone, VoiceDirectory
from callbridge.channels.sip.engines import (
    AGENT_LEG_PROFILE,
    EngineError,
    EngineLayout,
    EngineProcess,
    dispatcher_list,
    kamailio_command,
    kamailio_config,
    kamailio_modules_dir,
    rtpengine_command,
    tls_config,
)
from callbridge.channels.sip.hold_music import HoldMusicStore
from callbridge.channels.sip.menu import DtmfListener, ensure_menu_prompt, ensure_menu_silence
from callbridge.channels.sip.ng import NgClient, NgError
from callbridge.channels.sip.outside import OutsideCalls
from callbridge.channels.sip.overflow import Overflow, ensure_prompt
from callbridge.channels.sip.recording import Recorder, RecordingStore
from callbridge.channels.sip.sounds import ensure_sounds
from callbridge.channels.sip.webrtc import IceServers, Softphones, parse_ice_urls, softphone_user
from callbridge.channels.telephony import TelephonyService
from callbridge.channels.voice_nodes import CARRIER_GONE, CarrierCommands, carrier_subject, voice_subject
from callbridge.channels.voicemail.service import VoicemailService
from callbridge.config import Settings
from callbridge.domain import events as ev
from callbridge.domain.contact_center import ContactCenter
from callbridge.domain.model import AgentStatus
from callbridge.services.node import BatchEffects, ContactCenterNode

if TYPE_CHECKING:
    from callbridge.services.forwarding import NatsBus

log = logging.getLogger(__name__)

STARTUP_SECONDS = 15.0


def layout_from(settings: Settings, voice_dir: Path) -> EngineLayout:
    ng_host, _, ng_port = settings.voice_rtpengine_ng.rpartition(":")
    rpc = settings.voice_kamailio_rpc or voice_dir / "kamailio-rpc.sock"
    if len(str(rpc)) > 100:  # Unix socket paths are limited to 108 bytes
        rpc = Path(tempfile.gettempdir()) / f"callbridge-voice-{abs(hash(str(voice_dir))) % 10**10}" / "rpc.sock"
        rpc.parent.mkdir(mode=0o700, exist_ok=True)
    return EngineLayout(
        sip_address=settings.voice_sip_address,
        sip_port=settings.voice_sip_port,
        controller_address=settings.voice_controller_address,
        controller_port=settings.voice_controller_port,
        ng_address=ng_host or "127.0.0.1",
        ng_port=int(ng_port),
        rtp_address=settings.voice_rtp_address,
        rtp_port_min=settings.voice_rtp_port_min,
        rtp_port_max=settings.voice_rtp_port_max,
        realm=settings.voice_sip_realm,
        trunk_networks=tuple(part.strip() for part in settings.voice_trunk_networks.split(",") if part.strip()),
        rpc_socket=rpc,
        trunk_address=trunk_address(settings.voice_trunk_address, settings.voice_trunk_transport),
        trunk_tls=settings.voice_trunk_transport == "tls",
        trunk_ca_file=trunk_ca_file(settings),
        ws_address=settings.voice_ws_address,
        ws_port=settings.voice_ws_port,
        tls=(settings.voice_wss_cert, settings.voice_wss_key)
        if settings.voice_wss_cert and settings.voice_wss_key
        else None,
        sip_tls_port=settings.voice_sip_tls_port,
        tls_config=(voice_dir / "tls.cfg").absolute(),
        ws_allowed_origins=(origin_of(settings.effective_public_url()),),
        softphone_ttl_seconds=settings.voice_softphone_ttl_seconds,
        recording_dir=(voice_dir / "recording-spool").absolute(),
        controllers=controllers_from(settings.voice_controllers),
        dispatcher_list=(voice_dir / "dispatcher.list").absolute(),
    )


def controllers_from(setting: str) -> tuple[tuple[str, int], ...]:
    """`CALLBRIDGE_VOICE_CONTROLLERS`: every node's controller, for Kamailio's dispatcher (voice on several nodes)."""
    found = []
    for part in setting.split(","):
        if part.strip():
            host, _, port = part.strip().rpartition(":")
            found.append((host, int(port)))
    return tuple(found)


def origin_of(url: str) -> str:
    """`scheme://host[:port]`, as a browser sends it in `Origin` (default ports left out)."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{(parts.hostname or '').lower()}{port}"


def softphones_from(settings: Settings) -> Softphones | None:
    if not settings.voice_ws_port:
        return None
    scheme = "wss" if settings.voice_wss_cert else "ws"
    url = settings.voice_ws_url or f"{scheme}://{settings.voice_ws_address}:{settings.voice_ws_port}/"
    return Softphones(
        ws_url=url,
        domain=settings.voice_sip_address,
        ttl_seconds=settings.voice_softphone_ttl_seconds,
        secret=settings.voice_softphone_secret or None,
        ice_servers=IceServers(
            stun_urls=parse_ice_urls(settings.voice_stun_urls, "CALLBRIDGE_VOICE_STUN_URLS", ("stun", "stuns")),
            turn_urls=parse_ice_urls(settings.voice_turn_urls, "CALLBRIDGE_VOICE_TURN_URLS", ("turn", "turns")),
            turn_secret=settings.voice_turn_secret,
        ),
    )


def trunk_address(setting: str, transport: str = "udp") -> tuple[str, int] | None:
    if not setting:
        return None
    host, _, port = setting.partition(":")
    return host, int(port or (5061 if transport == "tls" else 5060))


SYSTEM_CAS = Path("/etc/ssl/certs/ca-certificates.crt")


def trunk_credentials(settings: Settings) -> tuple[str, str] | None:
    """The user name and password calls to the carrier answer its digest challenge with; None: not set."""
    password = settings.voice_trunk_password.get_secret_value()
    return (settings.voice_trunk_username, password) if settings.voice_trunk_username and password else None


def trunk_ca_file(settings: Settings) -> Path | None:
    """The CAs the carrier's TLS certificate must chain to: CALLBRIDGE_VOICE_TRUNK_CA_FILE, else the system's;
    None when CALLBRIDGE_VOICE_TRUNK_VERIFY is off."""
    if not settings.voice_trunk_verify:
        return None
    return (settings.voice_trunk_ca_file or SYSTEM_CAS).absolute()


class KamailioRpc:
    """Kamailio's JSON-RPC over its Unix datagram socket (jsonrpcs module); blocking, so run in a thread."""

    def __init__(self, path: Path, timeout: float = 2.0) -> None:
        self.path = path
        self.timeout = timeout

    def call(self, method: str, *params: Any) -> Any:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(f"\0callbridge-rpc-{os.getpid()}-{time.monotonic_ns()}")  # abstract: no file to clean
            sock.settimeout(self.timeout)
            request = {"jsonrpc": "2.0", "method": method, "params": list(params), "id": 1}
            sock.sendto(json.dumps(request).encode(), str(self.path))
            answer = json.loads(sock.recv(65535))
        if "error" in answer:
            raise EngineError(f"Kamailio refused {method}: {answer['error']}")
        return answer.get("result")


class VoiceChannel:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        node: ContactCenterNode,
        telephony: TelephonyService,
        bus: NatsBus | None = None,
    ):
        self.settings = settings
        self.voice_dir = settings.data_dir / "voice"
        self.layout = layout_from(settings, self.voice_dir)
        self.directory = VoiceDirectory(engine, settings.voice_sip_realm)
        self.node = node
        self.telephony = telephony
        self.rpc = KamailioRpc(self.layout.rpc_socket)
        self.ng = NgClient(self.layout.ng_address, self.layout.ng_port)
        self.softphones = softphones_from(settings)
        self.processes: list[EngineProcess] = []
        self.recorder: Recorder | None = None
        self.controller: VoiceController | None = None
        self.dtmf: DtmfListener | None = None  # rtpengine's DTMF events, for voice menus (menu.py)
        self.outside: OutsideCalls | None = None  # calls placed through the trunk
        self.health: dict[str, bool] = {"kamailio": False, "rtpengine": False}  # as last checked (`/readyz`)
        self.watch_interval = 1.0
        self._watcher: asyncio.Task[None] | None = None
        self.bus = bus  # other nodes' decisions about the calls this controller carries (voice_nodes.py)
        self._stop_listening: Callable[[], Awaitable[None]] | None = None
        # the certificate files as Kamailio last loaded them, as last seen, and as a reload last failed with
        # (inode, size, mtime of each; see reload_tls_if_renewed)
        self._tls_loaded: tuple[tuple[int, int, int], ...] | None = None
        self._tls_seen: tuple[tuple[int, int, int], ...] | None = None
        self._tls_failed: tuple[tuple[int, int, int], ...] | None = None
        # what agents ask of the calls a controller carries, on this node or on the carrier (voice_nodes.py)
        self.carriers = CarrierCommands(self, node.node_id, bus)
        self._stop_serving: Callable[[], Awaitable[None]] | None = None

    async def start(self) -> None:
        self.voice_dir.mkdir(parents=True, exist_ok=True)
        (self.voice_dir / "recording-spool").mkdir(exist_ok=True)
        music, greeting = await asyncio.to_thread(ensure_sounds, self.voice_dir / "sounds")
        if self.settings.voice_hold_music is not None:
            music = self.settings.voice_hold_music
        # opened before rtpengine starts: its --dtmf-log-dest names the port this listener got
        self.dtmf = await DtmfListener.open(
            self.layout.controller_address, self.settings.voice_dtmf_port, self.layout.ng_address, self._on_key
        )
        self.layout = dataclasses.replace(self.layout, dtmf_port=self.dtmf.port)
        if not self.settings.voice_manage_engines and not self.settings.voice_dtmf_port:
            log.warning(
                "voice: menus hear no keys unless rtpengine sends them: set CALLBRIDGE_VOICE_DTMF_PORT and start "
                "rtpengine with --dtmf-log-dest=%s:<that port>",
                self.layout.controller_address,
            )
        if self.settings.voice_manage_engines:
            await asyncio.to_thread(self._start_engines)
        await self.ng.start()
        await self._wait_until_up()
        await self.push_all_phones()
        self.node.add_listener(self._on_batch)
        self.controller = VoiceController(
            node=self.node,
            telephony=self.telephony,
            directory=self.directory,
            ng=self.ng,
            softphones=self.softphones,
            sip_address=self.layout.controller_address,
            sip_port=self.layout.controller_port,
            kamailio=(self.layout.sip_address, self.layout.sip_port),
            hold_music=music,
            default_greeting=greeting,
            greetings_dir=self.settings.data_dir / "greetings",
        )
        self.recorder = Recorder(
            RecordingStore(self.directory.engine, self.settings.data_dir),
            self.ng,
            self.voice_dir / "recording-spool",
            self.settings.effective_public_url(),
        )
        self.controller.recorder = self.recorder
        self.controller.menu_prompt = await asyncio.to_thread(ensure_menu_prompt, self.voice_dir / "sounds")
        self.controller.menu_silence = await asyncio.to_thread(ensure_menu_silence, self.voice_dir / "sounds")
        self.controller.tenant_music = HoldMusicStore(self.directory.engine, self.settings.data_dir)
        prompt = await asyncio.to_thread(ensure_prompt, self.voice_dir / "sounds")
        self.controller.overflow = Overflow(
            self.controller,
            VoicemailService(
                self.directory.engine, self.node, self.settings.data_dir, max_bytes=self.settings.voicemail_max_bytes
            ),
            prompt,
            self.voice_dir / "recording-spool",
        )
        self.recorder.start_retention()
        await self.controller.start()
        if self.bus is not None and self.node.node_id is not None:
            self._stop_listening = await self.bus.listen(voice_subject(self.node.node_id), self.controller.on_relayed)
        self.outside = OutsideCalls(
            self.controller,
            self.layout.trunk_address,
            tls=self.layout.trunk_tls,
            ca_file=self.layout.trunk_ca_file,
            credentials=trunk_credentials(self.settings),
        )
        if self.layout.trunk_tls and self.layout.trunk_address and self.layout.trunk_ca_file is None:
            log.warning(
                "voice: calls to the carrier go over TLS WITHOUT checking its certificate "
                "(CALLBRIDGE_VOICE_TRUNK_VERIFY=false): anyone on the path can pose as the carrier"
            )
        if self.bus is not None and self.node.node_id is not None:
            self._stop_serving = await self.bus.serve(carrier_subject(self.node.node_id), self.carriers.serve)
        self.health = {"kamailio": True, "rtpengine": True}
        self._watcher = asyncio.create_task(self._watch(), name="voice-engines-watch")
        log.info(
            "voice: ready; SIP at %s:%s (trunk from %s), rtpengine at %s:%s",
            self.layout.sip_address,
            self.layout.sip_port,
            ", ".join(self.layout.trunk_networks) or "nowhere",
            self.layout.ng_address,
            self.layout.ng_port,
        )

    def _start_engines(self) -> None:
        config = self.voice_dir / "kamailio.cfg"
        secret = self.softphones.secret if self.softphones is not None else ""
        with contextlib.suppress(OSError):
            config.unlink()
        descriptor = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # it holds the softphones' secret
        with os.fdopen(descriptor, "w") as file:
            file.write(kamailio_config(self.layout, kamailio_modules_dir(), secret))
        if self.layout.tls is not None and self.layout.tls_config is not None:
            self.layout.tls_config.write_text(tls_config(self.layout))
            with contextlib.suppress(OSError):
                self._tls_loaded = self._tls_files()
        if self.layout.controllers and self.layout.dispatcher_list is not None:
            self.layout.dispatcher_list.write_text(dispatcher_list(self.layout))
        with contextlib.suppress(OSError):
            self.layout.rpc_socket.unlink()
        rtpengine = EngineProcess(
            "rtpengine", rtpengine_command(self.layout, self.voice_dir / "rtpengine.pid"), self.voice_dir
        )
        kamailio = EngineProcess("kamailio", kamailio_command(config), self.voice_dir)
        for process in (rtpengine, kamailio):
            process.start()
            self.processes.append(process)

    async def _wait_until_up(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        waiting_for = "rtpengine"
        while time.monotonic() < deadline:
            for process in self.processes:
                if not process.running():
                    raise EngineError(process.exit_detail())
            if waiting_for == "rtpengine" and await self.ng.ping():
                waiting_for = "kamailio"
            if waiting_for == "kamailio" and await self.kamailio_up():
                return
            await asyncio.sleep(0.05)
        raise EngineError(f"{waiting_for} did not answer within {STARTUP_SECONDS:.0f} s")

    async def _watch(self) -> None:
        """Every second: an engine that died is started again (and Kamailio given the phones again); a renewed
        TLS certificate is loaded (reload_tls_if_renewed); both engines are asked whether they answer, for
        `/readyz`."""
        while True:
            await asyncio.sleep(self.watch_interval)
            try:
                for process in self.processes:
                    if not process.running():
                        log.error("voice: %s died, starting it again: %s", process.name, process.exit_detail())
                        self.health = {**self.health, process.name: False}  # not ready until it is back
                        if process.name == "kamailio":
                            with contextlib.suppress(OSError):
                                self.layout.rpc_socket.unlink()
                        await asyncio.to_thread(process.start)
                        if process.name == "kamailio" and self.layout.tls is not None:
                            with contextlib.suppress(OSError):
                                self._tls_loaded = await asyncio.to_thread(self._tls_files)  # read at start
                        if process.name == "kamailio":
                            await self._wait_until_up()
                            await self.push_all_phones()
                await self.reload_tls_if_renewed()
                self.health = await self.engines_up()
                for name, up in self.health.items():
                    if not up:
                        log.warning("voice: %s does not answer", name)
            except Exception:
                log.exception("voice: checking the engines failed")

    def _tls_files(self) -> tuple[tuple[int, int, int], ...]:
        """Blocking (stat): inode, size and modification time of the certificate and key Kamailio serves."""
        assert self.layout.tls is not None
        found = (os.stat(path) for path in self.layout.tls)
        return tuple((status.st_ino, status.st_size, status.st_mtime_ns) for status in found)

    async def reload_tls_if_renewed(self) -> bool:
        """A renewed certificate, without restarting Kamailio: when the certificate or key file changed (replaced
        or rewritten, e.g. by certbot) and then stayed the same for one more round of the watcher (both files
        written), Kamailio's `tls.reload` reads tls.cfg and the files again; new TLS connections get the new
        certificate, open ones keep theirs. A reload Kamailio refuses (say a key that is not the certificate's)
        keeps the old certificate and is logged once; it is tried again when the files change again. Only for a
        Kamailio Callbridge runs (one you run yourself: `kamcmd tls.reload`). True when reloaded."""
        if not self.processes or self.layout.tls is None or self._tls_loaded is None:
            return False
        try:
            files = await asyncio.to_thread(self._tls_files)
        except OSError:  # being replaced (or removed): look again next round
            return False
        if files in (self._tls_loaded, self._tls_failed):
            return False
        if files != self._tls_seen:  # changed since the last round: let the renewal finish writing
            self._tls_seen = files
            return False
        certificate, key = self.layout.tls
        try:
            await asyncio.to_thread(self.rpc.call, "tls.reload")
        except (EngineError, OSError, ValueError) as error:
            self._tls_failed = files
            log.error(
                "voice: the renewed TLS certificate %s (key %s) was not loaded, Kamailio keeps serving the old one: %s",
                certificate,
                key,
                error,
            )
            return False
        self._tls_loaded = files
        log.info("voice: Kamailio serves the renewed TLS certificate %s to new connections", certificate)
        return True

    def _on_key(self, sip_call_id: str, source_tag: str, key: str) -> None:
        if self.controller is not None:
            self.controller.on_key(sip_call_id, source_tag, key)

    async def kamailio_up(self) -> bool:
        try:
            await asyncio.to_thread(self.rpc.call, "core.version")
        except (OSError, ValueError, EngineError):
            return False
        return True

    async def engines_up(self) -> dict[str, bool]:
        return {"kamailio": await self.kamailio_up(), "rtpengine": await self.ng.ping()}

    async def push_all_phones(self) -> None:
        """Desk phones' credentials, and softphone revocations still in force (a Kamailio that started again
        knows neither)."""
        for phone in await asyncio.to_thread(self.directory.desk_phones):
            await self.push_phone(phone)
        if self.softphones is not None:
            for user, mark in self.softphones.revocations(time.time()).items():
                await asyncio.to_thread(self.rpc.call, "htable.seti", "softphone_revoked", user, mark)

    def _on_batch(self, tenant_id: str, cc: ContactCenter, events: list[ev.Event]) -> BatchEffects | None:
        """An agent who signs out, or is disabled while signed in, goes to logged_out: their browser softphone's
        credentials stop working then (after the commit), not when they expire. A call failed because the node
        carrying it is gone (voice_nodes.GoneCarriers) loses its media in the shared rtpengine, which would
        otherwise keep playing the music, or keep the caller and the agent talking, after the call has ended."""
        after: list[Any] = []
        for event in events:
            if (
                self.softphones is not None
                and isinstance(event, ev.AgentStatusChanged)
                and event.status is AgentStatus.LOGGED_OUT
            ):
                after.append(partial(self.revoke_softphone, tenant_id, event.agent_id))
            elif isinstance(event, ev.InteractionFailed) and event.reason == CARRIER_GONE:
                interaction = cc.interactions.get(event.interaction_id)
                sip_call_id = interaction.data.get("sip_call_id") if interaction is not None else None
                if sip_call_id:
                    after.append(partial(self._end_orphan, sip_call_id, event.interaction_id))
        return BatchEffects(after_commit=after) if after else None

    async def _end_orphan(self, sip_call_id: str, interaction_id: str) -> None:
        """A call whose controller died: Kamailio's dialog module sends the BYEs the dead controller cannot, to the
        caller (the dialog of its Call-ID) and to the agent's phone or browser (the dialogs in the agent-leg profile
        under the interaction's id: the dead controller chose their Call-IDs and nobody else knows them), then the
        call's media is dropped."""
        await self._end_dialogs(("dlg.dlg_list", sip_call_id), sip_call_id)
        await self._end_dialogs(("dlg.profile_list", AGENT_LEG_PROFILE, interaction_id), f"{sip_call_id} (agent's leg)")
        await self._drop_media(sip_call_id)

    async def _end_dialogs(self, query: tuple[str, ...], what: str) -> None:
        try:
            found = await asyncio.to_thread(self.rpc.call, *query)
        except (EngineError, OSError, ValueError) as error:  # no dialog module (one controller), or none such
            log.info("voice: no dialog to end in Kamailio for a gone node's call %s: %s", what, error)
            return
        dialogs = found if isinstance(found, list) else [found] if isinstance(found, dict) else []
        for dialog in dialogs:
            try:
                await asyncio.to_thread(self.rpc.call, "dlg.end_dlg", dialog["h_entry"], dialog["h_id"])
                log.info("voice: Kamailio ended the dialog of a gone node's call %s", what)
            except (EngineError, OSError, ValueError, KeyError, TypeError) as error:
                log.warning("voice: Kamailio could not end the dialog of %s: %s", what, error)

    async def _drop_media(self, sip_call_id: str) -> None:
        try:
            await self.ng.command("delete", {"call-id": sip_call_id})
        except NgError as error:  # not in this rtpengine (another one carried it), or gone already
            log.info("voice: rtpengine delete of a gone node's call: %s", error)

    async def revoke_softphone(self, tenant_id: str, agent_id: str) -> None:
        """Refuses the agent's softphone credentials issued until now and removes its registration, so no call
        rings a browser whose agent has gone."""
        if self.softphones is None:
            return
        user, mark = self.softphones.revoke(tenant_id, agent_id, time.time())
        try:
            await asyncio.to_thread(self.rpc.call, "htable.seti", "softphone_revoked", user, mark)
        except (EngineError, OSError):
            # Kamailio is down: the watcher starts it again and pushes the revocation (push_all_phones)
            log.warning("voice: the softphone of %s could not be revoked now; it will be on Kamailio's restart", user)
        with contextlib.suppress(EngineError, OSError):  # not registered: nothing to remove
            await asyncio.to_thread(self.rpc.call, "ul.rm", "location", user)
        log.info(
            "voice: softphone credentials of agent %s revoked (signed out)", agent_id, extra={"tenant_id": tenant_id}
        )

    async def push_phone(self, phone: DeskPhone) -> None:
        await asyncio.to_thread(self.rpc.call, "htable.sets", "phones", phone.username, phone.ha1)

    async def forget_phone(self, username: str) -> None:
        with contextlib.suppress(EngineError, OSError):
            await asyncio.to_thread(self.rpc.call, "htable.delete", "phones", username)
        with contextlib.suppress(EngineError, OSError):
            await asyncio.to_thread(self.rpc.call, "ul.rm", "location", username)

    # ---------------------------------------------------------------- status (the admin's page and API)

    def registered(self, username: str) -> bool:
        """Blocking (Kamailio's RPC): whether `username` has a registration in Kamailio's location table now.
        Asked per user, not with `ul.dump`, so the answer stays small on a node with many tenants."""
        try:
            found = self.rpc.call("ul.lookup", "location", username)
        except (OSError, ValueError, EngineError):
            return False  # Kamailio answers an unknown user with an error (404 AOR not found)
        return bool(found)

    def registered_browsers(self, tenant_id: str, agent_ids: list[str]) -> int:
        """Blocking: how many of these agents' console softphones are registered (webrtc.py's user names)."""
        return sum(1 for agent_id in agent_ids if self.registered(softphone_user(tenant_id, agent_id)))

    def calls_now(self, tenant_id: str) -> int:
        """The tenant's calls the controller carries now. Safe from a thread: a copy of the values is taken
        at once, never iterated while the loop changes the dict."""
        controller = self.controller
        if controller is None:
            return 0
        return sum(1 for call in list(controller.calls.values()) if call.tenant_id == tenant_id)

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        if self._stop_serving is not None:
            with contextlib.suppress(Exception):
                await self._stop_serving()
            self._stop_serving = None
        self.outside = None
        if self._stop_listening is not None:
            with contextlib.suppress(Exception):
                await self._stop_listening()
            self._stop_listening = None
        if self.controller is not None:
            await self.controller.stop()
            self.controller = None
        if self.recorder is not None:
            await self.recorder.stop()
            self.recorder = None
        self.node.remove_listener(self._on_batch)
        self.ng.close()
        if self.dtmf is not None:
            self.dtmf.close()
            self.dtmf = None
        for process in reversed(self.processes):
            await asyncio.to_thread(process.stop)
        self.processes.clear()
