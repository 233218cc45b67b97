"""A FastAPI dependency that guards a route with a keyshift key (`pip install keyshift[fastapi]`).

    from fastapi import Depends, FastAPI
    import keyshift
    from keyshift.fastapi import require_key

    client = keyshift.AsyncClient()          # or keyshift.Client(...)
    app = FastAPI()

    @app.get("/orders")
    async def orders(v: keyshift.Verification = Depends(require_key(client, permissions="orders.read"))):
        return {"key_id": v.key_id}

The dependency reads `Authorization: Bearer <key>`, verifies it (with the permission query, if
any) and hands the handler the `Verification`. Otherwise it answers with a JSON body
`{"error": {"code", "message"}}`: 401 (missing header, unknown/disabled/expired key), 403
(insufficient permissions), 429 (rate limited or out of credits, with `Retry-After` when known).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Callable, Optional, Union

from fastapi import HTTPException, Request

from keyshift import AsyncClient, Client, Verification, VerifyCode

__all__ = ["require_key"]

_STATUS = {
    VerifyCode.INSUFFICIENT_PERMISSIONS: 403,
    VerifyCode.FORBIDDEN: 403,
    VerifyCode.RATE_LIMITED: 429,
    VerifyCode.USAGE_EXCEEDED: 429,
    VerifyCode.INSUFFICIENT_CREDITS: 429,
}


def _reject(status: int, code: str, message: str, retry_after: Optional[float] = None) -> HTTPException:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, round(retry_after)))
    return HTTPException(status_code=status, detail={"error": {"code": code, "message": message}},
                         headers=headers or None)


def require_key(
    client: Union[Client, AsyncClient],
    permissions: Optional[str] = None,
) -> Callable[[Request], Awaitable[Verification]]:
    """A dependency verifying the request's bearer key against `client` (sync or async)."""

    async def dependency(request: Request) -> Verification:
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            raise _reject(401, "missing_key", "send the key as 'Authorization: Bearer <key>'")
        if isinstance(client, AsyncClient):
            verification = await client.verify(key, permissions=permissions)
        else:
            # The blocking client releases the GIL; run it off the event loop.
            from starlette.concurrency import run_in_threadpool

            verification = await run_in_threadpool(client.verify, key, permissions=permissions)
        if verification.valid:
            return verification
        code = VerifyCode(verification.code)
        status = _STATUS.get(code, 401)
        retry_after = None
        if code == VerifyCode.RATE_LIMITED:
            import time

            resets = [r.reset for r in verification.ratelimits if r.exceeded]
            if resets:
                retry_after = max(0.0, (min(resets) - time.time() * 1000) / 1000)
        raise _reject(status, code.value, f"key rejected: {code.value}", retry_after)

    return dependency
