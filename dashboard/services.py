"""The one UI-side module that calls analytics: load or train, filter, aggregate, shape JSON.

One `Services` object per app (kept in the Flask config, never at module level). Callbacks
call `current()` to reach it; everything returned is small and JSON-safe: the browser gets
what it draws, never the customer table.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import quote

import flask
import numpy as np
import pandas as pd

from analytics import kpis
from analytics.dataset import ACTIVE, CHURN, DURATION, ID, MONTHLY, TENURE
from analytics.errors import ChurnLensError
from analytics.evaluation import (churn_by_bins, confusion, cost_curve, deciles, pr_points,
                                  roc_points, threshold_for_recall)
from analytics.explain import ADD_ONS, describe_value, feature_label, probability_points
from analytics.export import customer_list, write_csv, write_excel
from analytics.offers import NO_OFFER, eligible_mask, load_catalogue, targeting
from analytics.pipeline import (CLV, PROBABILITY, SEGMENT, TENURE_BAND, TIER,
                                AnalysisSettings)
from analytics.recommend import COST, OFFER, OFFER_NAME, P_WITH_OFFER, PROFIT, PROMO
from analytics.runner import DataSource, compare_file, load_or_train
from analytics.scoring import ScoreInputError, score_records
from analytics.survival import km_by_group
from analytics.whatif import (NO_INTERNET, Scenario, actionable_features, frozen_features,
                              simulate_customer, simulate_selection)
from dashboard.grid import Column, filter_mask, ordered_selection
from dashboard.ids import DROPDOWN_FILTERS
from dashboard.settings import Settings

CONFIG_KEY = "CHURNLENS_SERVICES"
DRIVER_COLUMNS = (("Contract", "Contract"), (TENURE_BAND, "Tenure band"),
                  ("InternetService", "Internet service"), ("PaymentMethod", "Payment method"))
MEMO_SIZE = 128
SELECTION_MEMO_SIZE = 8
WHATIF_MAX_ROWS = 150_000
GRID_DEFAULT_SORT = ("churn_probability", "desc")
FILTER_LABELS = {"contract": "Contract", "internet": "Internet service",
                 "payment": "Payment method", "tier": "Risk tier", "segment": "Segment"}


def _num(value) -> float | None:
    """A JSON-safe float (NaN becomes None)."""
    value = float(value)
    return None if math.isnan(value) or math.isinf(value) else value


class Services:
    """The loaded analysis (or the error that stopped it) and the queries pages make of it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.analysis = None
        self.error: str | None = None
        self.from_cache = False
        self._memo: OrderedDict[str, dict] = OrderedDict()
        self._arrays: dict[str, np.ndarray] = {}
        self._selections: OrderedDict[str, np.ndarray] = OrderedDict()
        self._grid_columns: dict[str, Column] | None = None
        self._points: tuple[np.ndarray, np.ndarray] | None = None  # SHAP points, a sample
        self._score_spec: list[dict] | None = None
        self.catalogue = None
        self.catalogue_error: str | None = None

    def analysis_settings(self) -> AnalysisSettings:
        s = self.settings
        return AnalysisSettings(tier_high=s.tier_high, tier_medium=s.tier_medium,
                                margin=s.margin, annual_discount=s.annual_discount,
                                horizon_months=s.horizon_months)

    def start(self, progress: Callable[[str], None] = print) -> Services:
        """Load from the cache or train; a data error is kept and shown in the page."""
        source = DataSource(path=self.settings.data_path, demo_size=self.settings.demo_size,
                            seed=self.settings.seed, as_of=self.settings.as_of)
        try:
            if self.settings.demo_size < 1:
                raise ChurnLensError("--demo-size must be at least 1")
            self._load_catalogue(progress)
            self.analysis, self.from_cache = load_or_train(
                source, self.analysis_settings(), cache_dir=self.settings.cache_dir,
                progress=progress, catalogue=self.catalogue)
            self.error = None
        except ChurnLensError as exc:
            self.analysis, self.error = None, str(exc)
            progress(f"error: {exc}")
        return self

    def _load_catalogue(self, progress: Callable[[str], None]) -> None:
        """The offer catalogue; a broken file is reported and offers are left out."""
        try:
            self.catalogue = load_catalogue(self.settings.offers_path)
            self.catalogue_error = None
        except ChurnLensError as exc:
            self.catalogue, self.catalogue_error = None, str(exc)
            progress(f"offers disabled: {exc}")

    def score(self, payload) -> dict | list:
        """Score customers sent as JSON (raises ScoreInputError on bad input)."""
        results = score_records(payload, self.analysis, self.catalogue)
        return results[0] if isinstance(payload, dict) else {"results": results}

    # ----- app-wide facts -------------------------------------------------------------
    def status(self) -> dict:
        """Where the data came from, warnings and errors, for the shell's banner."""
        if self.analysis is None:
            return {"ok": False, "error": self.error or "No data loaded.", "leakage": []}
        a = self.analysis
        return {"ok": True, "error": None, "source": a.source, "n": int(len(a.customers)),
                "as_of": a.as_of, "extraction_date": a.extraction_date,
                "from_cache": self.from_cache, "leakage": a.leakage,
                "offers_error": self.catalogue_error,
                "roc_auc": a.cv.overall["catboost"]["roc_auc"]}

    def filter_options(self) -> dict:
        """Choices for each global filter (only the columns this data has) and tenure range."""
        options: dict = {key: [] for key in DROPDOWN_FILTERS}
        options["tenure_max"] = 72
        if self.analysis is None:
            return options
        customers = self.analysis.customers
        for key, (_, column) in DROPDOWN_FILTERS.items():
            if column in customers.columns:
                options[key] = [str(c) for c in customers[column].cat.categories]
        options["tenure_max"] = int(math.ceil(customers[TENURE].max()))
        return options

    # ----- queries ----------------------------------------------------------------------
    def array(self, column: str) -> np.ndarray:
        """A column as a plain numpy array (category codes for categorical columns), kept
        for the life of this object: filtering 1M rows on int8 codes takes milliseconds."""
        if column not in self._arrays:
            series = self.analysis.customers[column]
            if hasattr(series, "cat"):
                self._arrays[column] = series.cat.codes.to_numpy()
            else:
                self._arrays[column] = series.to_numpy()
        return self._arrays[column]

    def codes_of(self, column: str, values) -> list[int]:
        categories = self.analysis.customers[column].cat.categories
        return [int(categories.get_loc(v)) for v in values if v in categories]

    def mask(self, filters: dict | None) -> np.ndarray:
        """Boolean row mask of the customers the global filters select."""
        customers = self.analysis.customers
        keep = np.ones(len(customers), dtype=bool)
        filters = filters or {}
        for key, (_, column) in DROPDOWN_FILTERS.items():
            values = filters.get(key)
            if values and column in customers.columns:
                # Lookup table on the codes (np.isin is ~5x slower); code -1 (missing) hits
                # the table's last slot, which stays False.
                table = np.zeros(len(customers[column].cat.categories) + 1, dtype=bool)
                table[self.codes_of(column, values)] = True
                keep &= table[self.array(column)]
        tenure = filters.get("tenure")
        if tenure:
            t = self.array(TENURE)
            keep &= (t >= float(tenure[0])) & (t <= float(tenure[1]))
        return keep

    def overview(self, filters: dict | None) -> dict:
        """KPIs, churn rate by driver with 95% intervals, and the risk-tier mix of a selection."""
        if self.analysis is None:
            return {"n": 0, "error": self.error}
        return self._memoised("overview", filters, lambda: self._overview(self.mask(filters)))

    def _memoised(self, kind: str, filters: dict | None, compute: Callable[[], dict]) -> dict:
        """A view of the selection from the per-process LRU memo, computed when missing."""
        key = kind + ":" + json.dumps(filters or {}, sort_keys=True)
        if key in self._memo:
            self._memo.move_to_end(key)
            return self._memo[key]
        result = self._memo[key] = compute()
        if len(self._memo) > MEMO_SIZE:
            self._memo.popitem(last=False)
        return result

    def _overview(self, keep: np.ndarray) -> dict:
        c = self.analysis.customers
        rows = slice(None) if keep.all() else np.flatnonzero(keep)
        churn = self.array(CHURN)[rows]
        active = self.array(ACTIVE)[rows]
        monthly = self.array(MONTHLY)[rows]
        proba = self.array(PROBABILITY)[rows]
        tiers = self.array(TIER)[rows]
        n = len(churn)
        out = {"n": n, "n_total": int(len(c)), "error": None}
        out["kpis"] = {
            "customers": n,
            "churned": int(churn.sum()),
            "churn_rate": _num(kpis.churn_rate(churn)),
            "retention_rate": _num(kpis.retention_rate(churn)),
            "arpu": _num(kpis.arpu(monthly, active)),
            "clv": _num(np.mean(self.array(CLV)[rows][active])) if active.any() else None,
            "revenue_at_risk": _num(kpis.revenue_at_risk(proba, monthly, active)),
            "active": int(active.sum()),
            "high_risk_active": int(((tiers == self.codes_of(TIER, ["High"])[0]) & active).sum()),
        }
        out["drivers"] = {}
        for column, title in DRIVER_COLUMNS:
            if column in c.columns:
                out["drivers"][column] = {"title": title,
                                          "rows": self._rates_by(column, rows, churn)}
        counts = np.bincount(tiers, minlength=len(kpis.TIERS))
        out["tiers"] = [{"tier": t, "n": int(counts[i]),
                         "share": _num(counts[i] / n) if n else None}
                        for i, t in enumerate(kpis.TIERS)]
        return out

    def _rates_by(self, column: str, rows: np.ndarray, churn: np.ndarray) -> list[dict]:
        series = self.analysis.customers[column]
        codes = self.array(column)[rows]
        size = len(series.cat.categories)
        n = np.bincount(codes, minlength=size)
        churned = np.bincount(codes, weights=churn, minlength=size)
        rows = []
        for i, group in enumerate(series.cat.categories):
            lo, hi = kpis.wilson_interval(int(churned[i]), int(n[i]))
            rows.append({"group": str(group), "n": int(n[i]), "churned": int(churned[i]),
                         "rate": _num(churned[i] / n[i]) if n[i] else None,
                         "lo": _num(lo), "hi": _num(hi)})
        return rows

    # ----- segments -----------------------------------------------------------------------
    def segments_view(self, filters: dict | None) -> dict:
        """Segment profiles for the selection, the K choice, segment x tier counts, Pareto."""
        if self.analysis is None or SEGMENT not in self.analysis.customers.columns:
            return {"error": self.error or "No segments in this analysis.", "segments": []}
        return self._memoised("segments", filters, lambda: self._segments_view(filters))

    def _segments_view(self, filters: dict | None) -> dict:
        a = self.analysis
        keep = self.mask(filters)
        rows = slice(None) if keep.all() else np.flatnonzero(keep)
        seg = self.array(SEGMENT)[rows]
        churn = self.array(CHURN)[rows].astype(float)
        active = self.array(ACTIVE)[rows].astype(float)
        monthly = self.array(MONTHLY)[rows].astype(float)
        proba = self.array(PROBABILITY)[rows].astype(float)
        clv = self.array(CLV)[rows].astype(float)
        k = len(a.segmentation.names)
        count = np.bincount(seg, minlength=k)
        churned = np.bincount(seg, weights=churn, minlength=k)
        n_active = np.bincount(seg, weights=active, minlength=k)

        def per(weights):
            return np.bincount(seg, weights=weights, minlength=k)

        static = a.segment_profiles.set_index("name")
        segments = []
        for i, name in enumerate(a.segmentation.names):
            lo, hi = kpis.wilson_interval(int(churned[i]), int(count[i]))
            act = n_active[i]
            segments.append({
                "name": name, "n": int(count[i]), "churned": int(churned[i]),
                "share": _num(count[i] / max(len(churn), 1)),
                "rate": _num(churned[i] / count[i]) if count[i] else None,
                "lo": _num(lo), "hi": _num(hi), "group": name,
                "arpu": _num(per(monthly * active)[i] / act) if act else None,
                "clv": _num(per(clv * active)[i] / act) if act else None,
                "monthly_revenue": _num(per(monthly * active)[i]),
                "revenue_at_risk": _num(per(proba * monthly * active)[i]),
                "mean_risk": _num(per(proba)[i] / count[i]) if count[i] else None,
                "outliers": int(static.loc[name, "outliers"]),
                "rule": a.segmentation.rules[i],
                "distinguishing": [str(x) for x in static.loc[name, "distinguishing"]],
            })
        tiers = self.array(TIER)[rows]
        heat = np.zeros((k, len(kpis.TIERS)), dtype=int)
        np.add.at(heat, (seg, tiers), 1)
        result = {
            "error": None, "segments": segments, "k": a.segmentation.k,
            "silhouette": {int(x): _num(v) for x, v in a.segmentation.silhouette.items()},
            "inertia": {int(x): _num(v) for x, v in a.segmentation.inertia.items()},
            "heat": {"segments": list(a.segmentation.names), "tiers": list(kpis.TIERS),
                     "counts": heat.tolist()},
            "pareto": _num(a.pareto_top20) if a.pareto_top20 is not None else None,
            "clv_settings": {"margin": a.settings.margin,
                             "annual_discount": a.settings.annual_discount,
                             "horizon_months": a.settings.horizon_months},
            "sampled": bool(a.segmentation.sampled),
        }
        return result

    def survival_curves(self, filters: dict | None, by: str = SEGMENT) -> dict:
        """Kaplan-Meier retention of the selection, by a column or ('all') overall."""
        if self.analysis is None or (by != "all" and by not in self.analysis.customers.columns):
            return {}
        keep = self.mask(filters)
        c = self.analysis.customers
        groups = (np.full(int(keep.sum()), "All customers", dtype=object) if by == "all"
                  else c[by].astype(str).to_numpy()[keep])
        curves = km_by_group(c[DURATION].to_numpy()[keep], c[CHURN].to_numpy()[keep], groups,
                             min_size=30)
        return {name: {"month": curve["month"].tolist(), "survival": curve["survival"].tolist(),
                       "lo": curve["lo"].tolist(), "hi": curve["hi"].tolist()}
                for name, curve in curves.items()}

    def risk_value_sample(self, filters: dict | None, size: int = 2500) -> dict:
        """A seeded random sample of the selection for the revenue-vs-risk scatter."""
        if self.analysis is None or SEGMENT not in self.analysis.customers.columns:
            return {"points": []}
        rows = np.flatnonzero(self.mask(filters))
        total = len(rows)
        if total > size:
            rows = np.sort(np.random.default_rng(0).choice(rows, size, replace=False))
        names = self.analysis.segmentation.names
        return {"total": int(total), "points": {
            "probability": self.array(PROBABILITY)[rows].astype(float).round(4).tolist(),
            "monthly": self.array(MONTHLY)[rows].astype(float).round(2).tolist(),
            "segment": [names[i] for i in self.array(SEGMENT)[rows]],
            "customer_id": self.grid_columns()["customer_id"].values[rows].tolist()}}

    # ----- the customers list ---------------------------------------------------------------
    def grid_columns(self) -> dict[str, Column]:
        """The list's columns as numpy arrays (built once)."""
        if self._grid_columns is None:
            c = self.analysis.customers

            def category(column: str) -> Column:
                return Column("category", codes=self.array(column),
                              categories=[str(x) for x in c[column].cat.categories])

            columns = {
                "customer_id": Column("text", values=c[ID].astype(str).to_numpy(dtype=object)),
                "churn_probability": Column("number", values=self.array(PROBABILITY)),
                "risk_tier": category(TIER),
                "status": Column("category", codes=(~self.array(ACTIVE).astype(bool))
                                 .astype(np.int8), categories=["active", "churned"]),
                "tenure_months": Column("number", values=self.array(TENURE)),
                "monthly_charges": Column("number", values=self.array(MONTHLY)),
                "clv": Column("number", values=self.array(CLV)),
                "revenue_at_risk": Column("number", values=(
                    self.array(PROBABILITY).astype(float) * self.array(MONTHLY))),
            }
            if SEGMENT in c.columns:
                columns["segment"] = category(SEGMENT)
            if "Contract" in c.columns:
                columns["contract"] = category("Contract")
            recs = self.analysis.recommendations
            if recs is not None:
                columns["recommended_offer"] = Column(
                    "category", codes=recs[OFFER_NAME].cat.codes.to_numpy(),
                    categories=[str(x) for x in recs[OFFER_NAME].cat.categories])
                columns["expected_profit"] = Column("number", values=recs[PROFIT].to_numpy())
                columns["promo_code"] = Column("text", values=recs[PROMO].to_numpy())
            else:  # no catalogue: empty columns, so sorting or filtering them still works
                n = len(c)
                columns["recommended_offer"] = Column("category", codes=np.zeros(n, np.int8),
                                                      categories=[""])
                columns["expected_profit"] = Column("number", values=np.full(n, np.nan))
                columns["promo_code"] = Column("text", values=np.full(n, "", dtype=object))
            self._grid_columns = columns
        return self._grid_columns

    def selection(self, filters: dict | None, filter_model: dict | None = None,
                  sort_model: list | None = None) -> np.ndarray:
        """Row numbers of the customers the global filters and the grid's own filters keep,
        in the grid's sort order (riskiest first by default). Memoised per request shape."""
        key = json.dumps([filters or {}, filter_model or {}, sort_model or []], sort_keys=True)
        if key in self._selections:
            self._selections.move_to_end(key)
            return self._selections[key]
        columns = self.grid_columns()
        keep = self.mask(filters) & filter_mask(columns, filter_model, len(self.analysis.customers))
        rows = ordered_selection(columns, keep, sort_model, GRID_DEFAULT_SORT)
        self._selections[key] = rows
        if len(self._selections) > SELECTION_MEMO_SIZE:
            self._selections.popitem(last=False)
        return rows

    def grid_page(self, filters: dict | None, request: dict | None) -> dict:
        """One block of the customers grid: {'rowData': [...], 'rowCount': n}."""
        if self.analysis is None or not request:
            return {"rowData": [], "rowCount": 0}
        try:
            rows = self.selection(filters, request.get("filterModel"), request.get("sortModel"))
        except (ValueError, TypeError):
            return {"rowData": [], "rowCount": 0}
        start = max(int(request.get("startRow") or 0), 0)
        end = min(max(int(request.get("endRow") or start + 100), start), start + 1000)
        page = customer_list(self.analysis, rows[start:end])
        return {"rowData": page.to_dict("records"), "rowCount": int(len(rows))}

    def customer_detail(self, customer_id: str) -> dict | None:
        """One customer's profile, risk, CLV and reasons (None when the id is unknown)."""
        if self.analysis is None:
            return None
        ids_ = self.grid_columns()["customer_id"].values
        hits = np.flatnonzero(ids_ == str(customer_id))
        if not len(hits):
            return None
        row = int(hits[0])
        listed = customer_list(self.analysis, np.array([row])).iloc[0].to_dict()
        c = self.analysis.customers.iloc[row]
        proba = self.array(PROBABILITY)
        profile = [(feature_label(f), str(c[f]) if not isinstance(c[f], float)
                    else f"{c[f]:,.2f}".rstrip("0").rstrip("."))
                   for f in self.analysis.features]
        # Unrounded, so the header and the what-if show the same percentage.
        listed["churn_probability"] = float(proba[row])
        return {**{k: (v if not isinstance(v, float) else _num(v)) for k, v in listed.items()},
                "row": row, "churned": bool(c[CHURN]), "active": bool(c[ACTIVE]),
                "percentile": _num(100 * (proba < proba[row]).mean()),
                "profile": profile, "waterfall": self._waterfall(row),
                "offer": self.offer_of(row)}

    def offer_of(self, row: int) -> dict | None:
        """The recommended offer of one customer (None without a catalogue)."""
        recs = self.analysis.recommendations
        if recs is None:
            return None
        r = recs.iloc[row]
        offer_id = str(r[OFFER])
        offer = None if offer_id == NO_OFFER else self.catalogue.get(offer_id)
        return {"id": offer_id, "name": str(r[OFFER_NAME]), "profit": _num(r[PROFIT]),
                "p1": _num(r[P_WITH_OFFER]), "cost": _num(r[COST]),
                "promo_code": str(r[PROMO]),
                "changes": dict(offer.changes) if offer else {},
                "discount": offer.discount if offer else 0.0,
                "months": offer.months if offer else 0,
                "one_off_cost": (offer.one_off_cost + offer.monthly_cost * offer.months)
                if offer else 0.0,
                "acceptance": offer.acceptance if offer else None,
                "description": offer.description if offer else ""}

    # ----- what-if and campaigns --------------------------------------------------------------
    def whatif_spec(self, row: int | None = None) -> dict:
        """Actionable features with their choices (and one customer's current values), the
        frozen features, and the default assumptions."""
        a = self.analysis
        c = a.customers
        actionable = []
        for feature in actionable_features(a):
            current = str(c[feature].iloc[row]) if row is not None else None
            choices = [str(x) for x in c[feature].cat.categories
                       if not (feature in ADD_ONS and x == NO_INTERNET)]
            actionable.append({"feature": feature, "label": feature_label(feature),
                               "choices": choices, "current": current,
                               "locked": current == NO_INTERNET})
        frozen = [{"feature": f, "label": feature_label(f),
                   "value": (describe_value(f, c[f].iloc[row]) if row is not None else None)}
                  for f in frozen_features(a)]
        return {"actionable": actionable, "frozen": frozen, "assumptions": {
            "margin": a.settings.margin,
            "acceptance": 0.3,
            "contact_cost": self.catalogue.contact_cost if self.catalogue else 5.0}}

    def simulate_customer(self, row: int, scenario: Scenario) -> dict:
        """One customer's what-if (ValueError on an invalid scenario); the moved reasons get
        plain-language labels."""
        result = simulate_customer(self.analysis, row, scenario)
        for item in result["reasons_moved"]:
            item["label"] = feature_label(item["feature"])
        return result

    def offers_for(self, row: int) -> list[dict]:
        """Catalogue offers this customer is eligible for (id and name)."""
        if self.catalogue is None:
            return []
        frame = self.analysis.customers.iloc[[row]]
        return [{"id": o.id, "name": o.name} for o in self.catalogue.offers
                if eligible_mask(frame, o)[0]]

    def preset_inputs(self, offer_id: str | None, current: dict, input_ids: list[dict],
                      assumption_ids: list[dict], assumption_values: list) -> tuple[list, list]:
        """The what-if inputs' new values for an offer, in the pattern-matching ids' order;
        the acceptance assumption becomes the offer's, the other assumptions stay."""
        values = self.preset_values(offer_id, current)
        inputs = [values.get(i["feature"]) for i in input_ids]
        assumptions = [values["acceptance"] if i["name"] == "acceptance" and
                       values.get("acceptance") is not None else v
                       for i, v in zip(assumption_ids, assumption_values)]
        return inputs, assumptions

    def preset_values(self, offer_id: str | None, current: dict) -> dict:
        """What-if input values for a catalogue offer (the current values when None)."""
        values = {f: (None if v == NO_INTERNET else v) for f, v in current.items()}
        values.update(discount=0, months=0, other_cost=0, acceptance=None)
        if not offer_id or self.catalogue is None:
            return values
        offer = self.catalogue.get(offer_id)
        for feature, value in offer.changes.items():
            if current.get(feature) != NO_INTERNET:  # add-ons stay locked without internet
                values[feature] = str(value)
        values.update(discount=round(100 * offer.discount), months=offer.months,
                      other_cost=round(offer.one_off_cost + offer.monthly_cost * offer.months,
                                       2),
                      acceptance=round(100 * offer.acceptance))
        return values

    def simulate_selection(self, filters: dict | None, scenario: Scenario) -> dict:
        """The group what-if; above WHATIF_MAX_ROWS affected customers it is estimated from a
        seeded random sample (about 1 s per change at a million customers, not 4)."""
        rows = np.flatnonzero(self.mask(filters))
        return simulate_selection(self.analysis, rows, scenario, max_rows=WHATIF_MAX_ROWS)

    def campaign(self, filters: dict | None, capacity: int | None) -> dict:
        """Targeting for the selection: the best offer per active customer, how many to contact
        (all with a positive expected profit, or the top N for a capacity), the gains curve
        and the offer mix."""
        a = self.analysis
        recs = a.recommendations
        if recs is None:
            return {"error": self.catalogue_error or "No offer catalogue loaded."}
        keep = self.mask(filters) & self.array(ACTIVE).astype(bool)
        profit = recs[PROFIT].to_numpy(dtype=float)
        plan = targeting(profit[keep], capacity=capacity)
        codes = recs[OFFER].cat.codes.to_numpy()
        positive = keep & (profit > 0)
        names = {o.id: o.name for o in self.catalogue.offers}
        mix = []
        for code, offer_id in enumerate(recs[OFFER].cat.categories):
            chosen = positive & (codes == code)
            if offer_id != NO_OFFER and chosen.any():
                mix.append({"offer": names.get(offer_id, offer_id), "n": int(chosen.sum()),
                            "profit": _num(profit[chosen].sum()),
                            "cost": _num(recs[COST].to_numpy(dtype=float)[chosen].sum())})
        mix.sort(key=lambda item: -item["n"])
        return {"error": None, "active": int(keep.sum()), "plan": plan, "mix": mix,
                "contact_cost": self.catalogue.contact_cost,
                "offers": [{"id": o.id, "name": o.name, "acceptance": o.acceptance,
                            "description": o.description} for o in self.catalogue.offers],
                "catalogue": self.catalogue.source}

    def score_spec(self) -> list[dict]:
        """The fields of the score form: categories (most common first selected) and numeric
        ranges with the median as the starting value. Built once: the form's page asks for it
        on every load."""
        if self._score_spec is not None:
            return self._score_spec
        a = self.analysis
        c = a.customers
        fields = []
        for feature in a.features:
            series = c[feature]
            if feature in a.categorical:
                counts = series.value_counts()
                fields.append({"feature": feature, "label": feature_label(feature),
                               "kind": "category",
                               "choices": [str(x) for x in series.cat.categories],
                               "default": str(counts.index[0])})
            else:
                values = series.to_numpy(dtype=float)
                fields.append({"feature": feature, "label": feature_label(feature),
                               "kind": "number", "min": _num(np.nanmin(values)),
                               "max": _num(np.nanmax(values)),
                               "default": _num(np.round(np.nanmedian(values), 2)),
                               "integer": bool(np.all(np.mod(values[~np.isnan(values)], 1)
                                                      == 0))})
        self._score_spec = fields
        return fields

    def _waterfall(self, row: int, top: int = 8) -> dict:
        """Base rate, the largest SHAP contributions in probability points (the rest summed
        as 'other features'), and the prediction they add up to."""
        a = self.analysis
        points = probability_points(a.shap_values[row:row + 1], a.shap_base)[0].astype(float)
        order = np.argsort(-np.abs(points))
        c = a.customers.iloc[row]
        items = [{"label": describe_value(a.features[j], c[a.features[j]]),
                  "points": float(points[j])} for j in order[:top]]
        rest = order[top:]
        if len(rest):
            items.append({"label": f"{len(rest)} other features",
                          "points": float(points[rest].sum())})
        base = 100 / (1 + np.exp(-a.shap_base))
        prediction = float(100 * self.array(PROBABILITY)[row])
        if (a.calibration or {}).get("applied"):
            # SHAP adds up to CatBoost's own score; the served score is recalibrated.
            raw = base + float(points.sum())
            items.append({"label": f"Calibration ({a.calibration['method']})",
                          "points": prediction - raw})
        return {"base": float(base), "items": items, "prediction": prediction}

    def search_ids(self, text: str, limit: int = 20) -> list[str]:
        """Customer ids starting with (or else containing) the typed text."""
        if self.analysis is None or not text:
            return []
        column = self.grid_columns()["customer_id"]
        text = text.strip().lower()
        lower = column.lower()
        starts = np.flatnonzero(np.char.startswith(lower, text))
        contains = np.flatnonzero(np.char.find(lower, text) >= 0)
        rows = list(dict.fromkeys([*starts[:limit], *contains[:limit]]))[:limit]
        return column.values[rows].tolist()

    def describe_filters(self, filters: dict | None, filter_model: dict | None = None) -> str:
        """The filters in words, for the export's first line."""
        parts = [f"{FILTER_LABELS.get(k, k)} = {' or '.join(v)}"
                 for k, v in (filters or {}).items() if k != "tenure" and v]
        if (filters or {}).get("tenure"):
            lo, hi = filters["tenure"]
            parts.append(f"tenure {lo}-{hi} months")
        for column, model in (filter_model or {}).items():
            conditions = model.get("conditions", [model]) if isinstance(model, dict) else []
            text = f" {model.get('operator', 'AND')} ".join(
                f"{c.get('type')} {c.get('filter', '')}"
                + (f"-{c['filterTo']}" if c.get("filterTo") is not None else "")
                for c in conditions)
            parts.append(f"{column} {text}".strip())
        return "; ".join(parts) or "none"

    def campaign_rows(self, filters: dict | None, capacity: int | None) -> np.ndarray:
        """Active customers of the selection with a positive expected profit, best first,
        cut to the capacity."""
        profit = self.analysis.recommendations[PROFIT].to_numpy(dtype=float)
        keep = self.mask(filters) & self.array(ACTIVE).astype(bool) & (profit > 0)
        rows = np.flatnonzero(keep)
        rows = rows[np.argsort(-profit[rows], kind="stable")]
        return rows if capacity is None else rows[:max(int(capacity), 0)]

    def export_file(self, filters: dict | None, filter_model: dict | None,
                    sort_model: list | None, fmt: str, folder: str,
                    campaign: dict | None = None) -> tuple[str, int]:
        """Write the whole filtered list (not just the visible page) to `folder`; returns the
        file path and the number of customers. With `campaign` the campaign list: customers
        worth contacting, highest expected profit first, up to the capacity."""
        if campaign is not None and self.analysis.recommendations is not None:
            capacity = campaign.get("capacity")
            rows = self.campaign_rows(filters, None if capacity is None else int(capacity))
            limit = f"top {int(capacity):,} by capacity" if capacity is not None else \
                "all with a positive expected profit"
            note = (f"ChurnLens campaign list (model-implied offers); {self.analysis.source}; "
                    f"filters: {self.describe_filters(filters)}; {limit}; "
                    f"{len(rows):,} customers, highest expected profit first")
            path = f"{folder}/churnlens-campaign.{fmt}"
        else:
            rows = self.selection(filters, filter_model, sort_model)
            note = (f"ChurnLens at-risk list; {self.analysis.source}; filters: "
                    f"{self.describe_filters(filters, filter_model)}; {len(rows):,} customers")
            path = f"{folder}/churnlens-at-risk.{fmt}"
        writer = write_excel if fmt == "xlsx" else write_csv
        writer(self.analysis, rows, path, note)
        return path, int(len(rows))

    def evaluation(self) -> dict | None:
        """The model's out-of-fold metrics and data-quality report (for the Data page)."""
        if self.analysis is None:
            return None
        result = self.analysis.evaluation()
        result["quality"] = self.analysis.quality
        result["train_rows"] = self.analysis.train_rows
        result["settings"] = self.analysis.settings.as_dict()
        result["hazard"] = self.analysis.hazard
        result["features"] = {"categorical": self.analysis.categorical,
                              "numeric": self.analysis.numeric}
        result["extraction_date"] = self.analysis.extraction_date
        return result

    # ----- the Model page ---------------------------------------------------------------------
    def model_view(self) -> dict | None:
        """Out-of-fold curves of every model, reliability before/after calibration, deciles,
        metrics, SHAP importance and the data-quality panel (computed once)."""
        if self.analysis is None:
            return None
        if "model_view" not in self._memo:
            self._memo["model_view"] = self._model_view()
        return self._memo["model_view"]

    def _model_view(self) -> dict:
        a = self.analysis
        cv = a.cv
        y = cv.y
        p = cv.oof["catboost"]
        summary = cv.summary()
        customers = a.customers
        active = self.array(ACTIVE).astype(bool)
        clv = self.array(CLV).astype(float)
        quality = dict(a.quality)
        labelled = customers[CHURN].to_numpy()
        missing = {f: int(customers[f].isna().sum()) for f in a.features}
        importance = self._shap_importance()
        return {
            "models": {name: {"roc": roc_points(y, cv.oof[name]),
                              "pr": pr_points(y, cv.oof[name]),
                              "metrics": summary[name]} for name in cv.oof},
            "calibration": a.calibration,
            "deciles": deciles(y, p),
            # The highest threshold that catches at least this share of churners.
            "recall_presets": {str(r): threshold_for_recall(y, p, r)
                               for r in (0.6, 0.7, 0.8, 0.9)},
            "cv": {"rows": cv.n_rows, "folds": cv.n_splits, "sampled": cv.sampled,
                   "threshold": cv.threshold, "base_rate": float(np.mean(y))},
            "leakage": a.leakage,
            "backtest": a.backtest,
            "importance": importance,
            "defaults": {"missed_cost": _num(clv[active].mean()) if active.any() else 0.0,
                         "false_alarm_cost": self._false_alarm_cost(),
                         "tier_high": a.settings.tier_high},
            "quality": {**quality, "class_balance": {"churned": int(labelled.sum()),
                                                     "stayed": int(len(labelled)
                                                                   - labelled.sum())},
                        "missing_by_column": missing},
        }

    def _false_alarm_cost(self) -> float:
        """Contact cost + the mean cost of the offers recommended (what a wasted contact
        costs); the contact cost alone without a catalogue."""
        if self.catalogue is None or self.analysis.recommendations is None:
            return 5.0
        recs = self.analysis.recommendations
        paid = recs[PROFIT].to_numpy(dtype=float) > 0
        mean_offer = float(recs[COST].to_numpy(dtype=float)[paid].mean()) if paid.any() else 0.0
        return round(self.catalogue.contact_cost + mean_offer, 2)

    def _shap_importance(self) -> list[dict]:
        """Mean |SHAP| per feature in probability points (on up to 200k customers)."""
        points = self._points_sample()[1]
        mean_abs = np.abs(points).mean(axis=0)
        order = np.argsort(-mean_abs)
        return [{"feature": self.analysis.features[j],
                 "label": feature_label(self.analysis.features[j]),
                 "value": float(mean_abs[j])} for j in order]

    def _points_sample(self, size: int = 200_000) -> tuple[np.ndarray, np.ndarray]:
        """(rows, SHAP in probability points) for a seeded sample of customers."""
        if self._points is None:
            n = len(self.analysis.customers)
            rows = np.arange(n) if n <= size else np.sort(
                np.random.default_rng(0).choice(n, size, replace=False))
            self._points = (rows, probability_points(self.analysis.shap_values[rows],
                                                     self.analysis.shap_base))
        return self._points

    def threshold_view(self, threshold: float, missed_cost: float | None = None,
                       false_alarm_cost: float | None = None) -> dict:
        """Confusion matrix (out-of-fold) at a threshold, customers it would flag today, and
        the cost curve with its cheapest threshold."""
        a = self.analysis
        y, p = a.cv.y, a.cv.oof["catboost"]
        defaults = self.model_view()["defaults"]
        missed = defaults["missed_cost"] if missed_cost is None else float(missed_cost)
        alarm = defaults["false_alarm_cost"] if false_alarm_cost is None \
            else float(false_alarm_cost)
        active = self.array(ACTIVE).astype(bool)
        proba = self.array(PROBABILITY)
        return {"confusion": confusion(y, p, threshold),
                "flagged_active": int((active & (proba >= threshold)).sum()),
                "active": int(active.sum()),
                "cost": cost_curve(y, p, missed, alarm)}

    def set_tier_high(self, threshold: float, medium: float | None = None) -> None:
        """Make `threshold` the High-tier cut-off for this session (tiers recomputed; every
        memoised view is dropped). Medium stays where it was unless that is not below the new
        cut-off, then it becomes half of it."""
        a = self.analysis
        if medium is None:
            medium = (a.settings.tier_medium if a.settings.tier_medium < threshold
                      else round(threshold / 2, 4))
        a.settings = replace(a.settings, tier_high=float(threshold), tier_medium=medium)
        a.customers[TIER] = pd.Categorical(
            kpis.assign_tiers(a.customers[PROBABILITY].to_numpy(), threshold, medium),
            categories=list(kpis.TIERS))
        self._memo.clear()
        self._selections.clear()
        self._arrays.pop(TIER, None)
        self._grid_columns = None

    def beeswarm(self, top: int = 10, size: int = 1500) -> dict:
        """SHAP points of the top features for a seeded sample of customers, with each
        value's position in its feature's range (0-1) for the colour."""
        rows, points = self._points_sample()
        pick = np.sort(np.random.default_rng(1).choice(len(rows), min(size, len(rows)),
                                                       replace=False))
        c = self.analysis.customers.iloc[rows[pick]]
        features = [item["feature"] for item in self.model_view()["importance"][:top]]
        out = []
        for feature in features:
            j = self.analysis.features.index(feature)
            series = c[feature]
            if feature in self.analysis.categorical:
                codes = series.cat.codes.to_numpy().astype(float)
                colour = codes / max(len(series.cat.categories) - 1, 1)
                text = series.astype(str).tolist()
            else:
                v = series.to_numpy(dtype=float)
                colour = pd.Series(v).rank(pct=True).to_numpy()
                text = [f"{x:,.4g}" for x in v]
            out.append({"feature": feature, "label": feature_label(feature),
                        "points": points[pick, j].astype(float).round(3).tolist(),
                        "colour": np.nan_to_num(colour, nan=0.5).round(3).tolist(),
                        "text": text})
        return {"features": out, "n": int(len(pick))}

    def dependence(self, feature: str, colour_by: str | None, size: int = 3000) -> dict:
        """One feature's value against its SHAP points, coloured by a second feature."""
        a = self.analysis
        rows, points = self._points_sample()
        pick = np.sort(np.random.default_rng(2).choice(len(rows), min(size, len(rows)),
                                                       replace=False))
        c = a.customers.iloc[rows[pick]]
        j = a.features.index(feature)
        out = {"feature": feature, "label": feature_label(feature),
               "categorical": feature in a.categorical,
               "x": (c[feature].astype(str).tolist() if feature in a.categorical
                     else c[feature].to_numpy(dtype=float).round(3).tolist()),
               "y": points[pick, j].astype(float).round(3).tolist(), "colour": None}
        if colour_by and colour_by in a.features:
            series = c[colour_by]
            out["colour_label"] = feature_label(colour_by)
            if colour_by in a.categorical:
                out["colour"] = series.astype(str).tolist()
                out["colour_categorical"] = True
            else:
                out["colour"] = series.to_numpy(dtype=float).round(3).tolist()
                out["colour_categorical"] = False
        return out

    def churn_by_feature(self, feature: str) -> list[dict]:
        """Churn rate with 95% intervals by decile (or category) of one feature, over the
        labelled customers."""
        c = self.analysis.customers
        return churn_by_bins(c[feature], c[CHURN].to_numpy(),
                             categorical=feature in self.analysis.categorical)

    def feature_choices(self) -> list[dict]:
        return [{"label": feature_label(f), "value": f} for f in self.analysis.features]

    def drift(self) -> dict:
        """PSI of each feature: the refreshed file (--compare) scored by the current model
        against the data the model was trained on."""
        if not self.settings.compare_path:
            return {"available": False}
        if "drift" not in self._memo:
            try:
                self._memo["drift"] = {"available": True, "error": None, **compare_file(
                    self.analysis, self.settings.compare_path, self.settings.as_of)}
            except ChurnLensError as exc:
                return {"available": True, "error": str(exc)}
        return self._memo["drift"]

    def customer_count(self) -> int:
        return 0 if self.analysis is None else int(len(self.analysis.customers))


def _field(values: dict, key: str, label: str, low: float, high: float | None = None,
           empty: float | None = None) -> float:
    """A number typed into a what-if input, checked in the units the page shows; an empty
    input is `empty` (ValueError when None)."""
    value = values.get(key)
    if value in (None, ""):
        if empty is None:
            raise ValueError(f"{label} needs a number")
        return empty
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{label} must be a number (got {value!r})") from None
    if not math.isfinite(number) or number < low or (high is not None and number > high):
        bound = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
        raise ValueError(f"{label} must be {bound} (got {number:g})")
    return number


def scenario_from(input_ids: list[dict], input_values: list, assumption_ids: list[dict],
                  assumption_values: list, current: dict | None = None) -> Scenario:
    """A what-if Scenario from the pattern-matching inputs: a feature changes when it has a
    value other than the customer's current one; percentages become fractions. ValueError
    names the input (in the page's units) when a number is missing or out of range."""
    values = {i["feature"]: v for i, v in zip(input_ids, input_values)}
    assumptions = {i["name"]: v for i, v in zip(assumption_ids, assumption_values)}
    current = current or {}
    changes = {f: str(v) for f, v in values.items()
               if f not in ("discount", "months", "other_cost") and v not in (None, "")
               and str(v) != current.get(f)}
    discount = _field(values, "discount", "Monthly discount (%)", 0, 90, empty=0.0) / 100
    months = _field(values, "months", "Months", 0, 120, empty=0.0)
    if not months.is_integer():
        raise ValueError(f"Months must be a whole number (got {months:g})")
    return Scenario(changes=changes, discount=discount,
                    months=int(months) if discount > 0 else 0,
                    one_off_cost=_field(values, "other_cost", "Other cost per accepter ($)", 0,
                                        empty=0.0),
                    acceptance=_field(assumptions, "acceptance", "Acceptance (%)", 0, 100) / 100,
                    contact_cost=_field(assumptions, "contact_cost", "Contact cost ($)", 0),
                    margin=_field(assumptions, "margin", "Margin (%)", 1, 100) / 100)


def export_href(fmt: str, filters: dict | None, filter_model: dict | None,
                sort_model: list | None, campaign: dict | None = None) -> str:
    """The link that downloads the current list (served by dashboard/downloads.py); with
    `campaign` ({"capacity": n or None}) the campaign list instead."""
    state = {"filters": filters or {}, "filterModel": filter_model or {},
             "sortModel": sort_model or []}
    if campaign is not None:
        state["campaign"] = campaign
    state = json.dumps(state, separators=(",", ":"))
    return f"/export/{fmt}?state={quote(state)}"


def current() -> Services:
    """The running app's services (callbacks run inside a Flask app context)."""
    return flask.current_app.config[CONFIG_KEY]


__all__ = ["ID", "ScoreInputError", "Services", "current", "scenario_from"]
