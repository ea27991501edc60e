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
    """Interactions waiting in one queue, best first; and by age, for the queue's longest wait.

    `live` counts the waiting interactions. The age heap, (enqueued_at, sequence, id), is kept the same lazy
    way: its entries are checked when they reach the top (see `oldest`), and it is compacted when stale
    entries outnumber live ones, so the summary of a queue costs O(1) amortised per change, whatever the
    backlog, instead of a pass over every waiting interaction.
    """

    __slots__ = ("_by_age", "_heap", "_interactions", "_queue_id", "live")

    def __init__(self, interactions: dict[str, Interaction], queue_id: str) -> None:
        self._heap: list[tuple[int, float, int, str]] = []
        self._by_age: list[tuple[float, int, str]] = []
        self._interactions = interactions
        self._queue_id = queue_id
        self.live = 0

    def push(self, interaction: Interaction) -> None:
        heapq.heappush(self._heap, (*wait_key(interaction), interaction.id))
        self.live += 1
        by_age = self._by_age
        heapq.heappush(by_age, (interaction.enqueued_at, interaction.sequence, interaction.id))
        if len(by_age) > 2 * self.live + 64:
            self._compact_by_age()

    def oldest(self) -> float | None:
        """When the interaction waiting longest was queued, or None when none waits."""
        by_age = self._by_age
        while by_age:
            _enqueued_at, sequence, interaction_id = by_age[0]
            if self._is_waiting(interaction_id, sequence):
                return by_age[0][0]
            heapq.heappop(by_age)
        return None

    def _is_waiting(self, interaction_id: str, sequence: int) -> bool:
        found = self._interactions.get(interaction_id)
        return (
            found is not None
            and found.state is _QUEUED
            and found.queue_id == self._queue_id
            and found.sequence == sequence
        )

    def _compact_by_age(self) -> None:
        # an interaction offered and put back has two entries with the same key: keep one
        kept = {entry[2]: entry for entry in self._by_age if self._is_waiting(entry[2], entry[1])}
        self._by_age = list(kept.values())
        heapq.heapify(self._by_age)

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
        self._compact_by_age()

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
        during_wrap_up = queue.offer_during_wrap_up
        for index, (_idle_since, version, _agent_id, agent) in enumerate(entries):
            if (
                agent.version == version
                and agent.is_ready_for(channel)
                and (during_wrap_up or not agent.wrapping)
                and queue.id in agent.eligible_queue_ids
            ):
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
    """Both routing indexes of one queue, held by the queue's eligible agents so they skip the lookups.

    `ready_count`: how many agents are ready for the queue now (for its summary; the ready index itself
    holds stale entries). Each agent remembers the queues it is counted in (`AgentState.counted_ready_in`)."""

    __slots__ = ("queue", "ready", "ready_count", "waiting")

    def __init__(self, queue: Queue, interactions: dict[str, Interaction]) -> None:
        self.queue = queue
        self.waiting = WaitingInteractions(interactions, queue.id)
        self.ready = ReadyAgents()
        self.ready_count = 0
