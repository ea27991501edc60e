"""The auto-log relay: delivers `crm_outbox` rows to the CRM, at least once, idempotently.

- Claims due rows (`status = 'pending' AND next_attempt_at <= now`) with `FOR UPDATE SKIP LOCKED`
  on PostgreSQL, so several nodes never take the same row (SQLite has one writer: plain select),
  and pushes their `next_attempt_at` one lease ahead, so a node that dies mid-delivery leaves
  them to be taken again after the lease.
- Writes with the interaction id as the CRM's external id: a write that reached the CRM but
  whose answer was lost is written again as an update, never as a second activity.
- A retryable failure (`CrmUnavailable`, `CrmRateLimited`, anything unexpected) waits
  exponentially longer, with jitter (half the delay fixed, half random), honouring the CRM's
  Retry-After; a non-retryable one (a missing permission or field, bad credentials) marks the row
  `failed` with the reason, for an admin to fix and retry.
- Progress and health are Prometheus metrics (`/metrics`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter, Gauge
from sqlalchemy import Engine

from callbridge.connectors.base import CrmError, CrmRateLimited, CrmRecord
from callbridge.services.auto_log import activity_log, record_from_json
from callbridge.services.crm_connections import CrmConnections
from callbridge.services.crm_links import PendingLinks
from callbridge.store import crm_outbox
from callbridge.store.crm_links import link_of
from callbridge.store.crm_outbox import ClaimedLog, retry

log = logging.getLogger(__name__)

__all__ = ["AutoLogRelay", "RelaySettings", "backoff", "retry"]  # retry: the store's, named here for the admin

DELIVERED = Counter("callbridge_auto_log_delivered_total", "Auto logs written to the CRM")
RETRIED = Counter("callbridge_auto_log_retries_total", "Auto-log attempts that failed and will be retried", ["code"])
FAILED = Counter("callbridge_auto_log_marked_failed_total", "Auto logs marked failed (need an admin)", ["code"])
PENDING = Gauge("callbridge_auto_log_pending", "Auto logs waiting to be written, all tenants")
FAILED_NOW = Gauge("callbridge_auto_log_failed", "Auto logs marked failed and not yet retried, all tenants")
OLDEST_PENDING = Gauge("callbridge_auto_log_oldest_pending_seconds", "Age of the oldest pending auto log")
LAST_RUN = Gauge("callbridge_auto_log_relay_last_run_timestamp", "When the relay last looked for work")


@dataclass(frozen=True, slots=True)
class RelaySettings:
    base_delay_seconds: float = 2.0
    max_delay_seconds: float = 600.0
    max_attempts: int = 200  # retryable failures; about a day at the maximum delay
    lease_seconds: float = 120.0
    poll_seconds: float = 5.0
    batch_size: int = 50
    concurrency: int = 8
    write_timeout_seconds: float = 60.0
    # longest wait for a screen pop still searching for the record to link the log to (searches are time-boxed)
    link_wait_seconds: float = 10.0


def backoff(attempts: int, settings: RelaySettings, rng: random.Random) -> float:
    """Delay before attempt `attempts + 1`: exponential, capped, half of it random."""
    delay = min(settings.max_delay_seconds, settings.base_delay_seconds * 2 ** max(0, attempts - 1))
    return float(delay / 2 + rng.uniform(0, delay / 2))


class AutoLogRelay:
    def __init__(
        self,
        engine: Engine,
        connections: CrmConnections,
        settings: RelaySettings | None = None,
        *,
        pending_links: PendingLinks | None = None,
        now: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.connections = connections
        self.pending_links = pending_links or PendingLinks()
        self.settings = settings or RelaySettings()
        self.now = now
        self.rng = rng or random.Random()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="auto-log-relay")

    async def stop(self) -> None:
        self._stopping = True
        self._wakeup.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def wake(self) -> None:
        """New rows were committed (an after-commit hook of the node)."""
        self._wakeup.set()

    async def when_linked(self, tenant_id: str, interaction_id: str) -> None:
        """A log put off while its screen pop searched: due once the search ends (or its time box does)."""
        await self.pending_links.settled(tenant_id, interaction_id, self.settings.link_wait_seconds)
        await asyncio.to_thread(crm_outbox.make_due, self.engine, tenant_id, interaction_id, self.now())
        self._wakeup.set()

    async def _run(self) -> None:
        while not self._stopping:
            try:
                done = await self.run_once()
            except Exception:
                log.exception("auto-log relay pass failed")
                done = 0
            if done:
                continue  # there may be more due
            self._wakeup.clear()
            # the time-out first: a stop while it is read must not leave a wait() coroutine never awaited
            sleep_seconds = await self._sleep_seconds()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), sleep_seconds)

    async def _sleep_seconds(self) -> float:
        due = await asyncio.to_thread(self._next_due)
        if due is None:
            return self.settings.poll_seconds
        return max(0.0, min(self.settings.poll_seconds, due - self.now()))

    def _next_due(self) -> float | None:
        return crm_outbox.next_due(self.engine)

    async def run_once(self) -> int:
        """Delivers the rows due now; returns how many were attempted."""
        claimed = await asyncio.to_thread(self._claim)
        LAST_RUN.set(self.now())
        if claimed:
            semaphore = asyncio.Semaphore(self.settings.concurrency)

            async def one(row: ClaimedLog) -> None:
                async with semaphore:
                    await self._deliver(row)

            await asyncio.gather(*(one(row) for row in claimed))
        await asyncio.to_thread(self._update_gauges)
        return len(claimed)

    def _claim(self) -> list[ClaimedLog]:
        return crm_outbox.claim(
            self.engine, self.now(), lease_seconds=self.settings.lease_seconds, at_most=self.settings.batch_size
        )

    async def _deliver(self, row: ClaimedLog) -> None:
        attempts = row.attempts + 1
        agent_id = row.payload.get("agent_id")  # the log is written as this agent when the connection says so
        connector = await self.connections.get(
            row.tenant_id, row.crm, agent_id=agent_id if isinstance(agent_id, str) and agent_id else None
        )
        if connector is None:
            message = f"the CRM {row.crm!r} is not connected for this tenant: connect it, then retry"
            await asyncio.to_thread(self._mark_failed, row, attempts, message, "not_connected")
            FAILED.labels("not_connected").inc()
            return
        link = record_from_json(row.payload.get("link"))
        if link is None:
            await self.pending_links.settled(row.tenant_id, row.interaction_id, self.settings.link_wait_seconds)
            link = await asyncio.to_thread(self._link, row.tenant_id, row.interaction_id)
        try:
            async with asyncio.timeout(self.settings.write_timeout_seconds):
                written = await connector.write_activity(activity_log(row.interaction_id, row.payload, link))
        except CrmError as error:
            code = error.code or error.__class__.__name__
            if error.retryable and attempts < self.settings.max_attempts:
                delay = backoff(attempts, self.settings, self.rng)
                if isinstance(error, CrmRateLimited) and error.retry_after_seconds:
                    delay = max(delay, error.retry_after_seconds)
                await asyncio.to_thread(self._mark_retry, row, attempts, str(error), code, delay)
                RETRIED.labels(code).inc()
                return
            log.warning(
                "auto log failed; an admin must fix the cause and retry",
                extra={"tenant_id": row.tenant_id, "interaction_id": row.interaction_id, "error": str(error)},
            )
            await asyncio.to_thread(self._mark_failed, row, attempts, str(error), code)
            FAILED.labels(code).inc()
            return
        except Exception as error:  # a bug or an unexpected answer: keep the log and try again later
            log.exception("auto log: unexpected error", extra={"interaction_id": row.interaction_id})
            code = error.__class__.__name__
            if attempts < self.settings.max_attempts:
                delay = backoff(attempts, self.settings, self.rng)
                await asyncio.to_thread(self._mark_retry, row, attempts, repr(error), code, delay)
                RETRIED.labels(code).inc()
            else:
                await asyncio.to_thread(self._mark_failed, row, attempts, repr(error), code)
                FAILED.labels(code).inc()
            return
        await asyncio.to_thread(self._mark_sent, row, attempts, written.activity_id)
        DELIVERED.inc()

    def _link(self, tenant_id: str, interaction_id: str) -> CrmRecord | None:
        return link_of(self.engine, tenant_id, interaction_id)

    def _set(self, row: ClaimedLog, **values: Any) -> None:
        crm_outbox.update_entry(self.engine, row.tenant_id, row.interaction_id, updated_at=self.now(), **values)

    def _mark_sent(self, row: ClaimedLog, attempts: int, activity_id: str) -> None:
        self._set(row, status="sent", attempts=attempts, activity_id=activity_id, last_error="", error_code="")

    def _mark_retry(self, row: ClaimedLog, attempts: int, message: str, code: str, delay: float) -> None:
        self._set(
            row,
            status="pending",
            attempts=attempts,
            last_error=message[:2000],
            error_code=code[:64],
            next_attempt_at=self.now() + delay,
        )

    def _mark_failed(self, row: ClaimedLog, attempts: int, message: str, code: str) -> None:
        self._set(row, status="failed", attempts=attempts, last_error=message[:2000], error_code=code[:64])

    def _update_gauges(self) -> None:
        counts, oldest = crm_outbox.backlog(self.engine)
        PENDING.set(counts.get("pending", 0))
        FAILED_NOW.set(counts.get("failed", 0))
        OLDEST_PENDING.set(max(0.0, self.now() - float(oldest)) if oldest is not None else 0.0)
