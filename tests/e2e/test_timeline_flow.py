"""Behaviour over time in a real browser: a customer with tickets shows the activity
timeline (usage bars, one marker per ticket of the last year, the as-of and scored-at lines)
and the behaviour features among their reasons; the Data page lists the linked tables."""

from __future__ import annotations

import numpy as np
import pytest
from selenium.webdriver.common.by import By

from tests.e2e.browser import element, scroll_to, text_of, wait
from tests.e2e.conftest import DEMO_SIZE, _console_check

GRAPH = "customer-timeline-graph"
REASONS = "customer-behaviour-reasons-div"
WATERFALL = "customer-waterfall-graph"
LINKED = "data-linked-tables-div"
TRACES = ("var g = document.querySelector('#customer-timeline-graph .js-plotly-plot');"
          "return g && g._fullData ? g._fullData.map(t => [t.name, (t.x || []).length]) : [];")


@pytest.fixture
def events_clean_console(browser, events_server):
    """`clean_console` for tests that run against `events_server`."""
    return _console_check(browser, events_server)


@pytest.fixture(scope="module")
def busy_customers() -> list[tuple[str, int, str]]:
    """(id, tickets in the last year, as-of date) of the active demo customers (the server's
    data: DEMO_SIZE customers, seed 0) with the most tickets, computed from the same
    generator."""
    from analytics.loaders import load_demo

    table = load_demo(DEMO_SIZE, seed=0, events=True)
    b = table.behaviour
    tickets = b.table("tickets").frame
    now = np.datetime64(b.now)
    recent = tickets[(tickets["time"] >= now - np.timedelta64(365, "D"))
                     & (tickets["time"] <= now)]
    active = set(table.customers.loc[table.customers["active"].astype(bool), "customer_id"]
                 .astype(str))
    counts = recent["customer"].value_counts()
    return [(str(b.ids[p]), int(n), b.as_of) for p, n in counts.items()
            if str(b.ids[p]) in active][:3]


def _ticket_markers(driver) -> int:
    return sum(n for name, n in driver.execute_script(TRACES) if name.startswith("Ticket"))


def _open_customer(browser, url: str, customer_id: str, tickets: int) -> None:
    browser.get(f"{url}/customer/{customer_id}")
    wait(browser, 60).until(lambda d: _ticket_markers(d) == tickets,
                            message=f"the timeline never showed {tickets} ticket markers")
    wait(browser).until(lambda d: len(element(d, GRAPH).find_elements(
        By.CSS_SELECTOR, ".scatterlayer .trace .points path")) >= tickets,
        message="the ticket markers were not drawn")


def test_customer_timeline_and_linked_tables(browser, events_server, busy_customers,
                                             events_clean_console):
    assert busy_customers, "the demo has active customers with tickets"
    for customer_id, tickets, as_of in busy_customers:
        _open_customer(browser, events_server.url, customer_id, tickets)
        graph = element(browser, GRAPH)
        scroll_to(browser, graph)
        notes = [a.text for a in graph.find_elements(By.CSS_SELECTOR, ".annotation-text")]
        assert f"model trained as of {as_of}" in notes
        assert any(n.startswith("scored as of ") for n in notes)
        assert len(graph.find_elements(By.CSS_SELECTOR, ".shapelayer path")) >= 2
        assert graph.find_elements(By.CSS_SELECTOR, ".bars .point path"), "no usage bars"
        assert "Data gb per week" in graph.text
        reasons = element(browser, REASONS)
        assert text_of(browser, REASONS).upper().startswith("BEHAVIOUR IN THE REASONS")
        items = [li.text for li in reasons.find_elements(By.CSS_SELECTOR, "li")]
        if items:
            break
    assert items, "none of the busiest customers has behaviour among the top reasons"
    # Each line is a behaviour feature of this customer's waterfall, in the same words.
    labels = {t.text for t in element(browser, WATERFALL).find_elements(
        By.CSS_SELECTOR, ".ytick text")}
    for item in items:
        words = item.split(" +")[0].split(" -")[0].strip()
        assert item.endswith(("usage", "tickets", "emails", "plan_changes"))
        assert any(words.startswith(label.rstrip("…")) or label.startswith(words)
                   for label in labels), (item, labels)

    browser.get(f"{events_server.url}/data")
    wait(browser, 60).until(lambda d: "tickets.csv" in text_of(d, LINKED),
                            message="the Linked tables card never showed")
    card = text_of(browser, LINKED)
    for words in ("usage.csv", "support tickets", "written after leaving — never a feature",
                  "Features as of", as_of, "Customers trained on", "Behaviour check"):
        assert words in card, words
    events_clean_console()
