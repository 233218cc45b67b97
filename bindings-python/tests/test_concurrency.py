"""One client shared by 16 threads, and one AsyncClient by 100 asyncio tasks at once."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import keyshift


def test_sixteen_threads_share_one_client(client: keyshift.Client, api_id: str) -> None:
    created = [client.create_api_key(api_id, name=f"t{i}") for i in range(16)]
    barrier = threading.Barrier(16)

    def work(i: int) -> list[bool]:
        barrier.wait()
        out = []
        for _ in range(20):
            v = client.verify(created[i].key)
            out.append(v.valid and v.key_id == created[i].key_id and v.name == f"t{i}")
        return out

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(work, range(16)))
    assert all(all(r) for r in results) and sum(len(r) for r in results) == 320


def test_blocking_calls_release_the_gil(client: keyshift.Client, api_id: str) -> None:
    created = client.create_api_key(api_id)
    ticks = 0
    stop = False

    def spin() -> None:
        nonlocal ticks
        while not stop:
            ticks += 1
            time.sleep(0)

    t = threading.Thread(target=spin)
    t.start()
    try:
        before = ticks
        for _ in range(50):
            client.verify(created.key)
        assert ticks > before, "another Python thread never ran during 50 verifies"
    finally:
        stop = True
        t.join()


async def test_hundred_tasks_share_one_async_client(aclient: keyshift.AsyncClient,
                                                    api_id: str) -> None:
    created = await asyncio.gather(*(aclient.create_api_key(api_id, name=f"a{i}")
                                     for i in range(100)))
    assert len({c.key_id for c in created}) == 100
    ticker = 0

    async def tick() -> None:
        nonlocal ticker
        while True:
            ticker += 1
            await asyncio.sleep(0)

    ticking = asyncio.ensure_future(tick())
    results = await asyncio.gather(*(aclient.verify(c.key) for c in created))
    ticking.cancel()
    assert [r.key_id for r in results] == [c.key_id for c in created]
    assert all(r.valid for r in results)
    assert ticker > 0, "the event loop was blocked"
