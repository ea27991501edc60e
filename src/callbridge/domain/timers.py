"""Offer and wrap-up timers, soonest first.

A timer is `(deadline, kind, interaction_id, token)` and they fall due in
that tuple's order, as they would from one heap. They are kept in one FIFO
per duration instead: timers of the same duration are set in the order they
fall due, so setting one is an append and the soonest timer is the smallest
head among a handful of FIFOs. Popping from a heap of tens of thousands of
timers, most of them for offers answered long ago, walks a path of entries
scattered in memory; here it touches one.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Hashable

Timer = tuple[float, str, str, str]


class Timers:
    __slots__ = ("_by_duration",)

    def __init__(self) -> None:
        self._by_duration: dict[Hashable, deque[Timer]] = {}

    def add(self, duration: Hashable, timer: Timer) -> None:
        """Sets a timer that runs `duration` (any key; the same for timers set at the same pace).

        Timers are expected to be added in deadline order for one duration;
        one that is not (the clock went back, or a tie with a smaller id) is
        inserted at its place.
        """
        fifo = self._by_duration.get(duration)
        if fifo is None:
            fifo = self._by_duration[duration] = deque()
        if not fifo or fifo[-1] <= timer:
            fifo.append(timer)
        else:
            fifo.insert(bisect.bisect_right(fifo, timer), timer)

    def first(self) -> Timer | None:
        """The soonest timer, or None."""
        fifo = self._soonest()
        return None if fifo is None else fifo[0]

    def pop_due(self, now: float) -> Timer | None:
        """Removes and returns the soonest timer if it is due at `now`, else returns None."""
        # `_soonest` spelled out: a Tick calls this once for every timer set since the last one
        soonest: deque[Timer] | None = None
        for fifo in self._by_duration.values():
            if fifo and (soonest is None or fifo[0] < soonest[0]):
                soonest = fifo
        if soonest is None or soonest[0][0] > now:
            return None
        return soonest.popleft()

    def pop_first(self) -> None:
        """Removes the soonest timer (the one `first` returns)."""
        fifo = self._soonest()
        if fifo is not None:
            fifo.popleft()

    def _soonest(self) -> deque[Timer] | None:
        soonest: deque[Timer] | None = None
        for fifo in self._by_duration.values():
            if fifo and (soonest is None or fifo[0] < soonest[0]):
                soonest = fifo
        return soonest

    def __len__(self) -> int:
        return sum(len(fifo) for fifo in self._by_duration.values())
