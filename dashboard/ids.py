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

# Filter key (in the URL and the store) -> dropdown id and the data column it filters.
DROPDOWN_FILTERS = {
    "contract": (FILTER_CONTRACT, "Contract"),
    "internet": (FILTER_INTERNET, "InternetService"),
    "payment": (FILTER_PAYMENT, "PaymentMethod"),
    "tier": (FILTER_TIER, "risk_tier"),
    "segment": (FILTER_SEGMENT, "segment"),
}
