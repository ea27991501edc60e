"""An agent's live state and the rules for its status.

The agent chooses a *presence* (logged_out, break, available,
working_offline); the status others see is derived from it and from the
interactions the agent holds: busy while connected to one, wrap_up while
only wrapping up, otherwise the presence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from callbridge.domain.errors import InvalidTransition
from callbridge.domain.model import AgentProfile, AgentStatus, Channel, Interaction, InteractionState

if TYPE_CHECKING:
    from callbridge.domain.routing import QueueIndexes

SELECTABLE_PRESENCES = frozenset({AgentStatus.AVAILABLE, AgentStatus.BREAK, AgentStatus.WORKING_OFFLINE})
# read on every routing decision, and an enum member read as a class attribute is slow on Python 3.11
_AVAILABLE = AgentStatus.AVAILABLE
_PHONE = Channel.PHONE
_CONNECTED = InteractionState.CONNECTED
_IN_WRAP_UP = InteractionState.WRAP_UP


class AgentState:
    """Mutable per-agent state owned by one ContactCenter.

    `holding` maps each channel to the interactions (offered, connected or in
    wrap-up) that use the agent's capacity on it; `connected` and `wrapping`
    count those of them in each state, so the status follows in O(1). Every
    change of a held interaction's state goes through `hold_state`,
    `release` or `count_held`. `held_back`: the agent missed an offer while
    working on something else; they stay in their status (it is not absence)
    but are offered nothing more until they let go of an interaction they
    work on or choose their status again. `version` changes whenever
    anything that affects routing changes, so stale entries in routing
    indexes can be recognised and dropped. `consulted_on`: the calls on which a colleague consults the agent
    (a warm transfer's consult, ContactCenter's StartConsult); each takes one of the agent's phone places, as
    the call they are on, so they are busy and offered no call meanwhile.
    """

    __slots__ = (
        "connected",
        "consulted_on",
        "counted_ready_in",
        "eligible_queue_ids",
        "held_back",
        "holding",
        "id",
        "idle_since",
        "indexes_by_channel",
        "presence",
        "profile",
        "reason",
        "status",
        "status_reason",
        "status_since",
        "version",
        "wrapping",
    )

    def __init__(self, profile: AgentProfile, now: float) -> None:
        self.profile = profile
        self.id = profile.id  # a profile may be replaced, but only by one with the same id
        self.presence = AgentStatus.LOGGED_OUT
        self.reason = ""
        self.status = AgentStatus.LOGGED_OUT
        self.status_reason = ""
        self.status_since = now
        self.idle_since = now
        self.holding: dict[Channel, set[str]] = {channel: set() for channel in Channel}
        self.version = 0
        self.connected = 0
        self.wrapping = 0
        self.held_back = False
        self.consulted_on: set[str] = set()
        self.eligible_queue_ids: tuple[str, ...] = ()
        # the routing indexes of the same queues, grouped by their channel, so routing skips a full
        # channel in one step and reaches each queue's indexes without looking them up
        self.indexes_by_channel: tuple[tuple[Channel, tuple[QueueIndexes, ...]], ...] = ()
        # the queues whose `ready_count` counts this agent (see ContactCenter._count_ready)
        self.counted_ready_in: tuple[QueueIndexes, ...] = ()

    def used(self, channel: Channel) -> int:
        """The places taken on this channel: interactions held, and on the phone, consults."""
        if channel is _PHONE:
            return len(self.holding[channel]) + len(self.consulted_on)
        return len(self.holding[channel])

    def free_capacity(self, channel: Channel) -> int:
        return self.profile.capacity.get(channel, 0) - self.used(channel)

    def is_ready_for(self, channel: Channel) -> bool:
        """May be offered an interaction on this channel right now."""
        return (
            self.presence is _AVAILABLE
            and self.profile.enabled
            and not self.held_back
            and self.used(channel) < self.profile.capacity.get(channel, 0)
        )

    def works_on_other_interactions(self) -> bool:
        """Connected to or wrapping up an interaction (offers pending do not count)."""
        return self.connected > 0 or self.wrapping > 0

    def held_interaction_ids(self) -> list[str]:
        return [iid for ids in self.holding.values() for iid in ids]

    def count_held(self, state: InteractionState, delta: int) -> None:
        """Adds `delta` to the count of held interactions in `state` (offered ones are not counted)."""
        if state is _CONNECTED:
            self.connected += delta
        elif state is _IN_WRAP_UP:
            self.wrapping += delta

    def hold_state(self, interaction: Interaction, state: InteractionState) -> None:
        """Moves a held interaction to another held state, keeping the counts."""
        # `count_held` spelled out here and in `release`: they run on every accepted offer and ended interaction
        previous = interaction.state
        if previous is _CONNECTED:
            self.connected -= 1
        elif previous is _IN_WRAP_UP:
            self.wrapping -= 1
        interaction.state = state
        if state is _CONNECTED:
            self.connected += 1
        elif state is _IN_WRAP_UP:
            self.wrapping += 1

    def release(self, interaction: Interaction) -> None:
        """The interaction no longer uses the agent's capacity (its state is left to the caller)."""
        held = self.holding[interaction.channel]
        if interaction.id in held:
            held.discard(interaction.id)
            state = interaction.state
            if state is _CONNECTED:
                self.connected -= 1
                self.held_back = False
            elif state is _IN_WRAP_UP:
                self.wrapping -= 1
                self.held_back = False


def derive_status(presence: AgentStatus, held_states: list[InteractionState]) -> AgentStatus:
    """The status shown for an agent with this presence holding interactions in these states."""
    if InteractionState.CONNECTED in held_states:
        return AgentStatus.BUSY
    if InteractionState.WRAP_UP in held_states:
        return AgentStatus.WRAP_UP
    return presence


def check_presence_change(agent: AgentState, presence: AgentStatus) -> None:
    """Refuses presence changes the rules do not allow; returns quietly otherwise."""
    if presence not in SELECTABLE_PRESENCES:
        raise InvalidTransition(
            f"status must be one of {sorted(s.value for s in SELECTABLE_PRESENCES)}; "
            f"busy and wrap_up follow from the interactions an agent handles"
        )
    if agent.presence is AgentStatus.LOGGED_OUT:
        raise InvalidTransition(f"agent {agent.id!r} is signed out: sign in first")
    if presence is AgentStatus.AVAILABLE and not agent.profile.enabled:
        raise InvalidTransition(f"agent {agent.id!r} is disabled: ask an admin to enable the account")
