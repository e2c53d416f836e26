"""Shared by test_threads.py and hostile_driver.py (a worker script run from this folder, so a plain
import finds it): start threads that run ``work(i)`` at once."""
from __future__ import annotations

import threading
from typing import Any, Callable, List, Tuple


def start_barrier_threads(
    work: Callable[[int], Any], count: int
) -> Tuple[List[Any], List[BaseException], List[threading.Thread]]:
    """Starts ``count`` threads that run ``work(i)`` once all have started (released together by a
    barrier). Returns ``(out, errors, pool)``: ``out[i]`` receives thread i's result, ``errors`` every
    exception a thread raised; the caller joins ``pool`` and re-raises from ``errors``."""
    out: List[Any] = [None] * count
    errors: List[BaseException] = []
    barrier = threading.Barrier(count)

    def body(i: int) -> None:
        try:
            barrier.wait()
            out[i] = work(i)
        except BaseException as error:  # noqa: BLE001 - re-raised by the caller in the main thread
            errors.append(error)

    pool = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in pool:
        t.start()
    return out, errors, pool
