"""The Behaviour page's queries: the early-warning list (usage fell, or tickets turned
negative, in the last 30 days), its exports, and what leavers wrote after leaving.

The rules read the model's behaviour features (`<usage>_change_30d`, `<tickets>_sentiment_
change`); the before/after numbers beside them are the levels those compare, kept by
analytics/data/behaviour.py when it made the features (a w-day window holds ref - w days <=
time < ref; ref is "now" for active customers, the as-of date for leavers), so the list never
reads the event tables. Outcome tables explain churn and never feed the model. Arrays are
built once per analysis; a filter change is numpy.
"""

from __future__ import annotations

import json
import math
import re
from urllib.parse import quote

import numpy as np
import pandas as pd

from analytics.data import events as ev
from analytics.data.behaviour import NEGATIVE, WINDOWED_MEASURES
from analytics.dataset import ACTIVE
from analytics.export import neutralise, neutralise_frame, reasons_for
from analytics.pipeline import PROBABILITY, SEGMENT, TIER
from analytics.scoring import shown
from dashboard import ids
from dashboard.services import core
from dashboard.services.customers import ExportRequestError

LIST_LIMIT = 500                 # rows sent to the browser; the exports hold every match
DEFAULT_DROP = 0.30              # usage fell by at least this share
DEFAULT_SENTIMENT = -0.20        # sentiment change (last 30 days minus the 60 before) below
RULES = ("usage", "sentiment")
STATE_KEYS = ("filters", "drop", "sentiment", "rules")
EXPORT_CHUNK = 100_000
TOP_WORDS = 15
WORD = re.compile(r"[^\W\d_]{3,}")
STOP_WORDS = frozenset("""the and for with was were are but not you your our they them their
this that these those have has had been from into out off over than then too very just also all
any some more most much many such only own same can could would should will may might must did
does get got its there here what which who why how when where while about after before again
ever never once because until per each both few other one two now still even back like really
since she her his him lot thing way""".split())
UNITS = {"gb": "GB", "mb": "MB", "tb": "TB", "kb": "KB", "sms": "SMS", "mrr": "MRR"}
NOT_GIVEN = "Not given"
NONE = {"events": False, "usage": None, "sentiment": None, "outcome": None}


class BehaviourService(core.PageService):
    def __init__(self, core_: core.Services) -> None:
        super().__init__(core_)
        self._cache: dict = {}
        self._for = None

    def _cached(self, key: str, compute):
        """Per-analysis arrays (dropped when another analysis is served)."""
        if self._for is not self.analysis:
            self._cache.clear()
            self._for = self.analysis
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def words(self) -> dict[str, str]:
        return self.core.words()

    # ----- what this data has ----------------------------------------------------------
    def info(self) -> dict:
        """What the page can show: {"events": any behaviour feature, "usage": the usage
        rule's table and features (None without one), "sentiment": the sentiment rule's,
        "outcome": the feedback table (None without one), "as_of", "now"}."""
        return dict(NONE) if self.analysis is None else self._cached("info", self._info)

    def _info(self) -> dict:
        b, out = getattr(self.analysis, "behaviour", None), dict(NONE)
        if b is None:
            return out

        def feature(table, stat):
            return next((n for n, m in b.meta.items() if m.table == table and m.stat == stat),
                        None)

        # Usage-like: the events table with measures and the most rows (whatever its name).
        usage = sorted((t for t in b.tables if t.role == "events" and feature(t.name,
                        "change_30d")), key=lambda t: (bool(t.measures), t.rows))
        talk = sorted((t for t in b.tables if feature(t.name, "sentiment_change")),
                      key=lambda t: (t.role == "tickets", t.rows))
        said = sorted((t for t in b.tables if t.role == "outcome" and (
            t.has(ev.REASON) or t.has(ev.TEXT))), key=lambda t: t.rows)
        out.update(events=bool(b.meta), as_of=b.as_of, now=b.now)
        if usage:
            t, days = usage[-1], getattr(usage[-1], "period_days", 0)
            measures = list(t.measures[:WINDOWED_MEASURES])
            out["usage"] = {"table": t.name, "change": feature(t.name, "change_30d"),
                            "what": _words(t.name), "measures": measures,
                            "periodic": bool(days and measures),
                            "amounts": [_words(m) for m in measures] or [_plural(t.unit)],
                            "per": (" a week" if days == 7 else f" per {t.unit}")
                            if days and measures else ""}
        if talk:
            t = talk[-1]
            out["sentiment"] = {"table": t.name, "change": feature(t.name, "sentiment_change"),
                                "negative": feature(t.name, "negative"), "unit": t.unit,
                                "units": _plural(t.unit)}
        if said:
            t = said[-1]
            out["outcome"] = {"table": t.name, "source": t.source or t.name}
        return out

    # ----- the early-warning list ------------------------------------------------------
    def matches(self, filters: dict | None, drop: float = DEFAULT_DROP,
                sentiment: float = DEFAULT_SENTIMENT, rules=RULES) -> np.ndarray:
        """Row numbers (in row order) of the customers the filters select (active ones
        unless `everyone`) whose usage change is <= -drop, or whose sentiment change is
        below `sentiment` with a negative mean over the last 30 days."""
        c, info = self.core, self.info()
        keep = c.mask(filters)
        if not (filters or {}).get(ids.EVERYONE):
            keep &= c.array(ACTIVE).astype(bool)
        hit = np.zeros(len(keep), dtype=bool)
        if "usage" in rules and info["usage"]:
            hit |= c.array(info["usage"]["change"]) <= -float(drop)
        if "sentiment" in rules and info["sentiment"]:
            hit |= (c.array(info["sentiment"]["change"]) < float(sentiment)) & (
                self._sentiment()[1] <= NEGATIVE)
        return np.flatnonzero(keep & hit)

    def ranked(self, filters: dict | None, limit: int | None = None, **params) -> tuple:
        """(the `limit` riskiest matches, ties in row order; how many match). Memoised."""
        key = "behaviour-list:" + json.dumps([params, limit], sort_keys=True)
        return self.core.memoised(key, filters, lambda: self._ranked(filters, limit, params))

    def _ranked(self, filters, limit, params) -> tuple:
        rows = self.matches(filters, **params)
        n, p = len(rows), self.core.array(PROBABILITY).astype(np.float64)
        if limit is not None and n > limit:
            kth = np.partition(p[rows], n - limit)[n - limit]   # the limit-th largest
            rows = np.concatenate([rows[p[rows] > kth], rows[p[rows] == kth]])[:limit]
        return rows[np.argsort(-p[rows], kind="stable")], n

    def early_warning(self, filters: dict | None, drop: float = DEFAULT_DROP,
                      sentiment: float = DEFAULT_SENTIMENT, rules=RULES,
                      limit: int = LIST_LIMIT) -> dict:
        """The grid's list: {"n": matches, "rows": the `limit` riskiest, "title", "empty"}."""
        params = {"drop": float(drop), "sentiment": float(sentiment),
                  "rules": [r for r in RULES if r in (rules or ())]}
        who, parts = self._words_of(filters, params)
        if not parts:
            return {"n": 0, "rows": [], "title": "", "empty": "Tick at least one rule above."}
        rows, n = self.ranked(filters, max(int(limit), 1), **params)
        table = self._table(rows)
        return {"n": int(n), "title": f"{who} " + ", or ".join(parts),
                "rows": table.astype(object).where(table.notna(), None).to_dict("records"),
                "empty": None if n else "Nobody in this selection matches these rules."}

    def _words_of(self, filters: dict | None, params: dict) -> tuple[str, list[str]]:
        """(who the list holds, each ticked rule in words) for titles and the export."""
        info, noun = self.info(), self.words()["customers"]
        who = f"{noun} (with those who left)" if (filters or {}).get(ids.EVERYONE) \
            else f"active {noun}"
        parts = []
        if "usage" in params["rules"] and info["usage"]:
            parts.append(f"whose {info['usage']['what']} fell by {params['drop']:.0%} or more "
                         "in the last 30 days")
        if "sentiment" in params["rules"] and info["sentiment"]:
            parts.append(f"whose {info['sentiment']['units']} turned negative")
        return who, parts

    def columns(self) -> dict:
        """The list's data-dependent headers: {field: label} for the columns this data has."""
        u, s, out = self.info()["usage"], self.info()["sentiment"], {}
        if u:
            what = _words(u["what"], True)
            out["usage_change_30d"] = f"{what} change, 30 days"
            out["usage_previous_30d"] = f"{what}{u['per']}: 30 days before → last 30"
        if s:
            out["sentiment_previous_60d"] = f"{_words(s['unit'], True)} sentiment: 60 days " \
                "before → last 30"
        if s and s["negative"]:
            out["negative_30d"] = f"Negative {s['units']}, 30 days"
        return out

    def _table(self, rows: np.ndarray, reasons: int = 1) -> pd.DataFrame:
        """The list's columns for the given rows (fixed field names)."""
        c, info, frame = self.core, self.info(), self.analysis.customers
        table = {"customer_id": c.ids()[rows],
                 "churn_probability": c.array(PROBABILITY)[rows].astype(float).round(4),
                 "risk_tier": frame[TIER].iloc[rows].astype(str).to_numpy(),
                 "status": np.where(c.array(ACTIVE)[rows].astype(bool), "active", "churned")}
        if SEGMENT in frame:
            table["segment"] = frame[SEGMENT].iloc[rows].astype(str).to_numpy()
        if info["usage"]:
            before, after, which = self._usage()
            table.update(usage_change_30d=c.array(info["usage"]["change"])[rows].astype(float)
                         .round(4), usage_previous_30d=before[rows].round(2),
                         usage_last_30d=after[rows].round(2), usage_measure=which[rows])
        if info["sentiment"]:
            before, after = self._sentiment()
            table.update(sentiment_previous_60d=before[rows].round(3),
                         sentiment_last_30d=after[rows].round(3))
            if info["sentiment"]["negative"]:
                table["negative_30d"] = c.array(info["sentiment"]["negative"])[rows].astype(float)
        table = pd.DataFrame(table)
        found = reasons_for(self.analysis, rows) if len(rows) else None
        for k in range(1, reasons + 1):
            table[f"reason_{k}"] = found[f"reason_{k}"].to_numpy() if len(rows) else ""
        return table

    # ----- per-customer levels (once per analysis) --------------------------------------
    def _usage(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(level in the 30 days before the last 30, in the last 30, its measure) per customer:
        what `<usage>_change_30d` compares (the first measure with a level before, per row
        for periodic rows such as usage weeks; the number of rows without a measure)."""
        u = self.info()["usage"]

        def compute():
            levels = self._levels(u["table"], ("before", "after", "measure"))
            names = np.array(u["amounts"], dtype=object)
            return levels[0], levels[1], names[np.nan_to_num(levels[2]).astype(int)]
        return self._cached("usage", compute)

    def _sentiment(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean sentiment in the 60 days before the last 30 and in the last 30 (NaN without
        a row): the two means `<tickets>_sentiment_change` subtracts."""
        return self._cached("sentiment", lambda: tuple(self._levels(
            self.info()["sentiment"]["table"], ("sentiment_before", "sentiment_after"))))

    def _levels(self, table: str, keys) -> list[np.ndarray]:
        """The behaviour's levels of `table` (per event position, made with its features by
        analytics/data/behaviour.py) in customer-row order; NaN for a customer without."""
        levels, rows = self.analysis.behaviour.levels.get(table, {}), self._rows_of_positions()
        out, ok = [], rows >= 0
        for key in keys:
            values = np.full(len(self.analysis.customers), np.nan)
            if key in levels:
                values[rows[ok]] = levels[key][ok]
            out.append(values)
        return out

    def _rows_of_positions(self) -> np.ndarray:
        """Customer row of each event position (ev.CUSTOMER); -1 for none."""
        def compute():
            theirs, mine = self.analysis.behaviour.ids, self.core.ids()
            same = len(theirs) == len(mine) and (theirs == mine).all()
            return np.arange(len(mine)) if same else pd.Index(mine).get_indexer(theirs)
        return self._cached("positions", compute)

    # ----- why they said they left -----------------------------------------------------
    def why_left(self, filters: dict | None) -> dict:
        """What the selection's leavers wrote after leaving (each one's latest feedback):
        reason codes, top words, mean sentiment by segment, with counts."""
        if self.analysis is None or self.info()["outcome"] is None:
            return {"available": False}
        return self.core.memoised("behaviour-why", filters, lambda: self._why(filters))

    def _why(self, filters) -> dict:
        c, fb = self.core, self._cached("feedback", self._feedback)
        left = c.mask(filters) & ~c.array(ACTIVE).astype(bool)
        keep = left[fb["rows"]]
        n = int(keep.sum())
        out = {"available": True, "source": self.info()["outcome"]["source"], "n_text": 0,
               "n_leavers": int(left.sum()), "n_feedback": n, "reasons": [], "words": [],
               "segments": []}
        if fb["names"]:
            counts = np.bincount(fb["codes"][keep], minlength=len(fb["names"]))
            out["reasons"] = sorted(({"reason": r, "n": int(k), "share": float(k / n)}
                                     for r, k in zip(fb["names"], counts) if k),
                                    key=lambda r: -r["n"])
        if fb["vocab"] is not None:
            wrote = keep & fb["has_text"]
            out["n_text"] = m = int(wrote.sum())
            counts = np.bincount(fb["word"][wrote[fb["doc"]]], minlength=len(fb["vocab"]))
            out["words"] = [{"word": str(fb["vocab"][w]), "n": int(counts[w]),
                             "share": float(counts[w] / m)}
                            for w in np.argsort(-counts, kind="stable")[:TOP_WORDS] if counts[w]]
        if fb["sentiment"] is not None and SEGMENT in self.analysis.customers:
            ok = keep & ~np.isnan(fb["sentiment"])
            codes = c.array(SEGMENT)[fb["rows"][ok]]
            s, codes = fb["sentiment"][ok][codes >= 0], codes[codes >= 0]
            names = [str(x) for x in self.analysis.customers[SEGMENT].cat.categories]
            total, k = np.bincount(codes, s, len(names)), np.bincount(codes, None, len(names))
            out["segments"] = sorted(({"segment": g, "mean": float(total[i] / k[i]),
                                       "n": int(k[i])} for i, g in enumerate(names) if k[i]),
                                     key=lambda r: r["mean"])
        return out

    def _feedback(self) -> dict:
        """Each leaver's latest feedback row: customer row, reason code, sentiment, and the
        (row, word) pairs of its text (each word once per leaver; tokenised once)."""
        frame = self.analysis.behaviour.table(self.info()["outcome"]["table"]).frame
        rows = self._rows_of_positions()[frame[ev.CUSTOMER].to_numpy()]
        t = frame[ev.TIME].to_numpy().astype("datetime64[ns]").view(np.int64)
        ok = np.flatnonzero(rows >= 0)
        order = ok[np.lexsort((t[ok], rows[ok]))]
        pick = order[np.r_[rows[order][1:] != rows[order][:-1], True]] if len(order) else order
        out = {"rows": rows[pick], "names": [], "codes": None, "vocab": None,
               "sentiment": frame[ev.SENTIMENT].to_numpy(np.float64)[pick]
               if ev.SENTIMENT in frame else None}
        if ev.REASON in frame:
            reason = frame[ev.REASON].iloc[pick].astype(object)
            reason = reason.where(reason.notna(), "").astype(str).str.strip()
            out["codes"], names = pd.factorize(reason.where(reason != "", NOT_GIVEN))
            out["names"] = [str(x) for x in names]
        if ev.TEXT in frame:
            text = frame[ev.TEXT].iloc[pick].reset_index(drop=True).astype(object)
            text = text.where(text.notna(), "").astype(str)
            tokens = text.str.lower().str.findall(WORD).explode().dropna()
            pairs = pd.DataFrame({"doc": tokens.index, "word": tokens.to_numpy()})
            pairs = pairs[~pairs["word"].isin(STOP_WORDS)].drop_duplicates()
            out["word"], vocab = pd.factorize(pairs["word"])
            out.update(doc=pairs["doc"].to_numpy(), vocab=np.asarray(vocab, dtype=object),
                       has_text=(text.str.strip() != "").to_numpy())
        return out

    # ----- exports ---------------------------------------------------------------------
    def export_href(self, fmt: str, filters: dict | None, drop: float, sentiment: float,
                    rules) -> str:
        """The link that downloads the whole list (served by dashboard/downloads.py)."""
        state = json.dumps({"filters": filters or {}, "drop": drop, "sentiment": sentiment,
                            "rules": list(rules)}, separators=(",", ":"))
        return f"/export/early-warning/{fmt}?state={quote(state)}"

    def check_state(self, state) -> dict:
        """An export link's state checked: known filters, 0 <= drop <= 1, -2 <= sentiment
        <= 0, rules from RULES. ExportRequestError (a 400) with a short reason otherwise."""
        if not isinstance(state, dict) or set(state) - set(STATE_KEYS):
            raise ExportRequestError(f"the state must be a JSON object with keys from "
                                     f"{', '.join(STATE_KEYS)} (got {shown(state)})")
        rules = state.get("rules", list(RULES))
        if not isinstance(rules, list) or not all(isinstance(r, str) and r in RULES
                                                  for r in rules):
            raise ExportRequestError(f"rules must be a list of {', '.join(RULES)} "
                                     f"(got {shown(rules)})")
        return {"filters": self.core.customers.check_filters(state.get("filters")),
                "drop": _number(state.get("drop", DEFAULT_DROP), "drop", 0.0, 1.0),
                "sentiment": _number(state.get("sentiment", DEFAULT_SENTIMENT), "sentiment",
                                     -2.0, 0.0), "rules": rules}

    def export_rows(self, state: dict) -> tuple[str, list[str], object, int]:
        """Every match of a checked export state, riskiest first, for a file: (the note
        for the first line, the header, formula-safe DataFrame chunks, the row count)."""
        params = {k: state[k] for k in ("drop", "sentiment", "rules")}
        rows, n = self._ranked(state["filters"], None, params)   # not memoised: all rows
        who, parts = self._words_of(state["filters"], params)
        rule = f"{who} " + ", or ".join(parts) if parts else "no rule ticked"
        note = neutralise(f"ChurnLens early-warning list; {self.core.source_name()}; {rule}; "
                          f"filters: {self.core.customers.describe_filters(state['filters'])}"
                          f"; {n:,} {self.words()['customers']}, riskiest first")
        header = list(self._table(rows[:0], 3).columns)
        chunks = (neutralise_frame(self._table(rows[s:s + EXPORT_CHUNK], 3))
                  for s in range(0, len(rows), EXPORT_CHUNK))
        return note, header, chunks, int(n)


def _number(value, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value) or not low <= value <= high:
        raise ExportRequestError(f"{name} must be a number from {low:g} to {high:g} "
                                 f"(got {shown(value)})")
    return float(value)


def _words(text: str | None, cap: bool = False) -> str:
    """'data_gb' -> 'data GB' ('Data GB' with `cap`)."""
    words = " ".join(UNITS.get(w, w) for w in str(text or "").lower().replace("_", " ").split())
    return words[:1].upper() + words[1:] if cap else words


def _plural(word: str) -> str:
    return word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")


def current() -> BehaviourService:
    return core.current().behaviour
