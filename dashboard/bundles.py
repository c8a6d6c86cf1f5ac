"""The plotly.js the browser gets: plotly's own "cartesian" partial bundle (417 kB on the wire,
1.5 MB raw) in place of the full one (1.13 MB, 4.8 MB raw) that Dash serves by default.

dcc.Graph loads plotly.js when the first graph of a visit is drawn, from the URL the renderer
sets (`_dash-component-suites/plotly/package_data/plotly.min.js`); that URL is answered with
`assets/vendor/lazy/plotly-cartesian.min.js` (npm `plotly.js-cartesian-dist-min`, MIT, the
same plotly.js version as the pinned plotly package's; `assets_path_ignore` keeps it out of
the scripts every page loads). The bundle draws the trace types in `components.charts.TRACES`,
and `plain_figure` refuses any other type, so a new chart cannot go blank in the browser
unnoticed. When the bundle's version is not plotly's
(plotly upgraded without the bundle), the full bundle stays in service and a warning says so.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import dash
import flask

BUNDLE = Path(__file__).resolve().parents[1] / "assets" / "vendor" / "lazy" / \
    "plotly-cartesian.min.js"
PLOTLY_PATH = "_dash-component-suites/plotly/package_data/plotly.min.js"
LAZY_FOLDER = "^lazy$"  # assets/**/lazy/: served when asked for, never in every page


def bundle_version(path: Path | None = None) -> str | None:
    """The plotly.js version in the bundle's header ('4.1.1'); None when unreadable."""
    try:
        with open(path or BUNDLE, "rb") as handle:
            head = handle.read(300).decode("ascii", "replace")
    except OSError:
        return None
    found = re.search(r"plotly\.js \(cartesian[^)]*\) v(\d+\.\d+\.\d+)", head)
    return found.group(1) if found else None


def install(app: dash.Dash) -> bool:
    """Answer plotly.js' URL with the partial bundle; False (full bundle) when its version is
    not the plotly package's."""
    from plotly.offline import get_plotlyjs_version

    wanted, found = get_plotlyjs_version(), bundle_version()
    if found != wanted:
        logging.getLogger(__name__).warning(
            "assets/vendor/lazy/plotly-cartesian.min.js is plotly.js %s, the plotly package "
            "wants %s: serving the full plotly.js (update the bundle from npm "
            "plotly.js-cartesian-dist-min@%s)", found or "unreadable", wanted, wanted)
        return False
    path = app.config.requests_pathname_prefix + PLOTLY_PATH

    def partial_plotly():
        if flask.request.path == path:
            return flask.send_file(BUNDLE, mimetype="text/javascript", conditional=True,
                                   etag=True, max_age=None)
        return None

    app.server.before_request(partial_plotly)  # after the host check and the login
    return True
