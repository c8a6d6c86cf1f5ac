"""Linked tables in the config: TOML, links (direct and through another table), churn from a
churn-events table, the as-of date; values checked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.data import events as ev
from analytics.data import links
from analytics.data.config import BLANK, TableConfig, dumps, from_dict
from analytics.errors import DataError

TOML_DOC = {
    "data": {"main": "accounts.csv"},
    "roles": {"id": "account_id", "start_date": "signup_date", "horizon_days": 60},
    "tables": [
        {"name": "subscriptions", "role": "history", "key": "account_id",
         "time": "start_date", "end": "end_date", "mrr": "mrr_amount", "seats": "seats",
         "upgrade": "upgrade_flag", "downgrade": "downgrade_flag"},
        {"name": "usage", "file": "feature_usage.csv", "key": "subscription_id",
         "links_to": "subscriptions", "time": "usage_date",
         "measures": ["usage_count", "error_count"], "ratios": [["error_count", "usage_count"]],
         "kind": "feature_name"},
        {"name": "churn", "file": "churn_events.csv", "role": "churn_events",
         "key": "account_id", "time": "churn_date", "reactivated": "reactivated_at"},
    ],
}


def test_tables_round_trip_through_toml():
    import tomllib

    config = from_dict(TOML_DOC)
    assert config.main == "accounts.csv" and config.horizon_days == 60
    assert [t.name for t in config.tables] == ["subscriptions", "usage", "churn"]
    usage = config.table("usage")
    assert usage.links_to == "subscriptions" and usage.path_name == "feature_usage.csv"
    assert usage.measures == ("usage_count", "error_count")
    assert usage.ratios == (("error_count", "usage_count"),)
    assert config.churn_table.name == "churn" and config.dated
    assert config.table("subscriptions").path_name == "subscriptions.csv"
    again = from_dict(tomllib.loads(dumps(config)))
    assert again == config


@pytest.mark.parametrize("change, message", [
    ({"links_to": "nowhere"}, "no table of this name"),
    ({"role": "stream"}, "must be one of"),
    ({"time": ""}, "needs its date column"),
    ({"colour": "x"}, "unknown key"),
    ({"key": ""}, "the column that links"),
    ({"measures": [1, 2]}, "list of column names"),
])
def test_bad_table_entries_name_the_key(change, message):
    doc = {"roles": {"id": "id", "label": "churn"},
           "tables": [{"name": "usage", "key": "id", "time": "at", **change}]}
    with pytest.raises(DataError, match=message):
        from_dict(doc)


def test_links_in_a_circle_are_refused():
    doc = {"roles": {"id": "id", "label": "churn"}, "tables": [
        {"name": "a", "key": "b_id", "links_to": "b", "time": "t"},
        {"name": "b", "key": "a_id", "links_to": "a", "time": "t"}]}
    with pytest.raises(DataError, match="circle"):
        from_dict(doc)


def test_churn_events_and_a_label_cannot_both_give_churn():
    doc = {"roles": {"id": "id", "label": "churn"}, "tables": [
        {"name": "c", "role": "churn_events", "key": "id", "time": "t"}]}
    with pytest.raises(DataError, match="churn comes from the table"):
        from_dict(doc)


def _config(*tables):
    from dataclasses import replace

    return replace(BLANK, id_column="account_id", tables=tuple(tables))


def test_rows_link_through_another_table_to_the_customer():
    accounts = pd.Series(["A1", "A2", "A3"])
    subs = pd.DataFrame({"subscription_id": ["S1", "S2", "S3", "S4"],
                         "account_id": ["A2", "A1", "A2", "A9"]})
    usage = pd.DataFrame({"subscription_id": ["S3", "S1", "S2", "S4", "S7"]})
    config = _config(TableConfig("subs", role="history", key="account_id", time="t"),
                     TableConfig("usage", key="subscription_id", links_to="subs", time="t"))
    got = links.resolve(config, {"subs": subs, "usage": usage}, accounts)
    # S1 -> A2 (row 1), S2 -> A1 (row 0), S3 -> A2, S4 -> A9 (nobody), S7 (no subscription)
    assert got["subs"].tolist() == [1, 0, 1, -1]
    assert got["usage"].tolist() == [1, 1, 0, -1, -1]


def test_a_table_linked_through_needs_unique_keys():
    subs = pd.DataFrame({"subscription_id": ["S1", "S1"], "account_id": ["A1", "A2"]})
    usage = pd.DataFrame({"subscription_id": ["S1"]})
    config = _config(TableConfig("subs", role="history", key="account_id", time="t"),
                     TableConfig("usage", key="subscription_id", links_to="subs", time="t"))
    with pytest.raises(DataError, match="repeat") as err:
        links.resolve(config, {"subs": subs, "usage": usage}, pd.Series(["A1", "A2"]))
    assert err.value.file == "subs.csv" and err.value.column == "subscription_id"


def test_numeric_keys_match_text_ids():
    assert links.key_text(pd.Series([15634602.0, 7.0])).tolist() == ["15634602", "7"]


def test_categorical_columns_read_through_their_categories_as_text_would_be():
    # A Parquet export's dictionary columns: keys with spaces, a missing cell, an unknown id.
    ids = pd.Index(["A1", "A2", "A3"])
    text = pd.Series([" A2", "A1", None, "A9", "A3 ", "A2"], dtype=object)
    cat = text.astype("category")
    assert links.lookup(ids, cat).tolist() == links.lookup(ids, text).tolist() == [
        1, 0, -1, -1, 2, 1]
    numeric = pd.Series([7.0, 15634602.0, np.nan]).astype("category")
    assert links.lookup(pd.Index(["15634602", "7"]), numeric).tolist() == [1, 0, -1]
    # Two categories that strip to one text become one; the row order is kept.
    kinds = pd.Series(["Billing", "Billing ", "Network", None]).astype("category")
    got = links.category_text(kinds)
    assert got.astype(str).tolist() == ["Billing", "Billing", "Network", ""]
    assert list(got.cat.categories) == ["Billing", "Network", ""]
    table = TableConfig("emails", key="k", time="t", measures=("opened",))
    flags = pd.DataFrame({"opened": pd.Series(["Yes", "no", " 3 ", None, "yes"] * 20,
                                              dtype="category")})
    assert links.numbers(flags, table, "opened")[:5].tolist()[:3] == [1.0, 0.0, 3.0]
    assert np.isnan(links.numbers(flags, table, "opened")[3])
    flags.loc[::2, "opened"] = None
    flags["opened"] = flags["opened"].cat.add_categories(["soon"])
    flags.loc[:4, "opened"] = "soon"
    with pytest.raises(DataError, match="not numbers") as err:
        links.numbers(flags, table, "opened")
    assert err.value.column == "opened" and "soon" in " ".join(err.value.examples)


def test_canonical_table_reports_unlinked_rows_and_bad_dates():
    table = TableConfig("tickets", role="tickets", key="account_id", time="opened",
                        closed="closed", first_response="frt", first_response_unit="minutes",
                        satisfaction="csat", escalated="esc", text="body")
    raw = pd.DataFrame({"account_id": ["A1", "A2", "A1"],
                        "opened": ["2024-01-02 10:00", "2024-01-03", ""],
                        "closed": ["2024-01-02 12:00", "", ""],
                        "frt": ["90", "30", "15"], "csat": ["4", "", "2"],
                        "esc": ["No", "Yes", "no"], "body": ["thanks", "broken", "x"]})
    canon, left_out = links.canonical(table, raw, np.array([0, -1, 0], dtype=np.int32),
                                      sentiment=lambda texts: np.zeros(len(texts)))
    assert left_out == {"unlinked": 1, "undated": 1}
    frame = canon.frame
    assert len(frame) == 1 and frame[ev.FIRST_RESPONSE].iloc[0] == pytest.approx(1.5)
    assert frame[ev.SATISFACTION].iloc[0] == 4 and frame[ev.ESCALATED].iloc[0] == 0
    assert frame[ev.CLOSED].iloc[0] == pd.Timestamp("2024-01-02 12:00")
    assert canon.unit == "ticket" and ev.SENTIMENT in frame
    raw.loc[1, "opened"] = "soon"
    with pytest.raises(DataError, match="not dates") as err:
        links.canonical(table, raw, np.array([0, 0, 0], dtype=np.int32))
    assert err.value.column == "opened" and "soon" in " ".join(err.value.examples)


def test_history_change_from_text_or_flags():
    raw = pd.DataFrame({"k": ["A", "A", "A"], "t": ["2024-01-01"] * 3,
                        "kind": ["Upgrade", "downgrade", "renewal"],
                        "up": ["True", "False", "False"], "down": ["False", "True", "False"]})
    pos = np.zeros(3, dtype=np.int32)
    by_text, _ = links.canonical(TableConfig("p", role="history", key="k", time="t",
                                             change="kind"), raw, pos)
    by_flags, _ = links.canonical(TableConfig("p", role="history", key="k", time="t",
                                              upgrade="up", downgrade="down"), raw, pos)
    assert by_text.frame[ev.CHANGE].tolist() == [1, -1, 0]
    assert by_flags.frame[ev.CHANGE].tolist() == [1, -1, 0]


def _churn(rows):
    frame = pd.DataFrame(rows, columns=[ev.CUSTOMER, ev.TIME, "reactivated"])
    frame[ev.TIME] = pd.to_datetime(frame[ev.TIME])
    frame["reactivated"] = pd.to_datetime(frame["reactivated"])
    return links.Linked(churn_events=frame)


def test_churn_from_churn_events_with_a_horizon_and_reactivations():
    as_of, now = pd.Timestamp("2024-06-01"), pd.Timestamp("2024-12-31")
    linked = _churn([
        (0, "2024-06-10", None),          # churns in the window: 1, gone now
        (1, "2024-10-01", None),          # churns after the 90-day window: 0, gone now
        (2, "2024-03-01", None),          # gone before as-of: not trained on
        (3, "2024-03-01", "2024-04-01"),  # came back before as-of: active then, 0
        (4, "2024-07-01", "2024-08-01"),  # churned in the window and came back: 1, active now
        (5, "2024-02-01", "2024-07-01"),  # gone at as-of (back only later): not trained on
        (3, "2024-08-15", None),          # customer 3 churns again in the window: 1
    ])
    end, label = links.churn_outcome(linked, 7, as_of, 90, now)
    assert label.tolist() == [1, 0, -1, 1, 1, -1, 0]
    assert end.isna().tolist() == [False, False, False, False, True, True, True]
    assert end[3] == pd.Timestamp("2024-08-15")


def test_default_as_of_leaves_a_whole_outcome_window():
    linked = links.Linked(first_date=pd.Timestamp("2023-01-01"),
                          last_date=pd.Timestamp("2024-12-31 15:00"))
    as_of = links.default_as_of(linked, 90)
    assert as_of == pd.Timestamp("2024-10-03")
    assert (pd.Timestamp("2024-12-31") - as_of).days + 1 == 90
    assert links.history_warning(linked, as_of) is None
    short = links.Linked(first_date=pd.Timestamp("2024-09-01"), last_date=linked.last_date)
    assert "days of history" in links.history_warning(short, as_of)


def test_tables_sharing_a_dictionary_of_ids_share_one_lookup():
    from analytics.data.links import lookup

    index = pd.Index(["C1", "C2", "C3"])
    ids = pd.CategoricalDtype(pd.Index([" C3", "C1", "C9"]))   # stripped when looked up
    usage = pd.Series(pd.Categorical.from_codes([0, 1, 2, -1, 1], dtype=ids))
    tickets = pd.Series(pd.Categorical.from_codes([2, 0], dtype=ids))
    own = pd.Series(pd.Categorical(["C2", "C9", "C2"]))         # a dictionary of its own
    seen: dict = {}
    assert lookup(index, usage, seen).tolist() == [2, 0, -1, -1, 0]
    assert lookup(index, tickets, seen).tolist() == [-1, 2]
    assert len(seen) == 1
    assert lookup(index, own, seen).tolist() == [1, -1, 1]
    assert len(seen) == 2
    # The same answers as without the memo, and as the rows' own text.
    for keys in (usage, tickets, own):
        expected = index.get_indexer(keys.astype(object).fillna("").str.strip())
        assert lookup(index, keys).tolist() == expected.tolist()
