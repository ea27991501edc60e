"""The audit log of configuration changes: who changed what, and when.

The entries and how a change is described are in `callbridge.domain.audit`; writing and reading the log is the
store's (`callbridge.store.audit`). Both are named here, where the services and channels look for them.
"""

from __future__ import annotations

from callbridge.domain.audit import SECRET_VALUE, SECRET_WORDS, SYSTEM, Actor, AuditEntry, changes, is_secret
from callbridge.store.audit import list_entries, record, target_types

__all__ = [
    "SECRET_VALUE",
    "SECRET_WORDS",
    "SYSTEM",
    "Actor",
    "AuditEntry",
    "changes",
    "is_secret",
    "list_entries",
    "record",
    "target_types",
]
