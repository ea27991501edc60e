"""Per-tenant settings of the CRM integration: screen pop and auto log.

Kept in `crm_settings` and cached in memory, because the node's batch
listeners read them on every batch and must not block. The copy that counts is the one on the node holding
the tenant: changes are made there (`SaveCrmSettings`), and a node that takes a tenant over reads them again.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Engine

from callbridge.services.audit import Actor
from callbridge.services.operations import Operation
from callbridge.store import crm_settings

if TYPE_CHECKING:
    from callbridge.services.node import ContactCenterNode

Trigger = Literal["offered", "accepted", "completed"]
ChannelName = Literal["phone", "chat", "voicemail"]
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PopWindow(Strict):
    """Non-console mode: where a pop opens. Console mode ignores it (pops open as workspace tabs)."""

    width: Annotated[int, Field(ge=100, le=4000)] | None = None
    height: Annotated[int, Field(ge=100, le=4000)] | None = None
    reuse: bool = Field(default=False, description="true: refresh one pop-up window; false: a new window each time")


class PopRule(Strict):
    """Search the CRM field `field` of `object_type` for the interaction's data value `data_key`."""

    data_key: Identifier
    object_type: Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]
    field: Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z][A-Za-z0-9_]*$")]
    channels: list[ChannelName] = Field(default_factory=list, description="empty: every channel")


def _default_triggers() -> list[Trigger]:
    return ["offered"]


class ScreenPopSettings(Strict):
    enabled: bool = False
    crm: Identifier = "builtin_crm"
    all_agents: bool = True
    agent_ids: list[Identifier] = Field(default_factory=list, max_length=10000)
    triggers: list[Trigger] = Field(default_factory=_default_triggers)
    phone_by_caller_id: bool = True
    chat_by_case_number: bool = True
    rules: list[PopRule] = Field(default_factory=list, max_length=50)
    new_record_object_type: Annotated[str, Field(min_length=1, max_length=80)] = "contact"
    search_timeout_ms: Annotated[int, Field(ge=20, le=10000)] = 800
    window: PopWindow = Field(default_factory=PopWindow)

    @field_validator("triggers")
    @classmethod
    def _distinct(cls, value: list[Trigger]) -> list[Trigger]:
        if len(set(value)) != len(value):
            raise ValueError("each trigger may be listed once")
        return value

    def pops_for(self, agent_id: str) -> bool:
        return self.enabled and (self.all_agents or agent_id in self.agent_ids)


class AutoLogSettings(Strict):
    crm: Identifier = "builtin_crm"
    phone: bool = False
    voicemail: bool = False
    chat: bool = False

    def logs(self, channel: str) -> bool:
        return bool(getattr(self, channel, False)) if channel in ("phone", "voicemail", "chat") else False


class CrmSettingsStore:
    """Reads and writes `crm_settings`; every tenant's settings are kept in memory after `load()`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._screen_pop: dict[str, ScreenPopSettings] = {}
        self._auto_log: dict[str, AutoLogSettings] = {}
        self._lock = threading.Lock()

    def load(self) -> None:
        rows = crm_settings.every_tenant(self.engine)
        with self._lock:
            for row in rows:
                self._screen_pop[row.tenant_id] = ScreenPopSettings.model_validate(row.screen_pop)
                self._auto_log[row.tenant_id] = AutoLogSettings.model_validate(row.auto_log)

    def reload(self, tenant_id: str) -> None:
        """Reads one tenant's settings again: another node may have changed them while it held the tenant."""
        row = crm_settings.of_tenant(self.engine, tenant_id)
        with self._lock:
            if row is None:
                self._screen_pop.pop(tenant_id, None)
                self._auto_log.pop(tenant_id, None)
            else:
                self._screen_pop[tenant_id] = ScreenPopSettings.model_validate(row.screen_pop)
                self._auto_log[tenant_id] = AutoLogSettings.model_validate(row.auto_log)

    def stored(self, tenant_id: str) -> tuple[ScreenPopSettings, AutoLogSettings]:
        """The settings as stored (what any node answers; the holder's copy in memory is the same)."""
        row = crm_settings.of_tenant(self.engine, tenant_id)
        if row is None:
            return ScreenPopSettings(), AutoLogSettings()
        return ScreenPopSettings.model_validate(row.screen_pop), AutoLogSettings.model_validate(row.auto_log)

    def screen_pop(self, tenant_id: str) -> ScreenPopSettings:
        return self._screen_pop.get(tenant_id) or ScreenPopSettings()

    def auto_log(self, tenant_id: str) -> AutoLogSettings:
        return self._auto_log.get(tenant_id) or AutoLogSettings()

    def save(
        self,
        tenant_id: str,
        now: float,
        *,
        screen_pop: ScreenPopSettings | None = None,
        auto_log: AutoLogSettings | None = None,
        actor: Actor | None = None,
    ) -> None:
        """Stores the settings given (the others stay); with an `actor`, audited in the same transaction."""
        with self._lock:
            old_pop, old_log = self.screen_pop(tenant_id), self.auto_log(tenant_id)
            new_pop = screen_pop or old_pop
            new_log = auto_log or old_log
            changes = [
                crm_settings.Change(action, before.model_dump(mode="json"), after.model_dump(mode="json"))
                for action, before, after in (
                    ("screen_pop.updated", old_pop, screen_pop),
                    ("auto_log_settings.updated", old_log, auto_log),
                )
                if after is not None
            ]
            crm_settings.save(
                self.engine,
                crm_settings.StoredCrmSettings(
                    tenant_id, new_pop.model_dump(mode="json"), new_log.model_dump(mode="json")
                ),
                now,
                actor=actor,
                changes=changes,
            )
            self._screen_pop[tenant_id] = new_pop
            self._auto_log[tenant_id] = new_log


class SaveCrmSettings(Operation):
    """Screen-pop and/or auto-log settings, validated, stored and made current on the tenant's holder (whose
    screen pops and auto logs read them)."""

    name: ClassVar[str] = "save_crm_settings"
    screen_pop: ScreenPopSettings | None = None
    auto_log: AutoLogSettings | None = None
    now: float
    actor: Actor | None = None

    async def run(self, node: ContactCenterNode, tenant_id: str) -> None:
        store = node.provided(CrmSettingsStore)
        save = functools.partial(
            store.save, tenant_id, self.now, screen_pop=self.screen_pop, auto_log=self.auto_log, actor=self.actor
        )
        await asyncio.to_thread(save)
