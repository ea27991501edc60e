"""The identity behind a request, and what it may do.

Roles come from Callbridge's own agent record, never from an identity
provider. A local admin (created with `callbridge admin create`) administers
every tenant; an agent with the admin role administers their own tenant.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from callbridge.domain.model import Role


class PrincipalKind(StrEnum):
    LOCAL_ADMIN = "local_admin"
    AGENT = "agent"
    API_KEY = "api_key"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    subject_id: str  # admin user id, agent id or API key id
    tenant_id: str | None  # None only for a local admin
    roles: frozenset[Role] = frozenset()

    def is_admin_of(self, tenant_id: str) -> bool:
        if self.kind is PrincipalKind.LOCAL_ADMIN:
            return True
        return self.kind is PrincipalKind.AGENT and self.tenant_id == tenant_id and Role.ADMIN in self.roles

    def is_supervisor_of(self, tenant_id: str) -> bool:
        return self.is_admin_of(tenant_id) or (
            self.kind is PrincipalKind.AGENT and self.tenant_id == tenant_id and Role.SUPERVISOR in self.roles
        )
