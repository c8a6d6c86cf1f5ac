"""`python -m dashboard.serve [--workers N] [--threads T] [app options]`: ChurnLens for a team.

The production server (gunicorn) in front of the same app `python app.py` starts, with the
same options (data, cache, host, port, login...). The app is built once, in gunicorn's
master process, before any worker exists: it loads the model, scores and SHAP values from
the cache (or trains them, once), and the workers are forked from it, so they share those
arrays page for page (copy-on-write) and never train on their own. What is left for the
background (the model checks, dashboard/services/checks.py) runs once, in the master; the
workers pick the result up from the cache. After the fork each worker opens its own database
connections and job-queue handle (`after_fork`).

What one worker changes (tier cut-offs, the dataset in service, the offers' measured
acceptance) every worker serves from its next request (dashboard/services/sync.py), and it
survives a restart (the settings file and the campaign store).

Workers default to twice the machine's cores; each runs `--threads` threads (default 2), so a
long export does not hold a worker. Requests are limited in size (request line 8 KB, 100 header
fields of 8 KB; bodies: dashboard/errors.py), and a worker that hangs for `--timeout`
seconds is replaced.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from gunicorn.app.base import BaseApplication

from dashboard import create_app
from dashboard.loading import startup
from dashboard.services import CONFIG_KEY
from dashboard.settings import Settings


# Twice as many processes as cores, two threads each: the requests' Python work holds each
# process' GIL, and a short request (an API call) waited behind up to three long ones in a
# worker of four threads. With 1M customers and 50 users on 2 cores (bench/load.py), 4 x 2
# gave p95 filter 67, grid 125, /api/score 100 ms; 2 x 4 gave 92-98, 176-205, 147-165 ms.
# Each extra worker costs ~0.1-0.2 GB of its own at 1M customers (the arrays are shared).
DEFAULT_WORKERS = 2 * (os.cpu_count() or 1)
DEFAULT_THREADS = 2


class Server(BaseApplication):
    """gunicorn around an already built WSGI app (the master builds it; workers fork)."""

    def __init__(self, wsgi, options: dict) -> None:
        self.application = wsgi
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application


def after_fork(app) -> None:
    """In a new worker: its own database connections and job-queue handle (an SQLite
    connection must never be shared by two processes)."""
    services = app.server.config[CONFIG_KEY]
    store = services.campaigns.store()
    if store is not None:
        store.engine.dispose(close=False)  # the master's pooled connections stay the master's
    manager = getattr(app, "_background_manager", None)
    handle = getattr(manager, "handle", None)
    if handle is not None:
        handle.close()                      # diskcache reconnects on first use


def options_for(settings: Settings, workers: int, threads: int, timeout: int, app) -> dict:
    """gunicorn's settings for these app settings."""
    host = f"[{settings.host}]" if ":" in settings.host else settings.host

    def post_fork(_server, _worker) -> None:
        after_fork(app)

    return {"bind": f"{host}:{settings.port}", "workers": workers, "threads": threads,
            "worker_class": "gthread", "timeout": timeout, "graceful_timeout": 30,
            "keepalive": 5, "preload_app": True, "post_fork": post_fork,
            "limit_request_line": 8190, "limit_request_fields": 100,
            "limit_request_field_size": 8190, "accesslog": None, "errorlog": "-",
            "loglevel": "info", "proc_name": "churnlens", "control_socket_disable": True,
            # Dash answers callbacks from memory; the worker heartbeat files go to RAM.
            "worker_tmp_dir": "/dev/shm" if os.path.isdir("/dev/shm") else None}


def parse(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(
        prog="python -m dashboard.serve", add_help=False,
        description="Serve ChurnLens with gunicorn; every other option is python app.py's.")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, metavar="N",
                        help="worker processes (default: twice the machine's cores)")
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS, metavar="T",
                        help=f"threads per worker (default {DEFAULT_THREADS})")
    parser.add_argument("--timeout", type=int, default=300, metavar="SECONDS",
                        help="replace a worker silent for this long (default 300)")
    parser.add_argument("-h", "--help", action="store_true")
    args, rest = parser.parse_known_args(argv)
    if args.help:
        parser.print_help()
        print("\napp options (python app.py --help):")
        Settings.from_args(["--help"])
    if args.workers < 1 or args.threads < 1:
        parser.error("--workers and --threads must be at least 1")
    return args, rest


def main(argv: list[str] | None = None) -> int:
    args, rest = parse(argv)
    settings = Settings.from_args(rest)
    if settings.debug:
        print("ChurnLens will not start: --debug is for python app.py (one process, the "
              "Werkzeug debugger), not for the production server", file=sys.stderr)
        return 2
    progress = startup(settings)
    if progress is None:
        return 2
    progress(f"starting ChurnLens for a team (cache: {settings.cache_dir}, "
             f"{args.workers} worker(s) x {args.threads} threads)")
    app = create_app(settings, progress=progress, background=True)
    # The grid's sort orders, once, before the fork: the workers share them (copy-on-write),
    # and no worker thread holds the GIL for a first sort while users wait.
    clock = time.perf_counter()
    services = app.server.config[CONFIG_KEY]
    services.customers.warm()
    services.overview.warm()  # the Overview's sums: shared by the workers too
    services.customer.warm()  # a Customer page's SHAP values and ids, read once
    services.timeline.warm()  # the event tables by customer (Customer pages), read once
    # ... alongside the cache write and the campaign steps: the fork waits for both.
    services.settle()
    progress(f"customer grid, overview and timelines ready in "
             f"{time.perf_counter() - clock:.1f} s")
    print(f"ChurnLens is serving on http://{settings.host}:{settings.port}/ with "
          f"{args.workers} worker(s) (Ctrl+C to stop)", flush=True)
    Server(app.server, options_for(settings, args.workers, args.threads, args.timeout,
                                   app)).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
