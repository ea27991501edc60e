"""Request rate-limit counters (callbridge_ratelimit's database storage), in Callbridge's own schema: with
PostgreSQL every node counts the same requests (see callbridge.web.rate_limits)."""

from __future__ import annotations

from callbridge.store.tables import metadata
from callbridge_ratelimit import counters_table

rate_limit_counters = counters_table(metadata)
