"""Where the CPU goes: utime + stime of processes, read from /proc (Linux only).

CpuSampler reads every process at the start of a measured window, again every
`interval` seconds (so that processes which end inside the window, a recycled gunicorn
worker or a closed PostgreSQL connection, still count up to their last reading), and at
the end. A process is put in a group by its ancestry (the process ids given as roots:
gunicorn's master, each sender, the sink, the load generator; their descendants go with
them) or by its command name (postgres, redis-server). The machine-wide busy fraction
comes from /proc/stat, so that anything else running at the same time shows.
"""
from __future__ import annotations

import os
import threading
import time

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
CPUS = os.cpu_count() or 1
COMMANDS = {"postgres": "postgres", "redis-server": "redis"}


def read_stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, command name, utime + stime in clock ticks), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    # The command name is in parentheses and may itself hold spaces or parentheses.
    close = raw.rfind(b")")
    comm = raw[raw.find(b"(") + 1:close].decode(errors="replace")
    fields = raw[close + 2:].split()
    # fields[0] is the state (field 3 of proc(5)): ppid is field 4, utime 14, stime 15.
    return int(fields[1]), comm, int(fields[11]) + int(fields[12])


def process_ticks(pids) -> int:
    total = 0
    for pid in pids:
        stat = read_stat(pid)
        if stat:
            total += stat[2]
    return total


def all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def pids_by_comm(comm: str) -> list[int]:
    found = []
    for pid in all_pids():
        stat = read_stat(pid)
        if stat and stat[1] == comm:
            found.append(pid)
    return found


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot, from the first line of /proc/stat."""
    with open("/proc/stat", "rb") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user time
    return total - idle, total


class CpuSampler:
    def __init__(self, roots: dict[str, list[int]], commands: dict[str, str] | None = None,
                 interval: float = 0.5):
        self.roots = {pid: group for group, pids in roots.items() for pid in pids}
        self.commands = COMMANDS if commands is None else commands
        self.interval = interval
        self.first: dict[int, tuple[str, int]] = {}
        self.last: dict[int, int] = {}
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None

    def _scan(self, initial: bool) -> None:
        table: dict[int, tuple[int, str, int]] = {}
        for pid in all_pids():
            stat = read_stat(pid)
            if stat:
                table[pid] = stat
        for pid, (_ppid, _comm, ticks) in table.items():
            if pid in self.first:
                self.last[pid] = ticks
                continue
            group = self.group_of(pid, table)
            if group is None:
                continue
            # A process first seen after the window opened was born inside it: all its CPU counts.
            self.first[pid] = (group, ticks if initial else 0)
            self.last[pid] = ticks

    def group_of(self, pid: int, table: dict[int, tuple[int, str, int]]) -> str | None:
        group = self.commands.get(table[pid][1])
        walked = 0
        while group is None and pid in table and walked < 64:
            group = self.roots.get(pid)
            pid = table[pid][0]
            walked += 1
        return group

    def start(self) -> "CpuSampler":
        self.started = time.perf_counter()
        self.machine_start = machine_ticks()
        self._scan(initial=True)
        self.thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stop_event.wait(self.interval):
            self._scan(initial=False)

    def stop(self) -> dict:
        """{"seconds", "ms": {group: CPU milliseconds}, "busy": fraction of all CPUs, machine-wide}."""
        self.stop_event.set()
        if self.thread:
            self.thread.join()
        self._scan(initial=False)
        seconds = time.perf_counter() - self.started
        busy_end, total_end = machine_ticks()
        busy = (busy_end - self.machine_start[0]) / max(total_end - self.machine_start[1], 1)
        ms: dict[str, float] = {}
        for pid, (group, first) in self.first.items():
            ms[group] = ms.get(group, 0.0) + (self.last.get(pid, first) - first) * 1000 / CLOCK_TICKS
        return {"seconds": seconds, "ms": ms, "busy": busy}
