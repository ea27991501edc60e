"""The live state and the append-only logs survive a round trip through SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, insert, select, text

from callbridge.domain import commands as cmd
from callbridge.domain.contact_center import ContactCenter
from callbridge.domain.model import AgentProfile, AgentStatus, Channel, InteractionState, Queue
from callbridge.store.database import alembic_config, is_up_to_date
from callbridge.store.live_state import TenantChanges, load_tenant, write_changes
from callbridge.store.tables import agent_status_events, agents, interaction_events, queues, tenants

T0 = 1_800_000_000.0


def seed(engine: Engine) -> ContactCenter:
    cc = ContactCenter("acme")
    sales = Queue("sales", "Sales", Channel.PHONE, offer_timeout_seconds=20, wrap_up_seconds=30)
    with engine.begin() as connection:
        connection.execute(
            insert(tenants).values(id="acme", name="Acme", created_at=T0, allowed_origins=[], settings={})
        )
        connection.execute(
            insert(queues).values(
                tenant_id="acme",
                id="sales",
                name="Sales",
                channel="phone",
                required_skills={},
                priority=0,
                service_level_seconds=20,
                offer_timeout_seconds=20,
                wrap_up_seconds=30,
                created_at=T0,
            )
        )
        for n in (1, 2):
            connection.execute(
                insert(agents).values(
                    tenant_id="acme",
                    id=f"a{n}",
                    email=f"a{n}@acme.example",
                    display_name=f"A{n}",
                    roles=["agent"],
                    skills={},
                    capacity={"phone": 1, "chat": 3, "voicemail": 1},
                    queue_ids=["sales"],
                    enabled=True,
                    auto_login=True,
                    created_at=T0 + n,
                    status_since=T0,
                    idle_since=T0,
                )
            )
    cc.upsert_queue(sales, T0)
    for n in (1, 2):
        cc.upsert_agent(AgentProfile(f"a{n}", f"a{n}@acme.example", f"A{n}", queue_ids=("sales",)), T0)
    cc.take_changes()
    return cc


def apply(engine: Engine, cc: ContactCenter, command: cmd.Command, now: float) -> None:
    events = cc.handle(command, now)
    with engine.begin() as connection:
        write_changes(connection, [TenantChanges("acme", cc.take_changes(), events)])


def test_schema_is_at_the_newest_migration(engine: Engine) -> None:
    assert is_up_to_date(engine)


def test_a_schema_one_migration_behind_is_not_up_to_date_and_is_again_when_it_is_back(engine: Engine) -> None:
    script = ScriptDirectory.from_config(alembic_config(engine.url.render_as_string(hide_password=False)))
    with engine.connect() as connection:
        newest = sorted(MigrationContext.configure(connection).get_current_heads())[-1]
    before = script.get_revision(newest).down_revision
    previous = before[0] if isinstance(before, tuple) else before
    assert previous is not None
    version = text("UPDATE alembic_version SET version_num = :to WHERE version_num = :was")
    with engine.begin() as connection:  # the version table says one migration is missing, as after a deploy
        connection.execute(version, {"to": previous, "was": newest})
    assert not is_up_to_date(engine), "readiness is asked of the database each time, never remembered"
    with engine.begin() as connection:
        connection.execute(version, {"to": newest, "was": previous})
    assert is_up_to_date(engine)


def test_restored_state_matches_what_was_written(engine: Engine) -> None:
    cc = seed(engine)
    apply(engine, cc, cmd.SignIn("a1"), T0 + 1)
    apply(engine, cc, cmd.SetPresence("a1", AgentStatus.AVAILABLE), T0 + 2)
    for n in range(4):
        apply(
            engine,
            cc,
            cmd.SubmitInteraction(f"call{n}", "sales", Channel.PHONE, from_address=f"+1415555010{n}"),
            T0 + 3 + n,
        )
    apply(engine, cc, cmd.AcceptOffer("a1", "call0"), T0 + 10)
    apply(engine, cc, cmd.EndInteraction("call1", "caller hung up"), T0 + 11)

    saved = load_tenant(engine, "acme")
    restored = ContactCenter("acme")
    for queue in saved.queues:
        restored.upsert_queue(queue, T0 + 12)
    restored.restore(saved.agents, saved.interactions, T0 + 12)

    assert [i.id for i in restored.waiting_in("sales")] == ["call2", "call3"], "queue order survives"
    assert restored.interactions["call0"].state is InteractionState.CONNECTED
    assert "call1" not in restored.interactions, "ended interactions are not live"
    assert restored.agent_snapshot("a1") == cc.agent_snapshot("a1")
    assert restored.agent_snapshot("a2").status is AgentStatus.LOGGED_OUT


def test_every_change_is_appended_to_the_logs(engine: Engine) -> None:
    cc = seed(engine)
    apply(engine, cc, cmd.SignIn("a1"), T0 + 1)
    apply(engine, cc, cmd.SetPresence("a1", AgentStatus.AVAILABLE), T0 + 2)
    apply(engine, cc, cmd.SubmitInteraction("call0", "sales", Channel.PHONE), T0 + 3)
    apply(engine, cc, cmd.RejectOffer("a1", "call0"), T0 + 4)
    with engine.connect() as connection:
        statuses = connection.execute(
            select(agent_status_events.c.status, agent_status_events.c.reason).order_by(agent_status_events.c.id)
        ).all()
        kinds = connection.execute(select(interaction_events.c.type).order_by(interaction_events.c.id)).scalars().all()
        count = connection.execute(select(func.count()).select_from(interaction_events)).scalar_one()
    assert [tuple(s) for s in statuses] == [("break", "signed_in"), ("available", ""), ("break", "missed_offer")]
    assert kinds == ["created", "queued", "offered", "offer_ended", "queued"]
    assert count == len(kinds)


def test_offers_that_expired_while_down_are_handled_at_start(engine: Engine) -> None:
    cc = seed(engine)
    apply(engine, cc, cmd.SignIn("a1"), T0 + 1)
    apply(engine, cc, cmd.SetPresence("a1", AgentStatus.AVAILABLE), T0 + 2)
    apply(engine, cc, cmd.SubmitInteraction("call0", "sales", Channel.PHONE), T0 + 3)
    assert cc.interactions["call0"].state is InteractionState.OFFERED

    later = T0 + 3 + 3600  # down for an hour: the 20 s offer expired long ago
    saved = load_tenant(engine, "acme")
    restored = ContactCenter("acme")
    for queue in saved.queues:
        restored.upsert_queue(queue, later)
    restored.restore(saved.agents, saved.interactions, later)
    # nobody could answer while the node was down: the agent is not benched, and the call is offered again
    snapshot = restored.agent_snapshot("a1")
    assert (snapshot.status, snapshot.reason) == (AgentStatus.AVAILABLE, "")
    call = restored.interactions["call0"]
    assert (call.state, call.offer_id, call.agent_id) == (InteractionState.OFFERED, "call0.2", "a1")
