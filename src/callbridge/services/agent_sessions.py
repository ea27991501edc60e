"""Agent sign-in and sign-out: the seam single sign-on plugs into.

Whatever proves who the agent is (an OpenID Connect provider, or a test),
signing in is: a fresh session token, and the agent on break.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine

from callbridge.auth.credentials import create_session, end_session
from callbridge.domain import commands as cmd
from callbridge.services.clock import Clock
from callbridge.services.node import ContactCenterNode


async def sign_in_agent(engine: Engine, node: ContactCenterNode, clock: Clock, tenant_id: str, agent_id: str) -> str:
    """Signs the agent in (on break, offered nothing) and returns a new session token."""
    await node.execute(tenant_id, cmd.SignIn(agent_id))
    node.seen(tenant_id, agent_id)
    return await asyncio.to_thread(create_session, engine, "agent", agent_id, tenant_id, clock.now())


async def sign_out_agent(engine: Engine, node: ContactCenterNode, tenant_id: str, agent_id: str, token: str) -> None:
    await node.execute(tenant_id, cmd.SignOut(agent_id))
    await asyncio.to_thread(end_session, engine, token)
