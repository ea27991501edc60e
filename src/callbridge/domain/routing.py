"""The routing indexes: who is ready for each queue, and who waits in it.

Routing order, as in TaskRouter and mod_callcenter's default strategy:
interactions by priority (higher first), then by their place in the queue
(oldest first); agents by idle time (longest idle first). Both indexes use
lazy deletion: an entry is checked when it reaches the front and dropped if
it no longer holds, so a change never has to find the entries it outdates.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable

from callbridge.domain.agent_state import AgentState
from callbridge.domain.model import Interaction, InteractionState, Queue

# read for every waiting entry looked at, and an enum member read as a class attribute is slow on 3.11
_QUEUED = InteractionState.QUEUED

WaitKey = tuple[int, float, int]
# (idle_since, version, agent_id, agent): the agent rides along so checking an entry needs no lookup;
# comparisons never reach it, as every re-index moves the version on (and `forget` covers re-created ids)
ReadyEntry = tuple[float, int, str, AgentState]


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
                and found.state is _QUEUED
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
    """Agents who could take an interaction from one queue now, longest idle first.

    A list kept sorted, best first, rather than a heap: an agent is re-indexed
    with the time of their last offer or completion, which is almost always
    the latest key so far, so inserting is usually an append, and taking the
    best (after skipping stale entries) is one slice deletion instead of a
    sift per entry.
    """

    __slots__ = ("_check_at", "_entries")

    def __init__(self) -> None:
        self._entries: list[ReadyEntry] = []
        # list size beyond which `compact` is worth calling; set from the member count at each call
        self._check_at = 64

    def push_entry(self, entry: ReadyEntry) -> bool:
        """Adds an entry made by `ready_entry`; True when `compact` should be called."""
        entries = self._entries
        if not entries or entries[-1] < entry:
            entries.append(entry)
        else:
            bisect.insort(entries, entry)
        return len(entries) > self._check_at

    def pop_best(self, queue: Queue) -> AgentState | None:
        entries = self._entries
        channel = queue.channel
        for index, (_idle_since, version, _agent_id, agent) in enumerate(entries):
            if agent.version == version and agent.is_ready_for(channel) and queue.id in agent.eligible_queue_ids:
                del entries[: index + 1]
                return agent
        entries.clear()
        return None

    def compact(self, queue: Queue, members: int) -> None:
        """Drops stale entries once they outnumber the members (status flips with no traffic)."""
        self._check_at = 2 * members + 64
        if len(self._entries) <= self._check_at:
            return
        channel = queue.channel
        self._entries = [
            entry for entry in self._entries if (agent := entry[3]).version == entry[1] and agent.is_ready_for(channel)
        ]

    def forget(self, agent: AgentState) -> None:
        """Drops a removed agent's entries, so that a new agent with the same id never ties with them."""
        self._entries = [entry for entry in self._entries if entry[3] is not agent]

    def __len__(self) -> int:
        return len(self._entries)


def ready_entry(agent: AgentState) -> ReadyEntry:
    """The agent's entry in the ready indexes: longest idle first, ties broken by version, then id."""
    return (agent.idle_since, agent.version, agent.id, agent)


class QueueIndexes:
    """Both routing indexes of one queue, held by the queue's eligible agents so they skip the lookups."""

    __slots__ = ("queue", "ready", "waiting")

    def __init__(self, queue: Queue) -> None:
        self.queue = queue
        self.waiting = WaitingInteractions()
        self.ready = ReadyAgents()
