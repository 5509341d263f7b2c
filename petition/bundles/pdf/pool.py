"""A bounded pool of `spawn` worker processes for the PDF parts.

`spawn`, not fork: a forked worker would inherit the parent's initialised Pango and
fontconfig state (and its database connections). The number of tasks in flight is
bounded, so the parent never holds more than a few chunks' worth of rows or PDF bytes.
With workers=0 everything runs in the calling process (tests, tiny letters).

Each worker asks the kernel to kill it when its parent dies (PR_SET_PDEATHSIG on
Linux): a job worker killed mid-build (SIGKILL) must not leave render processes running
for minutes with parent 1, holding memory and the names they were drawing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import sys
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


PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Initializer of every worker process: SIGKILL when the parent goes. The parent may
    have died before this ran (then the worker was re-parented already): exit at once."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent_pid:
        os._exit(1)


class Pool:
    def __init__(self, workers: int):
        self.workers = max(0, workers)
        if self.workers:
            self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=die_with_parent, initargs=(os.getpid(),))
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
