"""Background work waits for the first page: `python app.py` holds its warm-ups (the grid's
sort orders, the campaign reports, the model checks) until the first page's callbacks are
answered and the server has been quiet for QUIET_S, or MAX_WAIT_S after it began to serve when
nobody comes. Each of them holds the GIL for a while (imports, pandas, scikit-learn), and run
alongside the first page they made it 0.4 s slower at 7,043 customers (measured with
bench/bench_first_page.py). Without `hold()` (tests, a library user, `make serve`'s master,
which serves no page itself) nothing waits.
"""

from __future__ import annotations

import threading
import time

QUIET_S = 0.4
MAX_WAIT_S = 10.0
POLL_S = 0.05
FIRST_PAGE_PATH = "/_dash-update-component"   # a page's callbacks: its content is drawn


class Idle:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held = False
        self._serving_since: float | None = None
        self._page_seen = False
        self._in_flight = 0
        self._last = time.monotonic()

    def hold(self) -> None:
        """Warm-ups started from now on wait for the first page (see the module)."""
        self._held = True

    def serving(self) -> None:
        """The server is about to listen: MAX_WAIT_S counts from here."""
        self._serving_since = time.monotonic()

    def begin(self) -> None:
        with self._lock:
            self._in_flight += 1
            self._last = time.monotonic()

    def end(self, path: str) -> None:
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            self._last = time.monotonic()
            if path.endswith(FIRST_PAGE_PATH):  # under a url prefix too
                self._page_seen = True

    def ready(self) -> bool:
        if not self._held:
            return True
        now = time.monotonic()
        if self._serving_since is not None and now - self._serving_since >= MAX_WAIT_S:
            return True
        with self._lock:
            return self._page_seen and self._in_flight == 0 and now - self._last >= QUIET_S

    def wait(self, stop: threading.Event | None = None) -> None:
        """Block the calling (background) thread until `ready()` (or `stop` is set)."""
        while not self.ready():
            if stop is not None and stop.is_set():
                return
            time.sleep(POLL_S)


IDLE = Idle()
