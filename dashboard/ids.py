"""App-wide component ids (shell, filters, stores). Page ids live in their page file."""

URL = "app-url"
FILTERS_STORE = "app-filters-store"
STATUS_AREA = "app-status-area"
NAVBAR = "app-navbar"

FILTER_CONTRACT = "app-filter-contract-dropdown"
FILTER_INTERNET = "app-filter-internet-dropdown"
FILTER_PAYMENT = "app-filter-payment-dropdown"
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
# the Customers page only.
FILTERED_PAGES = ("/", "/segments", "/customers", "/what-if", "/campaign")
LIST_PAGES = ("/customers",)

# Filter key (in the URL and the store) -> dropdown id and the data column it filters.
DROPDOWN_FILTERS = {
    "contract": (FILTER_CONTRACT, "Contract"),
    "internet": (FILTER_INTERNET, "InternetService"),
    "payment": (FILTER_PAYMENT, "PaymentMethod"),
    "tier": (FILTER_TIER, "risk_tier"),
    "segment": (FILTER_SEGMENT, "segment"),
}
