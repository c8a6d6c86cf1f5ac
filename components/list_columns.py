"""Column styles the customer lists share (the Customers grid, the Behaviour page's early
warning): tiers in colour, leavers greyed, reasons and offers wrapped on two lines."""

TIER_STYLE = {"styleConditions": [
    {"condition": "params.value == 'High'", "style": {"color": "#c92a3f", "fontWeight": 600}},
    {"condition": "params.value == 'Medium'", "style": {"color": "#b07800"}},
]}
STATUS_STYLE = {"styleConditions": [
    {"condition": "params.value == 'churned'", "style": {"color": "#868e96"}}]}
WRAP = {"wrapText": True, "sortable": False, "cellClass": "cell-wrap",
        "tooltipValueGetter": {"function": "params.value"},
        "cellRenderer": "ClampedText"}  # at most two lines: assets/dashAgGridComponentFunctions.js
