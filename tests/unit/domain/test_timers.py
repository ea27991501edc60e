"""Timers fall due in the same order as from one heap of all of them, whatever order they were set in."""

from __future__ import annotations

import heapq

from hypothesis import given
from hypothesis import strategies as st

from callbridge.domain.timers import Timer, Timers

DURATIONS = st.sampled_from([0, 5, 20, 30, "restored"])
TIMERS = st.tuples(
    st.integers(0, 40).map(float),
    st.sampled_from(["offer", "wrap_up"]),
    st.sampled_from(["i1", "i2", "i10", "i9"]),
    st.sampled_from(["i1.1", "i1.2", "31.0"]),
)
STEPS = st.lists(st.one_of(st.tuples(DURATIONS, TIMERS), st.integers(0, 45).map(float)), max_size=60)


@given(STEPS)
def test_timers_fall_due_in_heap_order(steps: list[tuple[object, Timer] | float]) -> None:
    timers = Timers()
    heap: list[Timer] = []
    for step in steps:
        if isinstance(step, float):
            due = []
            while (timer := timers.pop_due(step)) is not None:
                due.append(timer)
            expected = []
            while heap and heap[0][0] <= step:
                expected.append(heapq.heappop(heap))
            assert due == expected
        else:
            duration, timer = step
            timers.add(duration, timer)
            heapq.heappush(heap, timer)
        assert timers.first() == (heap[0] if heap else None)
        assert len(timers) == len(heap)


def test_pop_first_removes_the_soonest() -> None:
    timers = Timers()
    timers.add(20, (120.0, "offer", "i2", "i2.1"))
    timers.add(30, (110.0, "wrap_up", "i1", "110.0"))

    timers.pop_first()

    assert timers.first() == (120.0, "offer", "i2", "i2.1")
