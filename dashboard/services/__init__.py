"""The UI side's one way into analytics, one small service per page over a shared handle.

`core.Services` holds the loaded analysis (one per app, in the Flask config); each page's
service (`overview`, `segments`, `customers`, `customer`, `offers`, `score`, `model`,
`data`) hangs off it, and a page imports only its own module and calls its `current()`.
"""

from dashboard.services.core import CONFIG_KEY, Services, current

__all__ = ["CONFIG_KEY", "Services", "current"]
