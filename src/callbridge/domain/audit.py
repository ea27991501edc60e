"""The audit log's entries: who changed what. `changes` keeps the before and after values of the fields that
changed; a field whose name says it is a secret (`secret`, `password`, `token`, …) is recorded only as
"changed", never with its value. The store writes and reads them (`callbridge.store.audit`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

SECRET_WORDS = ("secret", "password", "token", "private_key", "credential")
SECRET_VALUE = "(secret: not recorded)"  # noqa: S105 (a placeholder, not a secret)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change: a local admin, an agent with the admin role, an API key, or Callbridge itself."""

    kind: str  # local_admin | agent | api_key | system
    id: str
    name: str  # e-mail of an admin or agent, name of an API key


SYSTEM = Actor("system", "", "Callbridge")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    tenant_id: str
    at: float
    actor: Actor
    action: str
    target_type: str
    target_id: str
    changes: Mapping[str, Mapping[str, Any]]


def is_secret(field: str) -> bool:
    name = field.lower()
    return any(word in name for word in SECRET_WORDS)


def _plain(value: Any) -> Any:
    """A JSON-friendly copy: enums by value, sets sorted, tuples as lists."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(_plain(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((_plain(v) for v in value), key=str)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return SECRET_VALUE
    return value


def changes(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The fields that differ, as `{field: {"before": …, "after": …}}`; secrets only as changed."""
    old = {k: _plain(v) for k, v in (before or {}).items()}
    new = {k: _plain(v) for k, v in (after or {}).items()}
    found: dict[str, dict[str, Any]] = {}
    for field in sorted(set(old) | set(new)):
        was, now = old.get(field), new.get(field)
        if was == now:
            continue
        if is_secret(field):
            was = SECRET_VALUE if was not in (None, "") else None
            now = SECRET_VALUE if now not in (None, "") else None
        found[field] = {"before": was, "after": now}
    return found
