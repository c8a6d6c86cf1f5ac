"""Enrolment rules: the rules file checked key by key, matching on hand-counted masks, dry
runs that write nothing, one transaction per run, one run per rule and data version."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pytest
from sqlalchemy import func, select

from analytics.campaigns import outbox, planner, records, rules, snapshots
from analytics.campaigns.store import CampaignStore
from analytics.campaigns.tables import metadata, rule_runs
from analytics.dataset import ACTIVE, ID
from analytics.errors import ChurnLensError, DataError
from analytics.offers import eligible_mask, load_catalogue
from analytics.pipeline import CLV, PROBABILITY, SEGMENT, TIER
from analytics.recommend import OFFER
from tests.conftest import ROOT

EXAMPLE = ROOT / "data" / "rules.example.toml"
TODAY = date(2025, 3, 1)


@pytest.fixture
def sqlite_store(tmp_path):
    store = CampaignStore.open(f"sqlite:///{tmp_path / 's.db'}")
    yield store
    store.close()


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(ROOT / "data" / "offers.toml")


def write_rules(tmp_path, body: str, settings: str = "batch_size = 40") -> rules.RuleSet:
    path = tmp_path / "rules.toml"
    path.write_text(f"[settings]\n{settings}\n{body}", encoding="utf-8")
    return rules.load_rules(path)


def rule(name="r", **when) -> rules.Rule:
    return rules.Rule(name=name, campaign="Save desk", when=rules.When(**when))


def counts(store) -> dict[str, int]:
    with store.connect() as conn:
        return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar())
                for t in metadata.sorted_tables}


def column(analysis, name):
    return analysis.customers[name].to_numpy()


# --- the rules file ---------------------------------------------------------------------------
def test_the_example_file_loads_with_its_documented_values(catalogue):
    ruleset = rules.load_rules(EXAMPLE, catalogue)
    assert [r.name for r in ruleset.rules] == ["crossed-into-high", "valuable-risers",
                                               "manual-pay-high-risk"]
    first, second, third = ruleset.rules
    assert (first.offer, first.control_share, first.capacity) == ("best", 0.10, 2000)
    assert first.when == rules.When(crossed_into_high=True, not_contacted_days=90)
    assert second.when.min_rise == 0.10 and second.when.min_clv == 500.0
    assert (second.offer, second.control_share, second.horizon_days) == \
        ("upgrade_one_year", 0.20, 90)
    assert not third.enabled and third.when.segment == ("High-Risk Manual-Pay",)
    assert ruleset.outbox.outbox_dir == (ROOT / "data" / "outbox").resolve()
    assert ruleset.outbox.webhook is None and ruleset.outbox.batch_size == 500


RULE = '[[rules]]\nname = "save"\ncampaign = "Save desk"\n'
WHEN = '[rules.when]\ntier = ["High"]\n'


@pytest.mark.parametrize("body, settings, who, key", [
    (RULE + 'colour = "red"\n' + WHEN, "", "rule 'save'", "colour"),
    (RULE + WHEN + "max_age = 3\n", "", "rule 'save'", "when.max_age"),
    (RULE + 'control_share = "ten"\n' + WHEN, "", "rule 'save'", "control_share"),
    (RULE + "control_share = 0.6\n" + WHEN, "", "rule 'save'", "control_share"),
    (RULE + "horizon_days = 2.5\n" + WHEN, "", "rule 'save'", "horizon_days"),
    (RULE + 'offer = "none"\n' + WHEN, "", "rule 'save'", "offer"),
    (RULE + "[rules.when]\n", "", "rule 'save'", "when"),
    (RULE + '[rules.when]\ntier = ["Critical"]\n', "", "rule 'save'", "when.tier"),
    (RULE + "[rules.when]\nmin_rise = 0\n", "", "rule 'save'", "when.min_rise"),
    (RULE + "[rules.when]\ncrossed_into_high = false\n", "", "rule 'save'",
     "when.crossed_into_high"),
    (RULE + "[rules.when]\nnot_contacted_days = \"90\"\n", "", "rule 'save'",
     "when.not_contacted_days"),
    (RULE + "[rules.when]\nsegment = []\n", "", "rule 'save'", "when.segment"),
    (RULE + WHEN + RULE + WHEN, "", "rule 'save'", "name"),
    ('[[rules]]\nname = "no spaces"\ncampaign = "x"\n' + WHEN, "", "rule #1", "name"),
    ('[[rules]]\nname = "c"\n' + WHEN, "", "rule 'c'", "campaign"),
    (RULE + WHEN, "batch_size = 0", "[settings]", "batch_size"),
    (RULE + WHEN, 'webhook = "ftp://example.com/x"', "[settings]", "webhook"),
    (RULE + WHEN, "retry = 3", "[settings]", "retry"),
])
def test_every_mistake_names_the_file_the_rule_and_the_key(tmp_path, body, settings, who,
                                                          key):
    with pytest.raises(DataError) as error:
        write_rules(tmp_path, body, settings)
    message = str(error.value)
    assert str(tmp_path / "rules.toml") in message
    assert who in message and f"'{key}'" in message, message


def test_an_offer_id_is_checked_against_the_catalogue_when_one_is_given(tmp_path, catalogue):
    path = tmp_path / "rules.toml"
    path.write_text(RULE + 'offer = "half_price"\n' + WHEN, encoding="utf-8")
    assert rules.load_rules(path).rules[0].offer == "half_price"   # no catalogue: not checked
    with pytest.raises(DataError, match=r"rule 'save', key 'offer'.*discount_10"):
        rules.load_rules(path, catalogue)


@pytest.mark.parametrize("text, message", [
    (None, "rules file not found"), ("[[rules]\n", "not a valid TOML file"),
    ("[settings]\n", "no rules"), ("[extra]\n" + RULE + WHEN, "unknown top-level table"),
])
def test_a_file_that_is_not_a_rules_file_says_so(tmp_path, text, message):
    path = tmp_path / "rules.toml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        rules.load_rules(path)


# --- matching ---------------------------------------------------------------------------------
def test_conditions_combine_on_active_customers_only(small_analysis):
    a = small_analysis
    active = column(a, ACTIVE).astype(bool)
    high = column(a, TIER).astype(str) == "High"
    p = column(a, PROBABILITY).astype(float)
    rows, note = rules.match(rule(tier=("High",), min_probability=0.6), a, None, None)
    assert note == "" and rows.tolist() == np.flatnonzero(active & high & (p >= 0.6)).tolist()
    assert 0 < len(rows) < int((high & (p >= 0.6)).sum())   # churned customers never match
    clv = column(a, CLV).astype(float)
    rows, _ = rules.match(rule(min_clv=1500.0), a, None, None)
    assert len(rows) == int((active & (clv >= 1500)).sum())
    segment = a.customers[SEGMENT].astype(str).value_counts().index[0]
    rows, _ = rules.match(rule(segment=(segment,), tier=("High", "Medium")), a, None, None)
    in_segment = column(a, SEGMENT).astype(str) == segment
    medium = column(a, TIER).astype(str) == "Medium"
    assert len(rows) == int((active & in_segment & (high | medium)).sum())


def test_an_unknown_segment_matches_nobody_and_says_so(small_analysis):
    rows, note = rules.match(rule(segment=("Martians",)), small_analysis, None, None)
    assert len(rows) == 0 and "no segment 'Martians'" in note


def test_rules_on_the_previous_snapshot(small_analysis, sqlite_store, tmp_path):
    a = small_analysis
    rows, note = rules.match(rule(crossed_into_high=True), a, None, sqlite_store)
    assert len(rows) == 0 and "previous snapshot" in note
    active = column(a, ACTIVE).astype(bool)
    high = column(a, TIER).astype(str) == "High"
    crossed = np.flatnonzero(active & high)[:12]
    rose = np.flatnonzero(active & ~high)[:20]
    before = a.customers.copy()
    before.loc[before.index[crossed], TIER] = "Medium"
    before.loc[before.index[crossed], PROBABILITY] = 0.3       # current >= 0.5: rose >= 20 pts
    before.loc[before.index[rose], PROBABILITY] -= 0.15
    snapshot_id, _ = snapshots.take_snapshot(sqlite_store, replace(a, customers=before), "v0")
    snapshots.take_snapshot(sqlite_store, a, "v1")
    previous = rules.previous_scores(sqlite_store, "v1")
    assert previous.equals(snapshots.snapshot_scores(sqlite_store, snapshot_id))
    assert rules.previous_scores(sqlite_store, "v0") is None
    rows, note = rules.match(rule(crossed_into_high=True), a, previous, sqlite_store)
    assert note == "" and rows.tolist() == crossed.tolist()
    rows, _ = rules.match(rule(min_rise=0.10), a, previous, sqlite_store)
    assert rows.tolist() == sorted(crossed.tolist() + rose.tolist())
    rows, _ = rules.match(rule(min_rise=0.16), a, previous, sqlite_store)
    assert rows.tolist() == crossed.tolist()       # 15 points is not 16
    ruleset = rules.RuleSet((rule(crossed_into_high=True),),
                            outbox.OutboxSettings(tmp_path / "outbox"), "rules.toml")
    [dry] = rules.run_rules(sqlite_store, a, ruleset, "v1", dry_run=True)  # finds v0 itself
    assert dry["matched"] == 12
    [first] = rules.run_rules(sqlite_store, a, ruleset, "v0", dry_run=True)
    assert first["matched"] == 0 and "needs a previous snapshot" in first["note"]


def test_not_contacted_days_leaves_out_recently_treated_only(small_analysis, sqlite_store):
    a = small_analysis
    active = column(a, ACTIVE).astype(bool)
    high = column(a, TIER).astype(str) == "High"
    plan = planner.plan(a, np.flatnonzero(active & high)[:40], 0.25, seed=3)
    records.create_campaign(sqlite_store, records.CampaignSpec(
        name="Earlier", start_date="2025-01-01", data_version="v0"), plan.members)
    treated = set(plan.members.loc[plan.members["arm"] == "treatment", "customer_id"])
    assert len(treated) == 30
    rows, _ = rules.match(rule(tier=("High",), not_contacted_days=90), a, None, sqlite_store)
    ids = set(column(a, ID).astype(str)[rows])
    assert len(rows) == int((active & high).sum()) - 30 and not ids & treated
    later = date.today() + timedelta(days=100)   # the campaign is 100 days old by then
    rows, _ = rules.match(rule(tier=("High",), not_contacted_days=90), a, None, sqlite_store,
                          today=later)
    assert len(rows) == int((active & high).sum())


# --- running ----------------------------------------------------------------------------------
HIGH_RULE = '[[rules]]\nname = "save"\ncampaign = "Save desk"\n[rules.when]\ntier = ["High"]\n'


def test_a_dry_run_says_what_it_would_do_and_writes_nothing(small_analysis, sqlite_store,
                                                            tmp_path):
    ruleset = write_rules(tmp_path, HIGH_RULE)
    before = counts(sqlite_store)
    [result] = rules.run_rules(sqlite_store, small_analysis, ruleset, "v1", dry_run=True,
                               today=TODAY)
    assert counts(sqlite_store) == before and not (tmp_path / "outbox").exists()
    assert result["dry_run"] and result["campaign_id"] is None and result["skipped"] is None
    assert result["note"].startswith(f"would enrol {result['enrolled']}, "
                                     f"{result['held_out']} held out")
    active_high = int((column(small_analysis, ACTIVE).astype(bool)
                       & (column(small_analysis, TIER).astype(str) == "High")).sum())
    assert result["matched"] == active_high
    assert result["enrolled"] == result["matched"] - result["left_out"]
    assert abs(result["held_out"] - 0.10 * result["enrolled"]) <= 1
    assert result["campaign_name"] == f"Save desk · {TODAY.isoformat()}"


def test_a_run_records_campaign_rule_run_and_batches_once(small_analysis, sqlite_store,
                                                          tmp_path):
    a = small_analysis
    ruleset = write_rules(tmp_path, HIGH_RULE)
    dry = rules.run_rules(sqlite_store, a, ruleset, "v1", dry_run=True, today=TODAY)[0]
    [done] = rules.run_rules(sqlite_store, a, ruleset, "v1", today=TODAY, source="demo")
    assert {k: done[k] for k in ("matched", "enrolled", "held_out", "batches")} == \
        {k: dry[k] for k in ("matched", "enrolled", "held_out", "batches")}
    record = records.get_campaign(sqlite_store, done["campaign_id"])
    assert (record["name"], record["rule"], record["data_version"]) == \
        (f"Save desk · {TODAY.isoformat()}", "save", "v1")
    assert record["seed"] == rules.rule_seed("save", "v1") and record["start_date"] == "2025-03-01"
    assert (record["members"], record["control"]) == (done["enrolled"], done["held_out"])
    members = records.campaign_members(sqlite_store, done["campaign_id"])
    treated = members.loc[members["arm"] == "treatment", "customer_id"]
    assert done["batches"] == math.ceil(len(treated) / 40)
    queued = outbox.outbox_status(sqlite_store)
    assert len(queued) == done["batches"] and sum(b["rows"] for b in queued) == len(treated)
    assert {b["status"] for b in queued} == {"pending"}
    after = counts(sqlite_store)
    assert after["rule_runs"] == 1
    [again] = rules.run_rules(sqlite_store, a, ruleset, "v1", today=TODAY)
    assert again["skipped"].startswith("already ran on this data on ")
    assert f"campaign {done['campaign_id']}" in again["skipped"]
    assert again["enrolled"] == 0 and counts(sqlite_store) == after
    [dry_again] = rules.run_rules(sqlite_store, a, ruleset, "v1", dry_run=True, today=TODAY)
    assert dry_again["skipped"] == again["skipped"]
    [refresh] = rules.run_rules(sqlite_store, a, ruleset, "v2", today=TODAY)
    assert refresh["excluded"] == done["enrolled"] and refresh["enrolled"] == 0
    assert refresh["note"].startswith("nobody to enrol") and counts(sqlite_store) == after


def test_a_failure_mid_run_leaves_nothing_behind(small_analysis, sqlite_store, tmp_path,
                                                 monkeypatch):
    ruleset = write_rules(tmp_path, HIGH_RULE)
    before = counts(sqlite_store)

    def broken_queue(*_args):
        raise ChurnLensError("the outbox broke")
    monkeypatch.setattr(outbox, "queue", broken_queue)
    with pytest.raises(ChurnLensError, match="the outbox broke"):
        rules.run_rules(sqlite_store, small_analysis, ruleset, "v1", today=TODAY)
    assert counts(sqlite_store) == before
    monkeypatch.undo()
    [done] = rules.run_rules(sqlite_store, small_analysis, ruleset, "v1", today=TODAY)
    assert done["campaign_id"] is not None and counts(sqlite_store)["rule_runs"] == 1


def test_the_same_rule_on_the_same_data_draws_the_same_arms(small_analysis, tmp_path):
    ruleset = write_rules(tmp_path, HIGH_RULE)
    arms = []
    for name in ("one", "two"):
        store = CampaignStore.open(f"sqlite:///{tmp_path / name}.db")
        [done] = rules.run_rules(store, small_analysis, ruleset, "v1", today=TODAY)
        m = records.campaign_members(store, done["campaign_id"])
        arms.append(dict(zip(m["customer_id"], m["arm"])))
        store.close()
    assert arms[0] == arms[1]
    assert rules.rule_seed("save", "v1") != rules.rule_seed("save", "v2")


def test_rules_run_in_order_and_nobody_is_enrolled_twice(small_analysis, sqlite_store,
                                                         tmp_path):
    a = small_analysis
    body = HIGH_RULE + ('[[rules]]\nname = "risky"\ncampaign = "Risky"\n'
                        "[rules.when]\nmin_probability = 0.3\n")
    ruleset = write_rules(tmp_path, body)
    for dry_run in (True, False):
        first, second = rules.run_rules(sqlite_store, a, ruleset, "v1", dry_run=dry_run,
                                        today=TODAY)
        assert second["excluded"] == first["enrolled"]   # every High one has p >= 0.5
    ids = [set(records.campaign_members(sqlite_store, r["campaign_id"])["customer_id"])
           for r in (first, second)]
    assert not ids[0] & ids[1]


def test_a_rule_with_an_offer_id_gives_every_member_that_offer(small_analysis, sqlite_store,
                                                               tmp_path):
    a = small_analysis
    ruleset = write_rules(tmp_path, '[[rules]]\nname = "upgrade"\ncampaign = "Upgrade"\n'
                          'offer = "upgrade_one_year"\ncontrol_share = 0.2\n'
                          "[rules.when]\nmin_probability = 0.3\n")
    [done] = rules.run_rules(sqlite_store, a, ruleset, "v1", today=TODAY)
    active = column(a, ACTIVE).astype(bool)
    p = column(a, PROBABILITY).astype(float)
    candidates = active & (p >= 0.3)
    eligible = eligible_mask(a.customers, a.catalogue.get("upgrade_one_year")) & candidates
    assert done["matched"] == int(candidates.sum())
    assert done["left_out"] == int((candidates & ~eligible).sum()) > 0
    m = records.campaign_members(sqlite_store, done["campaign_id"])
    assert len(m) == int(eligible.sum()) and set(m["offer"]) == {"upgrade_one_year"}
    assert m["promo_code"].str.startswith("SAVE10-").all() and m["promo_code"].is_unique
    assert m["p1"].notna().all() and (m["p1"] < m["p0"]).mean() > 0.9   # a longer contract
    assert np.allclose(m["acceptance"], 0.25)
    same = a.recommendations[OFFER].astype(str).to_numpy() == "upgrade_one_year"
    codes = dict(zip(column(a, ID).astype(str), a.recommendations["promo_code"]))
    kept = [c for c in m["customer_id"] if same[column(a, ID).astype(str) == c][0]]
    assert all(m.set_index("customer_id").loc[c, "promo_code"] == codes[c] for c in kept)
    record = records.get_campaign(sqlite_store, done["campaign_id"])
    assert record["strata"] == ["tier"] and record["offers"] == ["upgrade_one_year"]
    assert record["target"]["when"] == {"min_probability": 0.3}


def test_disabled_rules_offers_not_in_use_and_capacity(small_analysis, sqlite_store, tmp_path):
    body = ('[[rules]]\nname = "capped"\ncampaign = "Capped"\ncapacity = 25\n' + WHEN
            + '[[rules]]\nname = "off"\ncampaign = "Off"\nenabled = false\n' + WHEN
            + '[[rules]]\nname = "gone"\ncampaign = "Gone"\noffer = "half_price"\n' + WHEN)
    ruleset = write_rules(tmp_path, body)
    capped, off, gone = rules.run_rules(sqlite_store, small_analysis, ruleset, "v1",
                                        dry_run=True, today=TODAY)
    assert capped["enrolled"] == 25 and "capacity 25" in capped["note"]
    assert capped["left_out"] == capped["matched"] - 25
    assert off["skipped"].startswith("disabled in ")
    assert "'half_price' is not in the offer catalogue" in gone["skipped"]


def test_run_counts_match_the_rule_runs_row(small_analysis, sqlite_store, tmp_path):
    ruleset = write_rules(tmp_path, HIGH_RULE)
    [done] = rules.run_rules(sqlite_store, small_analysis, ruleset, "v1", today=TODAY)
    with sqlite_store.connect() as conn:
        row = conn.execute(select(rule_runs)).one()
    assert (row.rule, row.data_version, row.campaign_id) == ("save", "v1", done["campaign_id"])
    assert (row.matched, row.enrolled, row.held_out) == \
        (done["matched"], done["enrolled"], done["held_out"])
    payload = [json.loads(b) for b in _payloads(sqlite_store)]
    ids = {item["customer_id"] for batch in payload for item in batch}
    members = records.campaign_members(sqlite_store, done["campaign_id"])
    assert ids == set(members.loc[members["arm"] == "treatment", "customer_id"])


def _payloads(store):
    from analytics.campaigns.tables import outbox as table
    with store.connect() as conn:
        return [r[0] for r in conn.execute(select(table.c.payload).order_by(table.c.id))]


def test_a_concurrent_run_of_the_same_rule_loses_cleanly(small_analysis, sqlite_store,
                                                         tmp_path, monkeypatch):
    ruleset = write_rules(tmp_path, HIGH_RULE)
    [first] = rules.run_rules(sqlite_store, small_analysis, ruleset, "v1", today=TODAY)
    after = counts(sqlite_store)
    real = rules._earlier_run
    calls = []

    def not_yet(*args):   # the check ran before the other run committed
        calls.append(args)
        return None if len(calls) == 1 else real(*args)
    monkeypatch.setattr(rules, "_earlier_run", not_yet)
    monkeypatch.setattr(rules, "enrolled_customers", lambda _store: set())
    [second] = rules.run_rules(sqlite_store, small_analysis, ruleset, "v1", today=TODAY)
    assert len(calls) == 2 and second["skipped"].startswith("already ran on this data")
    assert second["campaign_id"] == first["campaign_id"] and counts(sqlite_store) == after
