"""Local admin sign-in (bootstrap; agents sign in through their CRM)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException

from callbridge.auth.credentials import SESSION_SECONDS, authenticate_admin, create_session
from callbridge.web.api.schemas import AdminLoginIn, TokenOut
from callbridge.web.deps import ServicesDep
from callbridge.web.errors import ERROR_RESPONSES

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["auth"])


@router.post("/auth/admin-sessions", status_code=201)
def admin_sign_in(body: AdminLoginIn, svc: ServicesDep) -> TokenOut:
    admin_id = authenticate_admin(svc.engine, body.email, body.password)
    if admin_id is None:
        raise HTTPException(401, "wrong e-mail or password")
    token = create_session(svc.engine, "admin", admin_id, None, svc.clock.now())
    return TokenOut(token=token, expires_in=SESSION_SECONDS)
