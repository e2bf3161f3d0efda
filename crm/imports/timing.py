"""Where an import run's time goes: wall-clock seconds per named phase, for the log and the benchmark.

Each thread of a run keeps its own :class:`Phases` (the reader/validator and the database writer), so no
lock is needed; :func:`summary` renders them for the log line a finished run writes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class Phases:
    """Accumulated wall-clock seconds per phase name, in first-seen order, plus the thread's CPU seconds."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._cpu_started: float | None = None
        self.cpu = 0.0

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - started)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    def cpu_start(self) -> None:
        """Start counting the calling thread's CPU time (``time.thread_time``)."""
        self._cpu_started = time.thread_time()

    def cpu_stop(self) -> None:
        if self._cpu_started is not None:
            self.cpu += time.thread_time() - self._cpu_started
            self._cpu_started = None


def summary(**threads: Phases) -> str:
    """``reader: read 3.1 s, validate 9.0 s (CPU 12.2 s); writer: ...`` — one clause per thread."""
    parts = []
    for label, phases in threads.items():
        items = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in phases.seconds.items())
        parts.append(f"{label}: {items or 'nothing'} (CPU {phases.cpu:.1f} s)")
    return "; ".join(parts)
