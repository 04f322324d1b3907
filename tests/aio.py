"""Running a coroutine to its end from a synchronous test."""

from __future__ import annotations

import asyncio
import concurrent.futures


def run_coroutine(coroutine, *, timeout: float = 120):
    """Run `coroutine` in a thread of its own with a fresh event loop; return its result.

    Not asyncio.run (nor async_to_sync) in the test's thread: once the session's
    Playwright browser has started on this xdist worker, the thread has a running
    event loop and both refuse.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=timeout)
