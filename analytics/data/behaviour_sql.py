"""The DuckDB engine of analytics/data/behaviour.py: the same per-customer aggregates as
`aggregate_numpy`, from one GROUP BY per table over the registered frame (no copy, no file),
plus one small query per "last value" (ties: the mean of the values at the latest time).

Times are compared as epoch nanoseconds with the same integer rules as the numpy engine
(age d = as_of - TIME in ns; the w-day window is 0 < d <= w days), so both engines agree to
the last bit on counts and to float rounding on sums.
"""

from __future__ import annotations

import numpy as np

from analytics.data import behaviour as bh
from analytics.data.events import (CHANGE, CLOSED, CUSTOMER, END, ESCALATED, FIRST_RESPONSE,
                                   KIND, MRR, PLAN, RESOLUTION, SATISFACTION, SEATS, SENTIMENT,
                                   TIME, EventTable)

DAY = bh.DAY_NS
# bucket name -> (lower, upper] bounds of the age in ns (the numpy engine's buckets)
BOUNDS = {"7": (0, 7 * DAY), "30": (7 * DAY, 30 * DAY), "60": (30 * DAY, 60 * DAY),
          "90": (60 * DAY, 90 * DAY), "old": (90 * DAY, None)}


NAN_FILL = {"last_days": np.nan, "first_days": np.nan, "s_min90": np.nan}


def _q(name: str) -> str:
    return '"' + str(name).replace('"', '""') + '"'


def _in(bucket: str, age: str = "d") -> str:
    low, high = BOUNDS[bucket]
    return f"{age} > {low}" + (f" AND {age} <= {high}" if high is not None else "")


def aggregate_duckdb(table: EventTable, n: int, a: int, threads: int | None = None
                     ) -> dict[str, np.ndarray]:
    """The per-customer aggregates of one table (names as in behaviour.aggregate_numpy)."""
    import duckdb

    f = table.frame
    con = duckdb.connect(config={"threads": threads} if threads else {})
    try:
        con.execute("SET enable_progress_bar = false")
        con.register("src", f)
        cols = [f"{_q(CUSTOMER)} AS c", f"{a} - epoch_ns({_q(TIME)}) AS d"]
        cols += [f"CAST({_q(m)} AS DOUBLE) AS m{j}" for j, m in enumerate(table.measures)]
        for name, alias in ((SENTIMENT, "s"), (FIRST_RESPONSE, "fr"), (RESOLUTION, "res"),
                            (SATISFACTION, "sat"), (ESCALATED, "esc"), (MRR, "mrr"),
                            (SEATS, "seats")):
            if name in f:
                cols.append(f"CAST({_q(name)} AS DOUBLE) AS {alias}")
        for name, alias in ((KIND, "kind"), (CHANGE, "chg"), (PLAN, "plan")):
            if name in f:
                cols.append(f"{_q(name)} AS {alias}")
        for name, alias in ((CLOSED, "cd"), (END, "ed")):
            if name in f:
                cols.append(f"{a} - epoch_ns({_q(name)}) AS {alias}")
        con.execute(f"CREATE TEMP VIEW x AS SELECT {', '.join(cols)} FROM src "
                    f"WHERE {_q(TIME)} IS NOT NULL AND epoch_ns({_q(TIME)}) < {a}")
        aggs = _aggregates(table, f)
        raw = _grouped(con, n, f"SELECT c, {', '.join(aggs)} FROM x GROUP BY c")
        if KIND in f and (table.role != "history" or SENTIMENT in f):
            # a DISTINCT inside the big GROUP BY is 3x slower than its own query
            raw |= _grouped(con, n, f"""SELECT c, count(*) AS kinds90 FROM (SELECT DISTINCT
                c, kind FROM x WHERE d <= {90 * DAY} AND kind IS NOT NULL) GROUP BY c""")
        if SENTIMENT in f:
            raw["s_last"] = _last(con, n, "s", "d", "TRUE")
        if table.role == "tickets" and CLOSED in f and SATISFACTION in f:
            raw["sat_last"] = _last(con, n, "sat", "cd", "cd > 0")
        if table.role == "history" and PLAN in f:
            raw |= _grouped(con, n, f"""
                SELECT c, count(*) FILTER (WHERE d <= {90 * DAY} AND plan <> prev) AS plan90
                FROM (SELECT c, d, plan, lag(plan) OVER (PARTITION BY c
                      ORDER BY d DESC, plan NULLS LAST) AS prev FROM x) GROUP BY c""")
        return raw
    finally:
        con.close()


def _aggregates(table: EventTable, f) -> list[str]:
    """The SELECT list of the GROUP BY, one aggregate per name of the numpy engine."""
    out = []
    if table.role != "history" or SENTIMENT in f:
        out += [f"count(*) FILTER (WHERE {_in(b)}) AS n_{b}" for b in BOUNDS]
        for j in range(len(table.measures)):
            out += [f"coalesce(sum(m{j}) FILTER (WHERE {_in(b)}), 0) AS m{j}_{b}"
                    for b in bh.BUCKETS[:4]]
        out += [f"CAST(min(d) AS DOUBLE) / {DAY} AS last_days",
                f"CAST(max(d) AS DOUBLE) / {DAY} AS first_days"]
        if SENTIMENT in f:
            for b in bh.BUCKETS[:4]:
                out += [f"coalesce(sum(s) FILTER (WHERE {_in(b)}), 0) AS s_sum_{b}",
                        f"count(s) FILTER (WHERE {_in(b)}) AS s_n_{b}"]
            out += [f"min(s) FILTER (WHERE d <= {90 * DAY}) AS s_min90",
                    f"count(*) FILTER (WHERE d <= {30 * DAY} AND s <= {bh.NEGATIVE}) AS s_neg30"]
    if table.role == "tickets":
        d90 = f"d <= {90 * DAY}"
        if CLOSED in f:
            known = "(cd IS NOT NULL AND cd > 0)"
            out.append(f"count(*) FILTER (WHERE NOT {known}) AS open")
            closed90 = f"{known} AND cd <= {90 * DAY}"
            for key, name in (("res", RESOLUTION), ("sat", SATISFACTION)):
                if name in f:
                    out += [f"coalesce(sum({key}) FILTER (WHERE {closed90}), 0) AS {key}_sum",
                            f"count({key}) FILTER (WHERE {closed90}) AS {key}_n"]
        if FIRST_RESPONSE in f:
            hit = f"{d90} AND d > fr * {bh.HOUR_NS}.0"
            out += [f"coalesce(sum(fr) FILTER (WHERE {hit}), 0) AS fr_sum",
                    f"count(fr) FILTER (WHERE {hit}) AS fr_n"]
        if ESCALATED in f:
            out.append(f"coalesce(sum(esc) FILTER (WHERE {d90}), 0) AS esc90")
    if table.role == "history":
        a90 = 90 * DAY
        now = "(ed IS NULL OR ed <= 0)" if END in f else "TRUE"
        then = f"d > {a90} AND (ed IS NULL OR ed <= {a90})" if END in f else f"d > {a90}"
        out.append(f"count(*) FILTER (WHERE {now}) AS active")
        for key, name in (("mrr", MRR), ("seats", SEATS)):
            if name in f:
                out.append(f"coalesce(sum({key}) FILTER (WHERE {now}), 0) AS {key}_now")
        if MRR in f:
            out.append(f"coalesce(sum(mrr) FILTER (WHERE {then}), 0) AS mrr_then")
        if CHANGE in f:
            for key, sign in (("up", ">"), ("down", "<")):
                out += [f"count(*) FILTER (WHERE chg {sign} 0) AS {key}_all",
                        f"count(*) FILTER (WHERE chg {sign} 0 AND d <= {a90}) AS {key}90"]
    return out


def _grouped(con, n: int, sql: str, missing: float | None = None) -> dict[str, np.ndarray]:
    """Run a per-customer query and spread its columns over customers 0..n-1; a customer
    without a row gets `missing`, else 0 on counts and sums and NaN on the rest."""
    result = con.execute(sql).fetchnumpy()
    c = np.asarray(result.pop("c"), dtype=np.intp)
    out = {}
    for name, values in result.items():
        values = np.ma.filled(np.ma.asarray(values).astype(np.float64), np.nan)
        fill = missing if missing is not None else NAN_FILL.get(name, 0.0)
        column = np.full(n, fill)
        column[c] = values
        out[name] = column
    return out


def _last(con, n: int, value: str, age: str, condition: str) -> np.ndarray:
    """Per customer, the mean of `value` at its smallest `age` among the rows where the value
    is known and `condition` holds (NaN when there is none)."""
    sql = f"""
        WITH ok AS (SELECT c, {age} AS t, {value} AS v FROM x
                    WHERE {value} IS NOT NULL AND {condition}),
             latest AS (SELECT c, min(t) AS t FROM ok GROUP BY c)
        SELECT c, avg(v) AS v FROM ok JOIN latest USING (c, t) GROUP BY c"""
    return _grouped(con, n, sql, missing=np.nan)["v"]
