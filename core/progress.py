"""Progress on long work: a tqdm bar on a terminal; elsewhere (a log file, CI) a plain line per
finished step (a compile stage, a sweep job, a latency round) and one per finished loop over
images, so logs hold readable lines and no carriage-return frames. Every bar of the product
comes from here."""
from __future__ import annotations

import sys
import time


def progress(iterable=None, *, total: int | None = None, desc: str = "", unit: str = "it", enabled: bool = True,
             initial: int = 0, stream=None):
    """tqdm's interface (iterate, update, set_description, write, close) for either case."""
    stream = stream or sys.stderr
    if enabled and stream.isatty():
        from tqdm import tqdm

        return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, leave=False, dynamic_ncols=True,
                    file=stream)
    return LineProgress(iterable, total=total, desc=desc, unit=unit, enabled=enabled, initial=initial, stream=stream)


class LineProgress:
    """One line per step for short runs (stages, jobs, rounds: up to 20 steps); for longer ones
    (images) one line when the loop is done."""

    def __init__(self, iterable=None, *, total=None, desc="", unit="it", enabled=True, initial=0, stream=None):
        self.iterable, self.desc, self.unit, self.enabled = iterable, desc, unit, enabled
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.n, self._printed, self._t0, self.stream = initial, initial, time.perf_counter(), stream or sys.stderr

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.update(1)
        self.close()

    def __len__(self):
        return self.total or 0

    def update(self, n: int = 1) -> None:
        self.n += n
        if not self.total or self.total <= 20 or self.n >= self.total > self._printed:
            self._line()

    def set_description(self, desc: str) -> None:
        self.desc = desc

    def write(self, text: str) -> None:
        print(text, file=self.stream, flush=True)

    def close(self) -> None:
        pass

    def _line(self) -> None:
        self._printed = self.n
        if self.enabled:
            of = f"/{self.total}" if self.total else ""
            self.write(f"{self.desc}: {self.n}{of} {self.unit} ({time.perf_counter() - self._t0:.1f} s)")
