"""Completes the asyncio futures of `keyshift.AsyncClient` calls (called on the loop's thread)."""

from __future__ import annotations

import asyncio
from typing import Any


def complete(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


async def anext(iterator: Any) -> Any:
    """`iterator.__anext__()` as a coroutine (for `asyncio.run_coroutine_threadsafe`)."""
    return await iterator.__anext__()


async def wait(awaitable: Any) -> Any:
    """Awaits any awaitable (for `asyncio.run_coroutine_threadsafe`)."""
    return await awaitable
