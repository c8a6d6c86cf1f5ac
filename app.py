"""Start the ChurnLens dashboard: `python app.py [--data PATH] [--demo-size N] [--port 8050]`."""

from __future__ import annotations

import sys
import threading

from dashboard.loading import begin, startup
from dashboard.services.idle import IDLE
from dashboard.settings import Settings


def main(argv: list[str] | None = None) -> int:
    settings = Settings.from_args(argv)
    progress = startup(settings)
    if progress is None:
        return 2
    progress(f"starting ChurnLens (cache: {settings.cache_dir})")
    IDLE.hold()  # the warm-ups and model checks wait for the first page
    # It loads (or trains) in a thread from here, and serves as soon as the app is built:
    # the browser fetches the page and its code meanwhile, and its requests for data wait
    # for the load. A warm start at 1,000,000 customers reads the cache in ~0.7 s, most of
    # it while Dash is imported and the app built. The campaign steps of the load (the risk
    # snapshot, the demo campaign: ~8 s at 1M) go on after it; the Campaign and Trends pages
    # wait for them.
    services = begin(settings, progress, background=True)
    from dashboard import create_app  # Dash, the pages and their callbacks (~0.6 s)
    app = create_app(settings, services=services, progress=progress, background=True,
                     early=True)

    def first_page() -> None:
        """What the first page needs (the Overview's cube: 0.15 s at 1,000,000 customers),
        once loaded; a request that asks for it meanwhile waits for it."""
        services.loaded.wait()
        IDLE.serving()  # the warm-ups' longest wait for a first page counts from here
        if services.analysis is not None:
            services.overview.warm()

    def grid() -> None:
        """The grid's sort orders, then what a Customer page reads (its SHAP values, the
        event tables by customer), once the first page is drawn (normal priority)."""
        services.loaded.wait()
        IDLE.wait()
        if services.analysis is not None:
            services.customers.warm()
            services.customer.warm()
            services.timeline.warm()

    threading.Thread(target=first_page, daemon=True, name="churnlens-first-page").start()
    threading.Thread(target=grid, daemon=True, name="churnlens-grid").start()
    print(f"ChurnLens is running on http://{settings.host}:{settings.port}/ (Ctrl+C to "
          "stop); its pages answer once the data is loaded", flush=True)
    # Settings refuse --debug on a non-local --host. dev_tools_prune_errors=False keeps the
    # app's own error handler (dashboard/errors.py) in debug mode too: a malformed request
    # is still a short 4xx, and a server error re-raises into the Werkzeug debugger.
    # No version check: under --debug Dash's dev tools would call plotly's server (and the
    # CSP refuses it); the app works offline.
    app.run(host=settings.host, port=settings.port, debug=settings.debug,
            dev_tools_prune_errors=False, dev_tools_disable_version_check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
