"""Tenant leases with fencing, and the nodes of a cluster (PostgreSQL only).

A tenant's routing runs on the node named in its `tenant_leases` row while `expires_at` is in the future.
Every time the holder changes, `epoch` goes up: it is the fencing token. A node writes a batch only after
`fence` has found, inside the batch's own transaction, its own name and the epoch it loaded the tenant
under on an unexpired row, and it keeps that row locked until the batch commits: a node paused past its
lease (GC pause, SIGSTOP, a partition) finds its epoch gone when it wakes, and writes nothing.

Expiry is decided by the database's clock (`clock_timestamp()`), never by a node's: nodes need not agree
on the time, and a node's own clock cannot make its lease look longer than the database says.

`cluster_nodes` holds one heartbeat row per live node; nodes count each other there to share tenants out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import BigInteger, Column, Connection, DateTime, Engine, String, Table, text

from callbridge.store.live_state import all_tenant_ids
from callbridge.store.tables import metadata

tenant_leases = Table(
    "tenant_leases",
    metadata,
    Column("tenant_id", String(64), primary_key=True),
    Column("holder", String(200), nullable=True),  # None: released
    Column("epoch", BigInteger, nullable=False),  # +1 on every change of holder
    Column("acquired_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

cluster_nodes = Table(
    "cluster_nodes",
    metadata,
    Column("node_id", String(200), primary_key=True),
    Column("address", String(400), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)


class LeaseLost(Exception):  # noqa: N818 - it names what happened
    """This node no longer holds these tenants' leases under the epochs it loaded them with."""

    def __init__(self, tenant_ids: set[str], holders: dict[str, tuple[str, str | None]] | None = None) -> None:
        super().__init__(f"lease lost for {', '.join(sorted(tenant_ids))}")
        self.tenant_ids = tenant_ids
        self.holders = holders or {}  # tenant → (node holding it now, its address), where one does


@dataclass(frozen=True, slots=True)
class Lease:
    tenant_id: str
    holder: str | None
    epoch: int
    live: bool  # held and not expired, by the database's clock
    age_seconds: float  # since the current holder acquired it
    seconds_left: float  # until expiry (negative: expired)


def _lease(row: object) -> Lease:
    return Lease(
        tenant_id=row.tenant_id,  # type: ignore[attr-defined]
        holder=row.holder,  # type: ignore[attr-defined]
        epoch=int(row.epoch),  # type: ignore[attr-defined]
        live=bool(row.live),  # type: ignore[attr-defined]
        age_seconds=float(row.age_seconds),  # type: ignore[attr-defined]
        seconds_left=float(row.seconds_left),  # type: ignore[attr-defined]
    )


_COLUMNS = """tenant_id, holder, epoch, holder IS NOT NULL AND expires_at > clock_timestamp() AS live,
    EXTRACT(EPOCH FROM clock_timestamp() - acquired_at) AS age_seconds,
    EXTRACT(EPOCH FROM expires_at - clock_timestamp()) AS seconds_left"""


def acquire(connection: Connection, tenant_id: str, node_id: str, seconds: float) -> Lease | None:
    """Takes the tenant's lease if nobody holds it, it has expired, or this node's name is on it: always under
    a new epoch (a node restarted under the same name takes its leases back at once, and anything still
    running under the old epoch is fenced off). None if another node holds it. Leases a node keeps are
    extended with `renew`, which keeps the epoch."""
    # a batch of the holder in flight keeps the row locked FOR KEY SHARE (`fence`): a change of holder waits for
    # it to commit (FOR UPDATE conflicts with it; the upsert's own lock, FOR NO KEY UPDATE, would not)
    connection.execute(
        text("SELECT 1 FROM tenant_leases WHERE tenant_id = :tenant_id FOR UPDATE"), {"tenant_id": tenant_id}
    )
    row = connection.execute(
        text(
            f"""
            INSERT INTO tenant_leases AS l (tenant_id, holder, epoch, acquired_at, expires_at)
            VALUES (:tenant_id, :node_id, 1, clock_timestamp(), clock_timestamp() + make_interval(secs => :seconds))
            ON CONFLICT (tenant_id) DO UPDATE SET
                holder = excluded.holder, epoch = l.epoch + 1,
                acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
            WHERE l.holder IS NULL OR l.expires_at <= clock_timestamp() OR l.holder = excluded.holder
            RETURNING {_COLUMNS}
            """  # noqa: S608 - only constants are formatted in; values are bound
        ),
        {"tenant_id": tenant_id, "node_id": node_id, "seconds": seconds},
    ).first()
    return None if row is None else _lease(row)


def wait_for_locks_at_most(connection: Connection, seconds: float) -> None:
    """In this transaction, give up on a row another transaction holds locked after `seconds` (a batch of a
    node that is paused holds its lease row until the database ends its session)."""
    connection.execute(text("SELECT set_config('lock_timeout', :ms, true)"), {"ms": f"{int(seconds * 1000)}ms"})


def renew(
    connection: Connection, node_id: str, epochs: Mapping[str, int], seconds: float, *, address: str | None = None
) -> dict[str, Lease]:
    """Extends the leases this node still holds under the given epochs, if they have not expired; the
    answer leaves out every lease that is lost (taken over, released, or expired). With `address`, the same
    statement also heartbeats the node (`heartbeat`): a renewal is one statement, whatever the tenants."""
    beat = (
        """beat AS (
            INSERT INTO cluster_nodes AS n (node_id, address, started_at, expires_at)
            VALUES (:node_id, :address, clock_timestamp(), clock_timestamp() + make_interval(secs => :seconds))
            ON CONFLICT (node_id) DO UPDATE SET address = excluded.address, expires_at = excluded.expires_at
            RETURNING n.node_id
        ),"""
        if address is not None
        else ""
    )
    if not epochs and not beat:
        return {}
    rows = connection.execute(
        text(
            f"""
            WITH {beat} renewed AS (
                UPDATE tenant_leases SET expires_at = clock_timestamp() + make_interval(secs => :seconds)
                WHERE tenant_id IN (
                    SELECT tenant_id FROM tenant_leases
                    WHERE holder = :node_id AND expires_at > clock_timestamp() AND (tenant_id, epoch) IN (
                        SELECT * FROM unnest(CAST(:tenant_ids AS text[]), CAST(:epochs AS bigint[]))
                    )
                    ORDER BY tenant_id FOR NO KEY UPDATE
                )
                RETURNING {_COLUMNS}
            )
            SELECT * FROM renewed
            """  # noqa: S608 - only constants are formatted in; values are bound
        ),
        {
            "node_id": node_id,
            "address": address,
            "seconds": seconds,
            "tenant_ids": list(epochs),
            "epochs": list(epochs.values()),
        },
    ).all()
    return {row.tenant_id: _lease(row) for row in rows}


def release(connection: Connection, node_id: str, tenant_ids: Iterable[str]) -> None:
    """Gives leases up at once (graceful shutdown, rebalancing): another node may take them without waiting."""
    connection.execute(
        text(
            """
            UPDATE tenant_leases SET holder = NULL, expires_at = clock_timestamp()
            WHERE tenant_id IN (
                SELECT tenant_id FROM tenant_leases
                WHERE holder = :node_id AND tenant_id = ANY(CAST(:tenant_ids AS text[]))
                ORDER BY tenant_id FOR UPDATE
            )
            """
        ),
        {"node_id": node_id, "tenant_ids": list(tenant_ids)},
    )


def fence(
    connection: Connection, node_id: str, epochs: Mapping[str, int], *, idle_limit_seconds: float | None = None
) -> None:
    """Proves, inside the caller's transaction, that this node still holds every one of these tenants under
    the given epoch; raises LeaseLost naming those it does not. The rows stay locked until the transaction
    ends, so nobody can take a lease over between this check and the commit. The lock is FOR KEY SHARE: a
    change of holder (`acquire`, `release`: FOR UPDATE) waits for the commit, a renewal (FOR NO KEY UPDATE,
    which changes only the expiry) does not, so renewals never queue behind a busy node's batches. Rows are
    locked in tenant order, as `renew` and `release` lock them, so a batch and a renewal never deadlock.

    `idle_limit_seconds`: the database ends this transaction if its client leaves it idle that long (a node
    paused in the middle of a batch), so the locked rows cannot hold a takeover off for longer."""
    if not epochs:
        return
    if idle_limit_seconds is not None:
        connection.execute(
            text("SELECT set_config('idle_in_transaction_session_timeout', :ms, true)"),
            {"ms": f"{max(1, int(idle_limit_seconds * 1000))}ms"},
        )
    held = connection.execute(
        text(
            """
            SELECT tenant_id FROM tenant_leases
            WHERE holder = :node_id AND expires_at > clock_timestamp()
              AND (tenant_id, epoch) IN (SELECT * FROM unnest(CAST(:tenant_ids AS text[]), CAST(:epochs AS bigint[])))
            ORDER BY tenant_id FOR KEY SHARE
            """
        ),
        {"node_id": node_id, "tenant_ids": list(epochs), "epochs": list(epochs.values())},
    ).scalars()
    lost = set(epochs) - set(held)
    if lost:
        rows = connection.execute(
            text(
                """
                SELECT l.tenant_id, l.holder, n.address FROM tenant_leases l
                LEFT JOIN cluster_nodes n ON n.node_id = l.holder
                WHERE l.tenant_id = ANY(CAST(:tenant_ids AS text[])) AND l.holder IS NOT NULL
                  AND l.expires_at > clock_timestamp()
                """
            ),
            {"tenant_ids": list(lost)},
        ).all()
        raise LeaseLost(lost, {row.tenant_id: (row.holder, row.address) for row in rows})


def leases(connection: Connection) -> dict[str, Lease]:
    """Every tenant with its lease (a tenant never leased has none: it is free to take)."""
    query = text(f"SELECT {_COLUMNS} FROM tenant_leases")  # noqa: S608 - a constant
    rows = connection.execute(query).all()
    return {row.tenant_id: _lease(row) for row in rows}


def heartbeat(connection: Connection, node_id: str, address: str, seconds: float) -> list[str]:
    """Marks this node alive for `seconds` more and returns the live nodes (this one included), sorted."""
    connection.execute(
        text(
            """
            INSERT INTO cluster_nodes (node_id, address, started_at, expires_at)
            VALUES (:node_id, :address, clock_timestamp(), clock_timestamp() + make_interval(secs => :seconds))
            ON CONFLICT (node_id) DO UPDATE SET address = excluded.address, expires_at = excluded.expires_at
            """
        ),
        {"node_id": node_id, "address": address, "seconds": seconds},
    )
    return list(
        connection.execute(
            text("SELECT node_id FROM cluster_nodes WHERE expires_at > clock_timestamp() ORDER BY node_id")
        ).scalars()
    )


def leave(connection: Connection, node_id: str) -> None:
    """This node stops: its heartbeat row goes (its leases are released separately)."""
    connection.execute(text("DELETE FROM cluster_nodes WHERE node_id = :node_id"), {"node_id": node_id})


def node_addresses(connection: Connection) -> dict[str, str]:
    """Every live node's advertised address."""
    rows = connection.execute(
        text("SELECT node_id, address FROM cluster_nodes WHERE expires_at > clock_timestamp()")
    ).all()
    return {row.node_id: row.address for row in rows}


@dataclass(frozen=True, slots=True)
class LiveNode:
    node_id: str
    address: str
    up_seconds: float  # since it joined
    heartbeat_seconds_left: float  # until it counts as gone unless it beats again


@dataclass(frozen=True, slots=True)
class ClusterOverview:
    """What an administrator sees of the cluster: the live nodes and every tenant's lease."""

    nodes: list[LiveNode]
    leases: dict[str, Lease]

    def held_by(self, node_id: str) -> list[Lease]:
        return sorted(
            (lease for lease in self.leases.values() if lease.live and lease.holder == node_id),
            key=lambda lease: lease.tenant_id,
        )

    def unrouted(self, tenant_ids: Iterable[str]) -> list[str]:
        """The tenants no live node holds (just released, or their holder died and nobody took them yet)."""
        alive = {node.node_id for node in self.nodes}
        return sorted(
            tenant_id
            for tenant_id in tenant_ids
            if (lease := self.leases.get(tenant_id)) is None or not lease.live or lease.holder not in alive
        )


def overview(engine: Engine) -> ClusterOverview:
    """The live nodes and the tenants' leases, read in one snapshot by the database's clock."""
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                """
                SELECT node_id, address,
                    EXTRACT(EPOCH FROM clock_timestamp() - started_at) AS up_seconds,
                    EXTRACT(EPOCH FROM expires_at - clock_timestamp()) AS seconds_left
                FROM cluster_nodes WHERE expires_at > clock_timestamp() ORDER BY node_id
                """
            )
        ).all()
        return ClusterOverview(
            [LiveNode(row.node_id, row.address, float(row.up_seconds), float(row.seconds_left)) for row in rows],
            leases(connection),
        )


# ---------------------------------------------------------------- a lease keeper's units of work (each one transaction)


@dataclass(frozen=True, slots=True)
class Round:
    """What one round of a lease keeper read, in one transaction."""

    nodes: list[str]  # the live nodes
    addresses: dict[str, str]
    leases: dict[str, Lease]  # every tenant's lease
    tenant_ids: list[str]  # every tenant, by id


def renew_held(
    engine: Engine, node_id: str, address: str, epochs: Mapping[str, int], seconds: float, *, lock_wait_seconds: float
) -> dict[str, Lease]:
    """`renew` with the node's heartbeat, in a transaction of its own that waits at most `lock_wait_seconds` for a
    lease row another transaction holds (a batch in flight: the next renewal comes soon)."""
    with engine.begin() as connection:
        wait_for_locks_at_most(connection, lock_wait_seconds)
        return renew(connection, node_id, epochs, seconds, address=address)


def survey(engine: Engine) -> Round:
    """The cluster as it is (live nodes, their addresses, every lease and tenant), read without writing."""
    with engine.connect() as connection:
        nodes = list(
            connection.execute(
                text("SELECT node_id FROM cluster_nodes WHERE expires_at > clock_timestamp() ORDER BY node_id")
            ).scalars()
        )
        current = leases(connection)
        addresses = node_addresses(connection)
        tenant_ids = sorted(all_tenant_ids(connection))
    return Round(nodes, addresses, current, tenant_ids)


def take(engine: Engine, tenant_id: str, node_id: str, seconds: float, *, lock_wait_seconds: float) -> Lease | None:
    """`acquire` in a transaction of its own that waits at most `lock_wait_seconds` for a row lock (a paused
    node's batch may hold the row: the caller tries again next round)."""
    with engine.begin() as connection:
        wait_for_locks_at_most(connection, lock_wait_seconds)
        return acquire(connection, tenant_id, node_id, seconds)


def hand_over(engine: Engine, node_id: str, tenant_ids: Iterable[str]) -> None:
    """`release` in a transaction of its own."""
    with engine.begin() as connection:
        release(connection, node_id, tenant_ids)


def depart(engine: Engine, node_id: str, tenant_ids: list[str]) -> None:
    """A node that stops: releases `tenant_ids` and removes its heartbeat, in one transaction."""
    with engine.begin() as connection:
        if tenant_ids:
            release(connection, node_id, tenant_ids)
        leave(connection, node_id)
