"""Who may receive a wire event. The hub routes on these and nothing else.

Supervisors and admins of the tenant receive every event of their tenant;
agents receive their own events, their tenant's presence changes, and the
summaries of the queues they belong to. Internal events never reach a browser.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TenantAudience:
    """Everyone signed in to the tenant (e.g. colleagues' presence)."""


@dataclass(frozen=True, slots=True)
class AgentAudience:
    """Some agents, usually one (and the tenant's supervisors, once)."""

    agent_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class QueueAudience:
    """The queue's members (and the tenant's supervisors)."""

    queue_id: str


@dataclass(frozen=True, slots=True)
class SupervisorAudience:
    """Supervisors and admins of the tenant only."""


@dataclass(frozen=True, slots=True)
class InternalAudience:
    """Workers inside Callbridge; never sent to a browser."""


Audience = TenantAudience | AgentAudience | QueueAudience | SupervisorAudience | InternalAudience
