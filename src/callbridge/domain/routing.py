"""The routing indexes: who is ready for each queue, and who waits in it.

Routing order, as in TaskRouter and mod_callcenter's default strategy:
interactions by priority (higher first), then by their place in the queue
(oldest first); agents by idle time (longest idle first). Both indexes are
heaps with lazy deletion: an entry is checked when it reaches the top and
dropped if it no longer holds, which keeps every change O(log n).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from callbridge.domain.agent_state import AgentState
from callbridge.domain.model import Interaction, InteractionState, Queue

WaitKey = tuple[int, float, int]


def wait_key(interaction: Interaction) -> WaitKey:
    """Sort key of an interaction in its queue: priority first, then its original place."""
    return (-interaction.priority, interaction.enqueued_at, interaction.sequence)


class WaitingInteractions:
    """Interactions waiting in one queue, best first."""

    __slots__ = ("_heap", "live")

    def __init__(self) -> None:
        self._heap: list[tuple[int, float, int, str]] = []
        self.live = 0

    def push(self, interaction: Interaction) -> None:
        heapq.heappush(self._heap, (*wait_key(interaction), interaction.id))
        self.live += 1

    def discard(self) -> None:
        """One interaction left the queue by another way than `pop` (its entry goes lazily)."""
        self.live -= 1

    def needs_compaction(self) -> bool:
        return len(self._heap) > 2 * self.live + 64

    def head(self, interactions: dict[str, Interaction], queue_id: str) -> Interaction | None:
        heap = self._heap
        while heap:
            priority, enqueued_at, sequence, interaction_id = heap[0]
            found = interactions.get(interaction_id)
            if (
                found is not None
                and found.state is InteractionState.QUEUED
                and found.queue_id == queue_id
                and found.sequence == sequence
                and found.priority == -priority
            ):
                return found
            heapq.heappop(heap)
        return None

    def pop(self) -> None:
        heapq.heappop(self._heap)
        self.live -= 1

    def waiting_ids(self) -> list[str]:
        """Ids of the entries, stale ones included: callers check each against the interaction."""
        return [entry[3] for entry in self._heap]

    def compact(self, is_valid: Callable[[str, int], bool]) -> None:
        self._heap = [entry for entry in self._heap if is_valid(entry[3], entry[2])]
        heapq.heapify(self._heap)

    def __len__(self) -> int:
        return self.live


class ReadyAgents:
    """Agents who could take an interaction from one queue now, longest idle first."""

    __slots__ = ("_check_at", "_heap")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, str]] = []
        # heap size beyond which `compact` is worth calling; set from the member count at each call
        self._check_at = 64

    def push(self, agent: AgentState) -> None:
        heapq.heappush(self._heap, (agent.idle_since, agent.version, agent.profile.id))

    def push_entry(self, entry: tuple[float, int, str]) -> bool:
        """Pushes `(idle_since, version, agent_id)`; True when `compact` should be called."""
        heap = self._heap
        heapq.heappush(heap, entry)
        return len(heap) > self._check_at

    def pop_best(self, agents: dict[str, AgentState], queue: Queue) -> AgentState | None:
        heap = self._heap
        channel = queue.channel
        while heap:
            _idle_since, version, agent_id = heapq.heappop(heap)
            agent = agents.get(agent_id)
            if (
                agent is not None
                and agent.version == version
                and agent.is_ready_for(channel)
                and queue.id in agent.eligible_queue_ids
            ):
                return agent
        return None

    def compact(self, agents: dict[str, AgentState], queue: Queue, members: int) -> None:
        """Drops stale entries once they outnumber the members (status flips with no traffic)."""
        self._check_at = 2 * members + 64
        if len(self._heap) <= self._check_at:
            return
        channel = queue.channel
        self._heap = [
            entry
            for entry in self._heap
            if (agent := agents.get(entry[2])) is not None and agent.version == entry[1] and agent.is_ready_for(channel)
        ]
        heapq.heapify(self._heap)

    def __len__(self) -> int:
        return len(self._heap)
