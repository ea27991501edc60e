"""Fails a test during which Callbridge's event loop was blocked: the loop that routes every tenant must never
run a callback long enough to delay offers and WebSocket frames (argon2, a database call, a file write).

Every loop on which `bootstrap.start` has finished is watched. Each callback's cost is the CPU time of the
loop's own thread (`time.thread_time`) less what the garbage collector took meanwhile, not wall time: a busy
machine that preempts the loop does not make a test fail, while work done on the loop (hashing, SQL in
SQLite, JSON of a large snapshot) does. Blocking I/O that waits without using CPU (a network round trip) is
not seen by this measure; the rule for it is the same (docs/architecture.md), and review catches it.

The limit is `CALLBRIDGE_TEST_LOOP_BLOCK_MS` (default 50); `0` turns the watch off.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

LIMIT_SECONDS = float(os.environ.get("CALLBRIDGE_TEST_LOOP_BLOCK_MS", "50")) / 1000


@dataclass(frozen=True)
class Block:
    seconds: float
    callback: str


_watched: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()
_blocks: list[Block] = []
_lock = threading.Lock()
# thread id → (wall-clock start, run number) of the callback running there now, and where a sampler saw it
_running: dict[int, tuple[float, int]] = {}
_serving_threads: set[int] = set()  # threads running a served node's loop
_seen_at: dict[tuple[int, int], str] = {}
# CPU time the garbage collector spent, per thread: a full collection of the test process's large heap can
# land in any callback, and it is not the callback's doing (a served node freezes its start-up objects).
_gc = threading.local()


def _count_gc(phase: str, _info: dict[str, Any]) -> None:
    if phase == "start":
        _gc.started = time.thread_time()
    elif hasattr(_gc, "started"):
        _gc.spent = getattr(_gc, "spent", 0.0) + time.thread_time() - _gc.started


SAMPLE_EVERY_SECONDS = 0.005


# Functions allowed to reach the database from the event loop. Empty, and meant to stay so: every database
# call runs in a worker thread or the node's writer (docs/architecture.md, ADR 0008).
DATABASE_ON_THE_LOOP_NOT_MOVED_YET: frozenset[str] = frozenset()


def _innermost_callbridge_function(frame: Any) -> str:
    while frame is not None:
        path = frame.f_code.co_filename
        if "/callbridge/" in path and "/site-packages/" not in path:
            return f"callbridge/{path.rsplit('/callbridge/', 1)[1]}:{frame.f_code.co_name}"
        frame = frame.f_back
    return ""


def _where(frame: Any) -> str:
    """The innermost frames of Callbridge's own code in a stack, and the innermost frame of all: where the
    loop's time went."""
    stack = traceback.format_stack(frame)
    ours = [line for line in stack if "/callbridge" in line and "/site-packages/" not in line]
    shown = ours[-4:] + ([stack[-1]] if stack and stack[-1] not in ours[-4:] else [])
    return "".join(shown).rstrip()


def _sample_forever() -> None:
    """Looks at the loops' threads while a callback runs long, to say where it was when the loop stalled."""
    while True:
        time.sleep(SAMPLE_EVERY_SECONDS)
        now = time.monotonic()
        frames = None
        for thread_id, (started, run) in list(_running.items()):
            if now - started < LIMIT_SECONDS / 2:
                continue
            frames = frames or sys._current_frames()
            frame = frames.get(thread_id)
            if frame is not None:
                _seen_at[(thread_id, run)] = _where(frame)


def _describe(handle: asyncio.Handle) -> str:
    callback: Any = getattr(handle, "_callback", None)
    task = getattr(callback, "__self__", None)
    if isinstance(task, asyncio.Task):
        frames = task.get_stack(limit=1)
        where = traceback.format_stack(frames[0], limit=1)[0].strip() if frames else ""
        coro = task.get_coro()
        name = getattr(coro, "__qualname__", repr(coro))
        return f"task {task.get_name()} ({name}) {where}"
    return repr(handle)


def install() -> None:
    """Wraps `asyncio.Handle._run` once per process; unwatched loops pay one set lookup per callback."""
    original = asyncio.Handle._run
    if getattr(original, "_callbridge_loop_watch", False):
        return

    runs = iter(range(1, sys.maxsize))

    def _run(self: asyncio.Handle) -> None:
        loop = self._loop  # type: ignore[attr-defined]
        if loop not in _watched:
            original(self)
            return
        thread_id = threading.get_ident()
        run = next(runs)
        _running[thread_id] = (time.monotonic(), run)
        gc_before = getattr(_gc, "spent", 0.0)
        started = time.thread_time()
        try:
            original(self)
        finally:
            spent = time.thread_time() - started - (getattr(_gc, "spent", 0.0) - gc_before)
            del _running[thread_id]
            where = _seen_at.pop((thread_id, run), None)
        if spent > LIMIT_SECONDS:
            with _lock:
                _blocks.append(Block(spent, where or _describe(self)))

    _run._callbridge_loop_watch = True  # type: ignore[attr-defined]
    asyncio.Handle._run = _run  # type: ignore[method-assign]
    threading.Thread(target=_sample_forever, name="loop-watch-sampler", daemon=True).start()
    gc.callbacks.append(_count_gc)

    from callbridge import bootstrap

    start = bootstrap.start

    async def watched_start(*args: Any, **kwargs: Any) -> Any:
        """Watches from the end of start-up (which may take its time before anything is served)."""
        runtime = await start(*args, **kwargs)
        _watched.add(asyncio.get_running_loop())
        _serving_threads.add(threading.get_ident())
        return runtime

    bootstrap.start = watched_start  # type: ignore[assignment]
    stop = bootstrap.Runtime.stop

    async def watched_stop(runtime: Any) -> None:
        _serving_threads.discard(threading.get_ident())  # shutting down: nothing is served any more
        await stop(runtime)

    bootstrap.Runtime.stop = watched_stop  # type: ignore[method-assign]

    from sqlalchemy import Engine, event

    def _on_a_served_loop() -> bool:
        """Thread ids are reused: a worker thread may get the id of a served loop's thread that ended without
        stopping its runtime, so the thread must also be running a watched loop right now."""
        try:
            return asyncio.get_running_loop() in _watched
        except RuntimeError:
            return False

    def database_call(_connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        """Any SQL the loop's own thread sends waits for the database there, whatever the CPU says."""
        if threading.get_ident() in _serving_threads and _on_a_served_loop():
            frame = sys._getframe(1)
            if _innermost_callbridge_function(frame) in DATABASE_ON_THE_LOOP_NOT_MOVED_YET:
                return
            where = _where(frame)
            with _lock:
                _blocks.append(Block(0.0, f"a database call on the event loop ({statement.split()[0]}):\n{where}"))

    event.listen(Engine, "before_cursor_execute", database_call)


@pytest.fixture(autouse=True)
def event_loop_never_blocked(request: pytest.FixtureRequest) -> Iterator[None]:
    """On for every test; `@pytest.mark.loop_may_block("why")` exempts a test that measures something else."""
    if LIMIT_SECONDS <= 0 or request.node.get_closest_marker("loop_may_block"):
        yield
        return
    with _lock:
        _blocks.clear()
    yield
    with _lock:
        found = list(_blocks)
        _blocks.clear()
    if found:
        worst = sorted(found, key=lambda block: -block.seconds)[:5]
        lines = "\n".join(
            f"- {block.seconds * 1000:.0f} ms of CPU in:\n{block.callback}" if block.seconds else f"- {block.callback}"
            for block in worst
        )
        pytest.fail(
            f"Callbridge's event loop was blocked {len(found)} time(s) longer than {LIMIT_SECONDS * 1000:.0f} ms "
            f"(move the work to a thread: asyncio.to_thread / run_in_threadpool):\n{lines}",
            pytrace=False,
        )
