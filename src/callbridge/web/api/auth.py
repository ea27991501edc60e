"""Local admin sign-in (bootstrap; agents sign in through their CRM)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from callbridge.auth.credentials import SESSION_SECONDS, authenticate_admin, create_session
from callbridge.auth.login_throttle import LoginThrottle, Throttled
from callbridge.web.api.schemas import AdminLoginIn, TokenOut
from callbridge.web.deps import Services, ServicesDep
from callbridge.web.errors import ERROR_RESPONSES, ErrorBody, RetryLater
from callbridge.web.rate_limits import SIGN_IN, client_address, rate_limited

router = APIRouter(prefix="/api/v1", responses=ERROR_RESPONSES, tags=["auth"])


def throttle(svc: Services) -> LoginThrottle:
    return LoginThrottle(svc.engine, svc.clock, svc.settings.login_throttle_policy())


def sign_in_admin(svc: Services, email: str, password: str, address: str) -> str | Throttled | None:
    """A new admin session token; the block in force (the password was not checked); or None (wrong)."""
    guard = throttle(svc)
    refused = guard.refused(email, address)
    if refused is not None:
        return refused
    admin_id = authenticate_admin(svc.engine, email, password)
    if admin_id is None:
        guard.failed(email, address)
        return None
    guard.succeeded(email, address)
    return create_session(svc.engine, "admin", admin_id, None, svc.clock.now())


@router.post(
    "/auth/admin-sessions",
    status_code=201,
    responses={
        429: {
            "model": ErrorBody,
            "description": "Too many sign-ins from this address, or too many failed ones: wait `Retry-After` seconds",
        }
    },
    dependencies=[rate_limited(SIGN_IN)],
)
def admin_sign_in(body: AdminLoginIn, request: Request, svc: ServicesDep) -> TokenOut:
    """A local administrator's session. After repeated wrong passwords for an account or from an address,
    sign-ins there are refused (429, `Retry-After`) for a time that grows with each further failure. Each address
    may also try only `CALLBRIDGE_RATE_LIMIT_SIGN_IN` times (60 a minute by default)."""
    outcome = sign_in_admin(svc, body.email, body.password, client_address(request))
    if isinstance(outcome, Throttled):
        raise RetryLater(outcome.message, outcome.retry_after)
    if outcome is None:
        raise HTTPException(401, "wrong e-mail or password")
    return TokenOut(token=outcome, expires_in=SESSION_SECONDS)
