"""A bounded pool of `spawn` worker processes for the PDF parts.

`spawn`, not fork: a forked worker would inherit the parent's initialised Pango and
fontconfig state (and its database connections). The number of tasks in flight is
bounded, so the parent never holds more than a few chunks' worth of rows or PDF bytes.
With workers=0 everything runs in the calling process (tests, tiny letters).
"""
from __future__ import annotations

import multiprocessing
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Callable, Iterable, Iterator


class _Inline:
    def submit(self, func: Callable, *args) -> Future:
        future: Future = Future()
        try:
            future.set_result(func(*args))
        except BaseException as exc:  # noqa: BLE001 - handed back like a real pool would
            future.set_exception(exc)
        return future

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


class Pool:
    def __init__(self, workers: int):
        self.workers = max(0, workers)
        if self.workers:
            self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        else:
            self._executor = _Inline()

    def submit(self, func: Callable, *args) -> Future:
        return self._executor.submit(func, *args)

    def ordered(self, func: Callable, tasks: Iterable[Any], in_flight: int | None = None) -> Iterator[Any]:
        """func(task) for each task, results in task order, at most in_flight pending."""
        limit = in_flight or max(1, self.workers + 1)
        pending: deque[Future] = deque()
        for task in tasks:
            pending.append(self.submit(func, task))
            while len(pending) >= limit:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
