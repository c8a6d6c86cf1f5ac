"""App-wide component ids (shell, filters, stores). Page ids live in their page file."""

URL = "app-url"
FILTERS_STORE = "app-filters-store"
STATUS_AREA = "app-status-area"
NAVBAR = "app-navbar"

# Three driver slots: which column each filters comes from the data (the services say).
FILTER_DRIVERS = ("app-filter-driver-1-dropdown", "app-filter-driver-2-dropdown",
                  "app-filter-driver-3-dropdown")
FILTER_TIER = "app-filter-tier-dropdown"
FILTER_SEGMENT = "app-filter-segment-dropdown"
FILTER_TENURE = "app-filter-tenure-slider"
FILTER_RESET = "app-filter-reset-button"
FILTER_SUMMARY = "app-filter-summary-text"
FILTER_BAR = "app-filter-bar"
FILTER_EVERYONE = "app-filter-everyone-switch"
FILTER_EVERYONE_WRAP = "app-filter-everyone-div"
# Filter key of the lists (Customers grid, exports): include customers who already left.
EVERYONE = "everyone"
# Pages the global filters change (the bar is hidden elsewhere); the lists' switch shows on
# the pages with a list made for action (Customers, Behaviour's early-warning list).
FILTERED_PAGES = ("/", "/segments", "/customers", "/behaviour", "/what-if", "/campaign")
LIST_PAGES = ("/customers", "/behaviour")

# Filter keys (in the URL and the store). A driver filter is keyed by its source column's
# name; these keys are reserved, so a driver column of the same name gets no filter.
TIER = "tier"
SEGMENT = "segment"
TENURE = "tenure"
RESERVED_KEYS = (TIER, SEGMENT, TENURE, EVERYONE)
# Every dropdown of the bar, in the order the filter-sync callback lists them.
FILTER_DROPDOWNS = (*FILTER_DRIVERS, FILTER_SEGMENT, FILTER_TIER)
