"""The tenant's telephony command channel: Callbridge POSTs signed JSON commands to the PBX.

An admin sets a webhook URL, a signing secret and the commands their PBX follows
(`PUT /api/v1/tenants/{id}/telephony/settings`): `hold` and `resume` by default; `connect` (an agent accepted
the call in the console: bridge it to them), `hang_up` (the agent hung up in the console), `dial` (click to
dial: call the customer for this agent) and `transfer` (to an outside number) once the PBX implements them.
Each command is one POST:

    POST <webhook_url>
    Content-Type: application/json
    X-Callbridge-Signature: sha256=<hex HMAC-SHA256 of the raw body under the signing secret>
    {"command": "hold", "call_id": "CA1234", "agent_id": "agent1", "at": 1764030000.25}

Any 2xx answer means done. Anything else, no answer within the timeout, or no webhook at all raises
`CommandFailed`; a command is never retried (the agent who asked sees the failure and may ask again).
The secret is stored encrypted (`TokenCipher`): signing needs its value, so it cannot be hashed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Engine

from callbridge.auth.secrets import TokenCipher
from callbridge.channels.base import CommandFailed, OutboundCall
from callbridge.outbound import DestinationRefused, OutboundPolicy
from callbridge.services.audit import Actor
from callbridge.services.clock import Clock
from callbridge.store import telephony_commands as command_store
from callbridge.store.telephony_commands import Change, StoredCommandSettings

SIGNATURE_HEADER = "X-Callbridge-Signature"
DEFAULT_TIMEOUT_SECONDS = 3.0
MIN_SECRET_CHARS = 16
MAX_SECRET_CHARS = 256
Command = Literal["hold", "resume", "connect", "hang_up", "dial", "transfer"]
COMMANDS: tuple[Command, ...] = ("hold", "resume", "connect", "hang_up", "dial", "transfer")
DEFAULT_COMMANDS: tuple[Command, ...] = ("hold", "resume")


_DOING: dict[str, str] = {
    "hold": "hold the call",
    "resume": "resume the call",
    "connect": "connect the call to you",
    "hang_up": "hang up the call",
    "dial": "dial the number",
    "transfer": "transfer the call",
}


class InvalidSetting(Exception):
    """A setting a rule refuses; `field` names it."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class CommandSettings:
    webhook_url: str
    signing_secret: str
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    commands: frozenset[str] = frozenset(DEFAULT_COMMANDS)  # what the PBX follows


def _commands(stored: str) -> frozenset[str]:
    return frozenset(name for name in stored.split(",") if name)


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for `body`."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_webhook_url(url: str) -> str:
    """https, or http to this machine only (a PBX beside Callbridge); no credentials in the URL."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidSetting("webhook_url must be an absolute https:// URL", "webhook_url")
    if parts.scheme == "http" and not _loopback(host):
        raise InvalidSetting("webhook_url must use https:// (plain http only to localhost)", "webhook_url")
    if parts.username or parts.password:
        raise InvalidSetting("webhook_url must not carry credentials: the signature authenticates", "webhook_url")
    return url


class CommandSettingsStore:
    """Each tenant's webhook, with its secret encrypted at rest; changes are audited.

    Every accepted, ended or dialled call asks whether the tenant's PBX follows a command, so the settings are
    kept in memory once read (decrypting the secret each time cost a database read and a Fernet decryption per
    call). A save forgets the tenant's entry here and tells `on_change`, which the cluster wiring broadcasts so
    every node forgets it too."""

    def __init__(self, engine: Engine, cipher: TokenCipher, clock: Clock, policy: OutboundPolicy | None = None) -> None:
        self.engine = engine
        self.cipher = cipher
        self.clock = clock
        self.policy = policy or OutboundPolicy()
        self.on_change: list[Callable[[str], None]] = []
        self._known: dict[str, CommandSettings | None] = {}
        self._generation: dict[str, int] = {}  # bumped by forget: a read that raced a save is not kept
        self._lock = threading.Lock()

    def known(self, tenant_id: str) -> tuple[bool, CommandSettings | None]:
        """(True, settings) when the tenant's settings are in memory; (False, None) when they must be read."""
        with self._lock:
            if tenant_id in self._known:
                return True, self._known[tenant_id]
        return False, None

    def load(self, tenant_id: str) -> CommandSettings | None:
        """The tenant's settings, or None without a webhook; from memory once read (blocking on a miss)."""
        with self._lock:
            if tenant_id in self._known:
                return self._known[tenant_id]
            generation = self._generation.get(tenant_id, 0)
        row = command_store.of_tenant(self.engine, tenant_id)
        found = (
            None
            if row is None
            else CommandSettings(
                row.webhook_url,
                self.cipher.decrypt(row.signing_secret.encode("ascii")),
                row.timeout_seconds,
                _commands(row.commands),
            )
        )
        with self._lock:
            if self._generation.get(tenant_id, 0) == generation:
                self._known[tenant_id] = found
        return found

    def forget(self, tenant_id: str) -> None:
        """Drops the tenant's settings from memory: the next use reads them again."""
        with self._lock:
            self._known.pop(tenant_id, None)
            self._generation[tenant_id] = self._generation.get(tenant_id, 0) + 1

    def describe(self, tenant_id: str) -> dict[str, object]:
        """What the settings API shows: never the secret."""
        row = command_store.of_tenant(self.engine, tenant_id)
        if row is None:
            return {
                "webhook_url": None,
                "has_signing_secret": False,
                "timeout_seconds": DEFAULT_TIMEOUT_SECONDS,
                "commands": list(DEFAULT_COMMANDS),
            }
        followed = _commands(row.commands)
        return {
            "webhook_url": row.webhook_url,
            "has_signing_secret": True,
            "timeout_seconds": row.timeout_seconds,
            "commands": [name for name in COMMANDS if name in followed],
        }

    def save(
        self,
        tenant_id: str,
        webhook_url: str | None,
        signing_secret: str | None,
        timeout_seconds: float,
        actor: Actor | None = None,
        commands: tuple[str, ...] = DEFAULT_COMMANDS,
    ) -> None:
        """Stores the webhook (`signing_secret` None keeps the stored one); `webhook_url` None removes it."""
        unknown = [name for name in commands if name not in COMMANDS]
        if unknown:
            raise InvalidSetting(f"commands: {unknown[0]!r} is not one of {', '.join(COMMANDS)}", "commands")
        if ("hold" in commands) != ("resume" in commands):  # else an agent could hold a caller and not resume
            raise InvalidSetting("commands: tick hold and resume together, or neither", "commands")
        stored_commands = ",".join(name for name in COMMANDS if name in commands)
        if webhook_url is not None:
            check_webhook_url(webhook_url)
            try:  # resolves the host: before the transaction, not inside it
                self.policy.check_url(webhook_url, "webhook_url")
            except DestinationRefused as refused:
                raise InvalidSetting(f"webhook_url: {refused.message}", "webhook_url") from None

        def decide(row: StoredCommandSettings | None) -> Change | None:
            nonlocal signing_secret
            before = None
            if row is not None:
                stored = self.cipher.decrypt(row.signing_secret.encode("ascii"))
                before = {
                    "webhook_url": row.webhook_url,
                    "signing_secret": hashlib.sha256(stored.encode()).hexdigest(),
                    "timeout_seconds": row.timeout_seconds,
                    "commands": row.commands,
                }
            if webhook_url is None:
                if row is None:
                    return None
                return Change(None, self.clock.now(), before or {}, {})
            check_webhook_url(webhook_url)
            if signing_secret is None:
                if row is None:
                    raise InvalidSetting("signing_secret is required to set up the webhook", "signing_secret")
                signing_secret = self.cipher.decrypt(row.signing_secret.encode("ascii"))
            settings = StoredCommandSettings(
                webhook_url, self.cipher.encrypt(signing_secret).decode("ascii"), timeout_seconds, stored_commands
            )
            after = {
                "webhook_url": webhook_url,
                "signing_secret": hashlib.sha256(signing_secret.encode()).hexdigest(),
                "timeout_seconds": timeout_seconds,
                "commands": stored_commands,
            }
            return Change(settings, self.clock.now(), before or {}, after)

        if not command_store.change(self.engine, tenant_id, decide, actor=actor):
            return
        self._changed(tenant_id)

    def _changed(self, tenant_id: str) -> None:
        self.forget(tenant_id)
        for tell in self.on_change:
            tell(tenant_id)


class WebhookTelephony:
    """The `TelephonyChannel` of the REST integration: the commands the tenant's PBX follows, through its webhook.

    A command the PBX does not follow (per its settings) raises `CommandFailed`; callers ask `follows` first
    where the PBX may well handle the matter itself (it reports what it did as telephony events)."""

    def __init__(self, settings: CommandSettingsStore, clock: Clock, http: httpx.AsyncClient | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.http = http or OutboundPolicy().client()

    async def configured(self, tenant_id: str) -> bool:
        return await self._settings(tenant_id) is not None

    async def follows(self, tenant_id: str, command: Command) -> bool:
        """The tenant has a webhook and its PBX follows this command."""
        settings = await self._settings(tenant_id)
        return settings is not None and command in settings.commands

    async def _settings(self, tenant_id: str) -> CommandSettings | None:
        known, settings = self.settings.known(tenant_id)
        if known:
            return settings
        return await asyncio.to_thread(self.settings.load, tenant_id)

    async def place_call(self, call: OutboundCall) -> None:
        extra = {"to_address": call.to_address, "from_address": call.from_address}
        await self._send(call.tenant_id, "dial", call.call_id, call.agent_id, extra)

    async def hang_up(self, tenant_id: str, call_id: str, agent_id: str | None = None) -> None:
        await self._send(tenant_id, "hang_up", call_id, agent_id)

    async def connect(self, tenant_id: str, call_id: str, agent_id: str) -> None:
        await self._send(tenant_id, "connect", call_id, agent_id)

    async def transfer(self, tenant_id: str, call_id: str, agent_id: str, to_address: str) -> None:
        await self._send(tenant_id, "transfer", call_id, agent_id, {"to_address": to_address})

    async def hold(self, tenant_id: str, call_id: str, agent_id: str) -> None:
        await self._send(tenant_id, "hold", call_id, agent_id)

    async def resume(self, tenant_id: str, call_id: str, agent_id: str) -> None:
        await self._send(tenant_id, "resume", call_id, agent_id)

    async def _send(
        self, tenant_id: str, command: Command, call_id: str, agent_id: str | None, extra: dict[str, str] | None = None
    ) -> None:
        what = _DOING[command]
        settings = await self._settings(tenant_id)
        if settings is None:
            raise CommandFailed(
                f"cannot {what}: no telephony command webhook is set up for this tenant "
                "(an admin sets it in the telephony settings)"
            )
        if command not in settings.commands:
            raise CommandFailed(
                f"cannot {what}: the PBX does not take the {command!r} command (an admin turns it on in the "
                "telephony settings once the PBX handles it)"
            )
        body = json.dumps(
            {"command": command, "call_id": call_id, "agent_id": agent_id, "at": self.clock.now(), **(extra or {})},
            separators=(",", ":"),
        ).encode("utf-8")
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(settings.signing_secret, body)}
        try:
            response = await self.http.post(
                settings.webhook_url, content=body, headers=headers, timeout=settings.timeout_seconds
            )
        except httpx.TimeoutException:
            raise CommandFailed(
                f"cannot {what}: the PBX did not answer within {settings.timeout_seconds:g} s"
            ) from None
        except httpx.HTTPError as error:
            raise CommandFailed(f"cannot {what}: the PBX could not be reached ({error.__class__.__name__})") from None
        if not response.is_success:
            raise CommandFailed(f"cannot {what}: the PBX refused it (HTTP {response.status_code})")

    async def close(self) -> None:
        await self.http.aclose()
