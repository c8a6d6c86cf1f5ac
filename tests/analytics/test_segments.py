"""Behavioural segments: hand-built groups, hand-computed profiles, determinism, edge cases."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import silhouette_score

from analytics.loaders import load_demo
from analytics.segments import (HIGH_RISK, LOW_RISK, STABLE_RISK, Segmentation, _name_segments,
                                _silhouette, behaviour_matrix, humanise, segment_customers,
                                segment_profiles)

# Three obvious groups, by hand: (tenure, monthly charges, churn probability).
# Overall means: probability 0.35, charges 63.3, tenure 34. So C (110 >= 1.15 x 63.3) is
# High-Value, B (70 >= 1.3 x 34, risk 0.14x) Loyal, A (tenure 2 <= 0.6 x 34) New, and A's
# risk (0.8 = 2.29x the overall, >= 1.25x) puts "High-Risk" in front.
GROUPS = {"A": (2.0, 60.0, 0.8), "B": (70.0, 20.0, 0.05), "C": (30.0, 110.0, 0.2)}
PER_GROUP = 40


def three_groups(extra: list[tuple[float, float, float]] = ()):
    """Canonical columns only; tiny noise; churners are the first round(p x 40) of a group."""
    rng = np.random.default_rng(0)
    rows = []
    for group, (tenure, monthly, p) in GROUPS.items():
        for i in range(PER_GROUP):
            rows.append((group, tenure + rng.normal(0, 0.5), monthly + rng.normal(0, 0.5), p,
                         int(i < round(p * PER_GROUP))))
    rows += [("extra", t, m, p, 0) for t, m, p in extra]
    frame = pd.DataFrame(rows, columns=["group", "tenure_months", "monthly_charges", "p",
                                        "churn"])
    frame.insert(0, "customer_id", [f"c{i}" for i in range(len(frame))])
    frame["churn"] = frame["churn"].astype(np.int8)
    frame["active"] = frame["churn"] == 0
    group, p = frame.pop("group").to_numpy(), frame.pop("p").to_numpy()
    return frame, p, group


@pytest.fixture(scope="module")
def demo():
    frame = load_demo(800, seed=3).customers
    rng = np.random.default_rng(0)
    # A probability that tracks churn, so At-Risk should be the segment that churns most.
    p = np.clip(0.15 + 0.5 * frame["churn"].to_numpy() + rng.normal(0, 0.1, len(frame)), 0, 1)
    return frame, p


def test_three_obvious_groups_are_found_and_named_by_the_rules():
    frame, p, group = three_groups()
    seg = segment_customers(frame, p, random_state=0)
    assert seg.k == 3 and not seg.sampled
    assert seg.features == ["tenure_months", "monthly_charges"]
    name_of = {}
    for g in GROUPS:
        labels = np.unique(seg.labels[group == g])
        assert len(labels) == 1  # every group lands in a single segment
        name_of[g] = seg.names[labels[0]]
    assert name_of == {"A": "High-Risk New", "B": "Loyal", "C": "High-Value"}
    assert seg.labels.dtype == np.int16
    rule = seg.rules[seg.names.index("High-Risk New")]
    assert rule.startswith("High-Risk: mean churn probability 80%, 2.29x the overall 35%")
    assert "New: shortest mean tenure 2.0 months, 0.06x the overall 34" in rule


def test_silhouette_and_inertia_for_every_k_and_the_best_k_wins():
    frame, p, _ = three_groups()
    seg = segment_customers(frame, p)
    assert sorted(seg.silhouette) == sorted(seg.inertia) == list(range(2, 11))
    assert seg.k == max(seg.silhouette, key=seg.silhouette.get)
    # 120 rows < silhouette_sample: the reported score is sklearn's on every customer.
    X, _ = behaviour_matrix(frame)
    assert seg.silhouette[seg.k] == pytest.approx(silhouette_score(X, seg.labels), abs=1e-5)
    assert seg.inertia[2] > seg.inertia[3] > seg.inertia[10]

    seg = segment_customers(frame, p, k_range=[4, 2, 3])
    assert sorted(seg.silhouette) == [2, 3, 4] and seg.k == 3


def test_own_silhouette_equals_sklearn():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4))
    labels = rng.integers(0, 5, 300)
    labels[0] = 9  # a singleton cluster scores 0, as in sklearn
    distances = np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(axis=2))
    assert _silhouette(distances, labels) == pytest.approx(silhouette_score(X, labels),
                                                           abs=1e-10)
    assert np.isnan(_silhouette(distances, np.zeros(300, int)))


def test_same_seed_same_segments_names_unique_and_not_numbers(demo):
    frame, p = demo
    first = segment_customers(frame, p, random_state=5)
    second = segment_customers(frame, p, random_state=5)
    np.testing.assert_array_equal(first.labels, second.labels)
    assert first.names == second.names and first.silhouette == second.silhouette
    assert first.k == max(first.silhouette, key=first.silhouette.get)
    assert len(set(first.names)) == first.k == len(first.rules)
    assert set(np.unique(first.labels)) == set(range(first.k))
    for name, rule in zip(first.names, first.rules):
        assert not name.replace(" ", "").isdigit() and "cluster" not in name.lower()
        assert rule
    assert first.features == ["tenure_months", "monthly_charges", "services",
                              "contract_length", "auto_payment", "paperless_billing"]
    # Segment 0 is the largest.
    sizes = np.bincount(first.labels)
    assert list(sizes) == sorted(sizes, reverse=True)


def test_high_risk_segment_churns_most_on_demo_data(demo):
    frame, p = demo
    seg = segment_customers(frame, p)
    profile = segment_profiles(frame, seg, p, np.ones(len(frame)))
    riskiest = profile.loc[profile["mean_risk"].idxmax()]
    assert riskiest["name"].startswith("High-Risk")
    assert riskiest["churn_rate"] == profile["churn_rate"].max()
    assert riskiest["mean_risk"] == pytest.approx(p[seg.labels == riskiest["segment"]].mean())
    assert profile["size"].sum() == len(frame)
    assert all(1 <= len(d) <= 5 for d in profile["distinguishing"])

    # The columns the pipeline adds (scores, the segment itself) never "distinguish" a segment.
    tier = pd.Categorical(np.where(p > 0.5, "High", "Low"))
    scored = frame.assign(churn_probability=p, risk_tier=tier,
                          segment=pd.Categorical.from_codes(seg.labels, categories=seg.names),
                          segment_outlier=seg.outlier, reason_idx_1=seg.labels * 7)
    again = segment_profiles(scored, seg, p, np.ones(len(frame)))
    assert again["distinguishing"].tolist() == profile["distinguishing"].tolist()


def test_sampled_fit_assigns_everyone_and_is_deterministic(demo):
    frame, p = demo
    first = segment_customers(frame, p, sample_size=300, silhouette_sample=200, random_state=2)
    second = segment_customers(frame, p, sample_size=300, silhouette_sample=200, random_state=2)
    assert first.sampled and len(first.labels) == len(frame)
    np.testing.assert_array_equal(first.labels, second.labels)
    assert first.names == second.names
    assert first.k == max(first.silhouette, key=first.silhouette.get)


def test_a_far_point_is_flagged_not_dropped():
    # One more customer near group C but 12 months further out (the noise is 0.5).
    frame, p, group = three_groups(extra=[(42.0, 110.0, 0.2)])
    seg = segment_customers(frame, p)
    far = len(frame) - 1
    assert len(seg.labels) == len(frame) == len(seg.outlier)
    assert seg.labels[far] == seg.labels[group == "C"][0]
    assert seg.outlier[far]
    assert seg.outlier.sum() <= seg.k  # at most one per 40-customer segment at the 99th pct
    profile = segment_profiles(frame, seg, p, np.zeros(len(frame)))
    assert profile["outliers"].sum() == seg.outlier.sum()


def test_behaviour_matrix_by_hand():
    frame = pd.DataFrame({
        "customer_id": ["a", "b", "c"], "churn": np.int8([0, 1, 0]),
        "active": [True, False, True], "tenure_months": [1.0, 2.0, 3.0],
        "monthly_charges": [10.0, 10.0, 40.0],
        "PhoneService": ["Yes", "Yes", "No"],
        "MultipleLines": ["Yes", "No", "No phone service"],
        "OnlineSecurity": ["Yes", "No internet service", "Yes"],
        "OnlineBackup": ["No", "No internet service", "No"],
        "DeviceProtection": ["No", "No internet service", "No"],
        "TechSupport": ["No", "No internet service", "No"],
        "StreamingTV": ["Yes", "No internet service", "No"],
        "StreamingMovies": ["Yes", "No internet service", "No"],
        "InternetService": ["Fiber optic", "No", "DSL"],
        "Contract": ["Two year", "Month-to-month", "One year"],
        "PaperlessBilling": ["Yes", "No", "Yes"],
        "PaymentMethod": ["Credit card (automatic)", "Electronic check",
                          "Bank transfer (automatic)"],
    })
    for column in frame.columns[5:]:
        frame[column] = frame[column].astype("category")
    X, features = behaviour_matrix(frame)
    assert features == ["tenure_months", "monthly_charges", "services", "contract_length",
                        "auto_payment", "paperless_billing"]
    raw = np.array([[1, 10, 6, 2, 1, 1],    # phone, lines, security, TV, movies, fiber
                    [2, 10, 1, 0, 0, 0],    # phone only
                    [3, 40, 2, 1, 1, 1]],   # security, DSL
                   dtype=float)
    expected = (raw - raw.mean(axis=0)) / raw.std(axis=0)
    assert X.dtype == np.float32
    np.testing.assert_allclose(X, expected, rtol=1e-6)

    X, features = behaviour_matrix(frame[["customer_id", "churn", "active", "tenure_months",
                                          "monthly_charges"]])
    assert features == ["tenure_months", "monthly_charges"] and X.shape == (3, 2)


def test_profiles_by_hand():
    frame = pd.DataFrame({
        "customer_id": list("abcdef"),
        "churn": np.int8([1, 0, 0, 0, 0, 0]),
        "active": [False, True, True, True, True, True],
        "tenure_months": [1.0, 10.0, 20.0, 40.0, 50.0, 60.0],
        "monthly_charges": [100.0, 20.0, 40.0, 50.0, 50.0, 80.0],
        "PhoneService": pd.Categorical(["Yes", "Yes", "No", "Yes", "Yes", "Yes"]),
        "InternetService": pd.Categorical(["Fiber optic"] * 3 + ["No", "No", "DSL"]),
        "Contract": pd.Categorical(["Month-to-month"] * 3 + ["Two year"] * 3),
    })
    p = np.array([0.9, 0.5, 0.1, 0.2, 0.2, 0.2])
    clv = np.array([10.0, 200.0, 400.0, 300.0, 300.0, 600.0])
    seg = Segmentation(labels=np.int16([0, 0, 0, 1, 1, 1]), names=["First", "Second"],
                       rules=["", ""], outlier=np.array([0, 1, 0, 0, 0, 0], bool), k=2,
                       silhouette={}, inertia={}, features=[], sampled=False)
    profile = segment_profiles(frame, seg, p, clv)
    assert list(profile.columns) == [
        "segment", "name", "size", "share", "churn_rate", "churn_lo", "churn_hi", "arpu", "clv",
        "monthly_revenue", "revenue_at_risk", "mean_risk", "mean_tenure", "mean_services",
        "outliers", "distinguishing"]
    first, second = profile.to_dict("records")
    assert (first["segment"], first["name"], first["size"], first["share"]) == (0, "First", 3,
                                                                                 0.5)
    assert first["churn_rate"] == pytest.approx(1 / 3)
    # Wilson 95%, 1 of 3: centre (1/3 + z^2/6) / (1 + z^2/3), half-width as in kpis.
    assert first["churn_lo"] == pytest.approx(0.06149, abs=1e-5)
    assert first["churn_hi"] == pytest.approx(0.79235, abs=1e-5)
    assert first["arpu"] == pytest.approx(30.0)            # (20 + 40) / 2; the churner's 100 out
    assert first["clv"] == pytest.approx(300.0)            # (200 + 400) / 2, active only
    assert first["monthly_revenue"] == pytest.approx(60.0)
    assert first["revenue_at_risk"] == pytest.approx(0.5 * 20 + 0.1 * 40)
    assert first["mean_risk"] == pytest.approx(0.5)
    assert first["mean_tenure"] == pytest.approx(31 / 3)
    assert first["mean_services"] == pytest.approx(5 / 3)  # phone + fiber, twice; fiber once
    assert first["outliers"] == 1
    assert second["churn_rate"] == 0 and second["churn_lo"] == 0
    assert second["churn_hi"] == pytest.approx(0.56151, abs=1e-5)
    assert second["arpu"] == pytest.approx(60.0)
    assert second["revenue_at_risk"] == pytest.approx(0.2 * 180)
    assert second["clv"] == pytest.approx(400.0)
    assert second["mean_services"] == pytest.approx(4 / 3)  # phone each; DSL once
    assert {"feature": "Contract", "label": "Contract", "kind": "category",
            "category": "Two year", "value": 1.0, "overall": 0.5, "unit": ""} \
        in second["distinguishing"]
    tenure = next(f for f in second["distinguishing"] if f["feature"] == "tenure_months")
    assert (tenure["label"], tenure["kind"], tenure["unit"]) == ("Tenure", "mean", "months")
    assert tenure["value"] == pytest.approx(50.0) and tenure["overall"] == pytest.approx(181 / 6)
    assert len(first["distinguishing"]) <= 5


def test_canonical_columns_only_profiles_without_services():
    frame, p, _ = three_groups()
    seg = segment_customers(frame, p)
    profile = segment_profiles(frame, seg, p, np.ones(len(frame)))
    assert "mean_services" not in profile.columns
    assert len(profile) == 3 and profile["size"].tolist() == [40, 40, 40]
    assert profile["share"].sum() == pytest.approx(1.0)
    loyal = profile.set_index("name").loc["Loyal"]
    fact = loyal["distinguishing"][0]
    assert (fact["label"], fact["unit"]) == ("Tenure", "months")
    assert fact["value"] == pytest.approx(70, abs=0.5) and fact["overall"] == pytest.approx(
        34, abs=0.5)


def test_tiny_or_identical_data_gives_one_segment():
    frame, p, _ = three_groups()
    tiny = frame.iloc[:5].reset_index(drop=True)
    seg = segment_customers(tiny, p[:5])
    assert seg.k == 1 and seg.names == ["All customers"] and seg.silhouette == {}
    assert seg.labels.tolist() == [0] * 5
    profile = segment_profiles(tiny, seg, p[:5], np.ones(5))
    assert profile["size"].tolist() == [5] and profile["share"].tolist() == [1.0]

    same = pd.concat([frame.iloc[[0]]] * 30, ignore_index=True)
    seg = segment_customers(same, np.full(30, 0.3))
    assert seg.k == 1 and "distinct" in seg.rules[0] and not seg.outlier.any()

    empty = segment_customers(frame.iloc[:0], np.array([]))
    assert empty.k == 1 and len(empty.labels) == 0


OVERALL = {"risk": 0.30, "monthly": 60.0, "tenure": 30.0}
CUTS = {"tenure": (20.0, 40.0), "monthly": (50.0, 70.0)}


def test_shared_names_take_the_most_distinguishing_free_word_then_numbers():
    # Every segment within 5% of the overall means: no business name passes its threshold,
    # every one is "Steady Mid-Spend" in step 2.
    means = {"risk": np.array([0.31, 0.30, 0.29, 0.30]),
             "monthly": np.array([60.0, 62.0, 58.0, 61.0]),
             "tenure": np.array([30.0, 31.0, 29.0, 30.0])}
    # Segment 3's strongest word (Auto-Pay) is segment 0's, so it takes its next one;
    # segment 2 has no feature 0.5 sd from the overall and keeps the (now free) shared name.
    z = {"auto_payment": np.array([1.0, -1.0, 0.1, 1.0]),
         "paperless_billing": np.array([0.2, 0.3, 0.06, 0.5])}
    names, rules = _name_segments(means, OVERALL, CUTS, z)
    assert names == ["Steady Auto-Pay", "Steady Manual-Pay", "Steady Mid-Spend",
                     "Steady Paperless"]
    assert rules[0].startswith("Steady: mean tenure 30 months: the middle third of customers "
                               "(20 to 40 months); Mid-Spend: mean monthly charges 60")
    assert rules[3].endswith("Paperless instead of 'Mid-Spend' (alike another segment's): "
                             "paperless billing +0.5 sd from the overall mean, the most "
                             "distinguishing feature whose name is free")

    # Nothing sets two segments apart: the last resort is a number.
    same = {key: values[:2] * 0 + values[0] for key, values in means.items()}
    names, _ = _name_segments(same, OVERALL, CUTS, {})
    assert names == ["Steady Mid-Spend", "Steady Mid-Spend 2"]

    # Tenure 60 >= 1.3 x 33 and 10 <= 0.6 x 33: Loyal and New; the last one needs no word.
    means = {key: values[:3] for key, values in means.items()}
    means["tenure"] = np.array([10.0, 31.0, 60.0])
    z = {key: values[:3] for key, values in z.items()}
    names, _ = _name_segments(means, {**OVERALL, "tenure": 33.0}, CUTS, z)
    assert names == ["New", "Steady Mid-Spend", "Loyal"]


def test_risk_words_and_no_stability_word_on_a_high_churn_segment():
    # Risk ratios 1.0, 1.2, 0.5, 1.4, 0.2; all in the middle tenure and spend thirds.
    means = {"risk": np.array([0.30, 0.36, 0.15, 0.42, 0.06]),
             "monthly": np.array([60.0, 61.0, 59.0, 62.0, 58.0]),
             "tenure": np.array([30.0, 31.0, 29.0, 32.0, 28.0])}
    names, rules = _name_segments(means, OVERALL, CUTS, {
        "contract_length": np.array([0.0, 0.0, 0.0, 0.0, 1.0]),
        "paperless_billing": np.array([0.0, 0.0, -1.0, 0.0, 0.0])})
    # 1.2x: "Mid-Tenure", not the stability word "Steady"; 1.4x: "High-Risk"; 0.5x and 0.2x:
    # "Low-Risk" (sharing "Low-Risk Mid-Spend", each takes its own most distinguishing word).
    assert names == ["Steady Mid-Spend", "Mid-Tenure Mid-Spend", "Low-Risk Paper-Billed",
                     "High-Risk Mid-Spend", "Low-Risk Long-Contract"]
    assert "(not 'Steady': mean churn probability 1.20x the overall, above 1.1x)" in rules[1]
    assert rules[3].startswith("High-Risk: mean churn probability 42%, 1.40x the overall 30%")
    # "Steady Mid-Spend" and "Mid-Tenure Mid-Spend" say the same thing (middle tenure and spend
    # thirds): given something that tells them apart, both use it.
    names, _ = _name_segments({key: values[:2] for key, values in means.items()}, OVERALL,
                              CUTS, {"auto_payment": np.array([0.9, -0.8])})
    assert names == ["Steady Auto-Pay", "Mid-Tenure Manual-Pay"]

    # The longest tenure (45 >= 1.3 x 30) but churn 1.2x the overall: not "Loyal" (nobody
    # else passes), and "Long-Tenure", not "Established".
    means = {key: values[:2] for key, values in means.items()}
    means["tenure"] = np.array([30.0, 45.0])
    names, rules = _name_segments(means, OVERALL, CUTS, {})
    assert names == ["Steady Mid-Spend", "Long-Tenure Mid-Spend"]

    # A High-Value segment at high risk says so; Loyal never carries a risk word.
    means = {"risk": np.array([0.45, 0.03]), "monthly": np.array([90.0, 40.0]),
             "tenure": np.array([30.0, 45.0])}
    names, _ = _name_segments(means, OVERALL, CUTS, {})
    assert names == ["High-Risk High-Value", "Loyal"]


STABILITY_WORDS = ("Loyal", "Steady", "Established")


def contradictions(row: pd.Series, overall: dict) -> list[str]:
    """What in a segment's name its numbers contradict (empty when none)."""
    name, r = row["name"], row["mean_risk"] / overall["risk"]
    found = []
    if any(w in name for w in STABILITY_WORDS) and r > STABLE_RISK:
        found.append(f"stability word at {r:.2f}x the overall churn risk")
    if ("High-Risk" in name) != (r >= HIGH_RISK):
        found.append(f"'High-Risk' {'in' if 'High-Risk' in name else 'not in'} the name at "
                     f"{r:.2f}x")
    if "Low-Risk" in name and r > LOW_RISK or r <= LOW_RISK and not (
            "Low-Risk" in name or name == "Loyal"):
        found.append(f"'Low-Risk' wrong at {r:.2f}x")
    if re.search(r"High-(Spend|Value)", name) and row["arpu_all"] <= overall["monthly"]:
        found.append("high spend below the overall")
    if "Low-Spend" in name and row["arpu_all"] >= overall["monthly"]:
        found.append("low spend above the overall")
    if re.search(r"\b(New|Recent)\b", name) and row["mean_tenure"] >= overall["tenure"]:
        found.append("new but tenure above the overall")
    if re.search(r"Loyal|Established|Long-Tenure", name) and \
            row["mean_tenure"] <= overall["tenure"]:
        found.append("long tenure below the overall")
    return found


def near_duplicates(names: list[str]) -> list[tuple[str, str]]:
    """Pairs of names that differ only by a bracketed qualifier or a number suffix."""
    def stem(name):
        return re.sub(r"\s*\(.*?\)|\s+\d+$", "", name).strip()
    return [(a, b) for i, a in enumerate(names) for b in names[i + 1:] if stem(a) == stem(b)]


@pytest.fixture(scope="module")
def demo_7043():
    frame = load_demo(7043, seed=0).customers
    rng = np.random.default_rng(0)
    p = np.clip(0.15 + 0.5 * frame["churn"].to_numpy() + rng.normal(0, 0.1, len(frame)), 0, 1)
    return frame, p


@pytest.mark.parametrize("k_range", [range(2, 11), [10]], ids=["best-k", "k10"])
def test_demo_names_unique_distinct_and_true_to_the_numbers(demo_7043, k_range):
    frame, p = demo_7043
    seg = segment_customers(frame, p, k_range=k_range)
    if list(k_range) == [10]:
        assert seg.k == 10
    assert len(set(seg.names)) == seg.k >= 5
    assert not near_duplicates(seg.names), seg.names
    assert not [n for n in seg.names if re.search(r"[()]|\s\d+$", n)], seg.names
    profile = segment_profiles(frame, seg, p, np.ones(len(frame)))
    monthly = frame["monthly_charges"].to_numpy(float)
    profile["arpu_all"] = [monthly[seg.labels == s].mean() for s in range(seg.k)]
    overall = {"risk": p.mean(), "monthly": monthly.mean(),
               "tenure": frame["tenure_months"].to_numpy(float).mean()}
    wrong = {row["name"]: contradictions(row, overall) for _, row in profile.iterrows()}
    assert not {n: w for n, w in wrong.items() if w}, wrong
    # The riskiest segment says so; no stability word where the observed churn is high.
    assert profile.loc[profile["mean_risk"].idxmax(), "name"].startswith("High-Risk")
    overall_churn = frame["churn"].mean()
    steady = profile[profile["name"].str.contains("|".join(STABILITY_WORDS))]
    assert (steady["churn_rate"] < HIGH_RISK * overall_churn).all(), steady
    # Deterministic.
    assert segment_customers(frame, p, k_range=k_range).names == seg.names


def test_churners_without_clv_are_ignored_in_segment_clv():
    frame, p, group = three_groups()
    seg = segment_customers(frame, p)
    clv = np.where(frame["active"], 100.0 + np.arange(len(frame)), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "mean of empty slice"
        profile = segment_profiles(frame, seg, p, clv)
    for s in range(seg.k):
        kept = (seg.labels == s) & frame["active"].to_numpy()
        assert profile.loc[s, "clv"] == pytest.approx(np.nanmean(clv[kept]))
    everyone_left = frame.assign(active=False, churn=np.int8(1))
    profile = segment_profiles(everyone_left, seg, p, np.full(len(frame), np.nan))
    assert profile["clv"].isna().all() and (profile["revenue_at_risk"] == 0).all()


def test_other_business_columns_give_generic_names_and_facts():
    # A bank-like table: only the canonical columns plus two of its own; no telecom columns.
    rng = np.random.default_rng(4)
    n = 600
    tenure = np.concatenate([rng.normal(4, 2, 200), rng.normal(30, 4, 200),
                             rng.normal(90, 8, 200)]).clip(0)
    monthly = np.concatenate([rng.normal(15, 3, 200), rng.normal(60, 5, 200),
                              rng.normal(30, 4, 200)]).clip(1)
    churn = (rng.random(n) < np.repeat([0.5, 0.2, 0.05], 200)).astype(np.int8)
    frame = pd.DataFrame({"customer_id": [f"b{i}" for i in range(n)], "churn": churn,
                          "active": churn == 0, "tenure_months": tenure,
                          "monthly_charges": monthly,
                          "NumOfProducts": rng.integers(1, 4, n).astype(float),
                          "Geography": pd.Categorical(rng.choice(["FR", "DE", "ES"], n))})
    p = np.clip(0.1 + 0.5 * churn + rng.normal(0, 0.05, n), 0, 1)
    seg = segment_customers(frame, p)
    assert seg.features == ["tenure_months", "monthly_charges"]
    assert len(set(seg.names)) == seg.k and not near_duplicates(seg.names)
    telecom = ("Paper", "Pay", "Contract", "Services", "Engagement")
    assert not [n for n in seg.names if any(w in n for w in telecom)], seg.names
    facts = [f for row in segment_profiles(frame, seg, p, np.ones(n))["distinguishing"]
             for f in row]
    assert {f["label"] for f in facts} <= {"Tenure", "Monthly charges", "Num of products",
                                           "Geography"}


def test_humanise():
    assert humanise("PaymentMethod") == "Payment method"
    assert humanise("num_tickets") == "Num tickets"
    assert humanise("SeniorCitizen") == "Senior citizen"
    assert humanise("customerID") == "Customer ID"


def test_probability_must_match_the_customers():
    frame, p, _ = three_groups()
    with pytest.raises(ValueError, match="probability"):
        segment_customers(frame, p[:-1])
