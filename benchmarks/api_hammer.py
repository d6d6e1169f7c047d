"""A heavy API client: threads asking the worker's costliest endpoints back to back.

Used by `benchmarks.latency --hammer N` to show whether heavy reads delay intake (issue #14):
five years of figures by agency, rankings, a year's daily series, an agency's procedures over
five years and the longest overdue list, each as fast as the worker answers.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from tests.integration.harness import http_get


def heavy_paths(agency: str, year: int) -> list[str]:
    five_years = f"from={year - 4}-01-01T00:00:00%2B07:00&to={year + 1}-01-01T00:00:00%2B07:00"
    return [
        f"/api/v1/summary?{five_years}&by=agency",
        f"/api/v1/rankings?by=on_time_ratio&{five_years}&limit=100",
        f"/api/v1/series?period={year}",
        f"/api/v1/agencies/{agency}/procedures?{five_years}",
        "/api/v1/overdue?limit=1000",
    ]


@dataclass
class Hammer:
    base_url: str
    paths: list[str]
    threads: int
    statuses: Counter[int] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _running: list[threading.Thread] = field(default_factory=list)

    def start(self, deadline: float) -> None:
        for i in range(self.threads):
            thread = threading.Thread(target=self._ask_until, args=(deadline, i), daemon=True)
            thread.start()
            self._running.append(thread)

    def join(self) -> None:
        for thread in self._running:
            thread.join()
        self._running.clear()

    def _ask_until(self, deadline: float, first: int) -> None:
        i = first
        while time.monotonic() < deadline:
            path = self.paths[i % len(self.paths)]
            i += 1
            asked = time.monotonic()
            try:
                status, _ = http_get(f"{self.base_url}{path}", timeout=60)
            except OSError:
                status = 0
            with self._lock:
                self.statuses[status] += 1
                self.seconds.append(time.monotonic() - asked)
