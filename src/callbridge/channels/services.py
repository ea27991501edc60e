"""The channels' services, built once per process beside the contact-center node."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from callbridge.auth.secrets import TokenCipher, load_secret_key
from callbridge.channels.base import OutboundCall, TelephonyChannel
from callbridge.channels.commands import Command, CommandSettingsStore, WebhookTelephony
from callbridge.channels.hold import CallHoldService
from callbridge.channels.telephony import TelephonyService
from callbridge.channels.voice_nodes import CarrierCommands, HoldMedia
from callbridge.channels.voicemail import VoicemailService
from callbridge.channels.webchat import ChatLimits, ChatService
from callbridge.config import Settings
from callbridge.services.node import ContactCenterNode

if TYPE_CHECKING:
    from callbridge.channels.sip import VoiceChannel
    from callbridge.channels.sip.controller import VoiceController
    from callbridge.services.forwarding import NatsBus


class CarrierRouter:
    """The carrier commands go to: the voice controller for the calls it carries, the tenant's command
    webhook (an outside PBX) for every other call."""

    def __init__(self, webhook: WebhookTelephony, node: ContactCenterNode | None = None) -> None:
        self.webhook = webhook
        self.node = node
        self.voice: VoiceController | None = None
        self.carriers: CarrierCommands | None = None  # the calls another node's controller carries (voice_nodes)

    async def configured(self, tenant_id: str) -> bool:
        return self.voice is not None or await self.webhook.configured(tenant_id)

    def _voice_for(self, call_id: str) -> VoiceController | None:
        return self.voice if self.voice is not None and self.voice.carries(call_id) else None

    async def pbx_follows(self, tenant_id: str, call_id: str, command: Command) -> bool:
        """The call is an outside PBX's (not one the voice controller carries) and that PBX takes `command`."""
        return self._voice_for(call_id) is None and await self.webhook.follows(tenant_id, command)

    async def place_call(self, call: OutboundCall) -> None:
        await self.webhook.place_call(call)

    async def hang_up(self, tenant_id: str, call_id: str, agent_id: str | None = None) -> None:
        await self.webhook.hang_up(tenant_id, call_id, agent_id)

    async def connect(self, tenant_id: str, call_id: str, agent_id: str) -> None:
        await self.webhook.connect(tenant_id, call_id, agent_id)

    async def transfer(self, tenant_id: str, call_id: str, agent_id: str, to_address: str) -> None:
        await self.webhook.transfer(tenant_id, call_id, agent_id, to_address)

    async def _carried_elsewhere(self, tenant_id: str, call_id: str) -> str | None:
        """The other node whose controller carries the call (its interaction's `voice_node`), if any."""
        if self.carriers is None or self.node is None or self._voice_for(call_id) is not None:
            return None
        return await self.carriers.carrier(self.node, tenant_id, call_id)

    async def hold(self, tenant_id: str, call_id: str, agent_id: str) -> None:
        await self._hold(tenant_id, call_id, agent_id, held=True)

    async def resume(self, tenant_id: str, call_id: str, agent_id: str) -> None:
        await self._hold(tenant_id, call_id, agent_id, held=False)

    async def _hold(self, tenant_id: str, call_id: str, agent_id: str, *, held: bool) -> None:
        voice = self._voice_for(call_id)
        if voice is not None:
            await (voice.hold(call_id) if held else voice.resume(call_id))
        elif self.carriers is not None and (carrier := await self._carried_elsewhere(tenant_id, call_id)):
            await self.carriers.send(carrier, HoldMedia(tenant_id=tenant_id, interaction_id=call_id, held=held))
        elif held:
            await self.webhook.hold(tenant_id, call_id, agent_id)
        else:
            await self.webhook.resume(tenant_id, call_id, agent_id)


@dataclass
class ChannelServices:
    telephony: TelephonyService
    voicemail: VoicemailService
    chat: ChatService
    command_settings: CommandSettingsStore
    commands: WebhookTelephony  # the tenant's signed command webhook (the commands its PBX follows)
    hold: CallHoldService
    router: CarrierRouter
    carrier: TelephonyChannel | None = None  # a SIP gateway or CPaaS client, once there is one
    voice: VoiceChannel | None = None  # real calls over SIP (channels/sip), when voice is enabled

    @classmethod
    def build(cls, settings: Settings, engine: Engine, node: ContactCenterNode) -> ChannelServices:
        limits = ChatLimits(
            max_message_chars=settings.chat_max_message_chars,
            max_messages=settings.chat_max_messages,
            messages_per_minute=settings.chat_messages_per_minute,
            reconnect_grace_seconds=settings.chat_reconnect_grace_seconds,
        )
        policy = settings.outbound_policy()
        command_settings = CommandSettingsStore(engine, TokenCipher(load_secret_key(settings)), node.clock, policy)
        commands = WebhookTelephony(command_settings, node.clock, policy.client())
        router = CarrierRouter(commands, node)
        return cls(
            telephony=TelephonyService(engine, node, default_wrap_up_seconds=settings.default_wrap_up_seconds),
            voicemail=VoicemailService(engine, node, settings.data_dir, max_bytes=settings.voicemail_max_bytes),
            chat=ChatService(engine, node, limits, own_origin=settings.effective_public_url()),
            command_settings=command_settings,
            commands=commands,
            hold=CallHoldService(node, router),
            router=router,
        )

    async def start_voice(
        self, settings: Settings, engine: Engine, node: ContactCenterNode, bus: NatsBus | None = None
    ) -> None:
        """Starts the voice channel (engines, controller) when `voice_enabled`; a failure stops what started.
        With a bus, the controller follows the decisions of other nodes about the calls it carries."""
        if not settings.voice_enabled:
            return
        from callbridge.channels.sip import VoiceChannel

        voice = VoiceChannel(settings, engine, node, self.telephony, bus)
        try:
            await voice.start()
        except BaseException:
            await voice.stop()
            raise
        self.voice = voice
        self.router.voice = voice.controller
        self.router.carriers = voice.carriers

    async def stop(self) -> None:
        if self.voice is not None:
            self.router.voice = None
            self.router.carriers = None
            await self.voice.stop()
            self.voice = None
        await self.chat.stop()
        await self.commands.close()
