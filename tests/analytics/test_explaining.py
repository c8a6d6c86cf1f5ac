"""A large table is served once its SHAP sample is explained; the other rows follow in the
background (analytics/explaining.py). The sample's size is lowered here so that a small
demo is 'large'."""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest

from analytics import explaining
from analytics.export import customer_list
from analytics.pipeline import PROBABILITY, SEGMENT, AnalysisSettings, analyse
from analytics.runner import DataSource, load_or_train, wait_for_background

SETTINGS = AnalysisSettings(baselines=())
SOURCE = DataSource(demo_size=1500, seed=4)
SAMPLE = 400


@pytest.fixture(autouse=True)
def small_sample(monkeypatch):
    monkeypatch.setattr(explaining, "SAMPLE_ROWS", SAMPLE)


@pytest.fixture(scope="module")
def at_once():
    """Explained before serving, as without a background (the CLI)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(explaining, "SAMPLE_ROWS", SAMPLE)
        return analyse(SOURCE.load(), SETTINGS)


def test_the_matrix_explained_in_two_parts_is_the_one_computed_at_once(at_once):
    whole, base = at_once.model.shap_values(at_once.customers)
    np.testing.assert_allclose(at_once.shap_values, whole, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(at_once.shap_base, base, rtol=1e-6)
    # The importance (and the segments' drivers) come from the seeded sample's rows.
    first = explaining.first_rows(len(at_once.customers), SETTINGS.random_state)
    assert len(first) == SAMPLE and len(np.unique(first)) == SAMPLE
    np.testing.assert_allclose(at_once.shap_mean, np.abs(whole[first]).mean(axis=0),
                               rtol=1e-5)
    assert not np.allclose(at_once.shap_mean, np.abs(whole).mean(axis=0), rtol=1e-5)
    assert "_explaining" not in at_once.__dict__


def test_a_table_within_the_sample_is_explained_whole_before_serving():
    assert explaining.first_rows(SAMPLE, 0) is None
    assert len(explaining.first_rows(SAMPLE + 1, 0)) == SAMPLE


def test_readers_wait_for_the_rows_explained_later_and_get_the_same_values(at_once,
                                                                           monkeypatch):
    monkeypatch.setattr(explaining, "DIRECT_ROWS", 10)   # the whole list: more than a few
    later = analyse(SOURCE.load(), SETTINGS, explain_later=True)
    pending = later.__dict__["_explaining"]
    assert "shap_values" not in later.__dict__ and not pending.done.is_set()
    # What serves first is already the same: scores, segments, importance.
    np.testing.assert_array_equal(later.customers[PROBABILITY], at_once.customers[PROBABILITY])
    assert list(later.customers[SEGMENT]) == list(at_once.customers[SEGMENT])
    np.testing.assert_array_equal(later.shap_mean, at_once.shap_mean)

    got = {}
    reader = threading.Thread(target=lambda: got.update(
        reasons=customer_list(later, np.arange(len(later.customers)))))
    reader.start()
    reader.join(0.5)
    assert reader.is_alive() and not got      # a grid block waits for the reasons
    pending.run(later.model, later.customers)
    reader.join(60)
    assert not reader.is_alive()
    np.testing.assert_array_equal(later.shap_values, at_once.shap_values)
    np.testing.assert_array_equal(later.shap_base, at_once.shap_base)
    expected = customer_list(at_once, np.arange(len(at_once.customers)))
    for column in ("reason_1", "reason_2", "reason_3", "actionable_reason"):
        assert list(got["reasons"][column]) == list(expected[column])
    assert "_explaining" not in later.__dict__


def test_pickling_a_pending_analysis_waits_and_keeps_the_whole_matrix(at_once):
    later = analyse(SOURCE.load(), SETTINGS, explain_later=True)
    pending = later.__dict__["_explaining"]
    threading.Timer(0.3, pending.run, (later.model, later.customers)).start()
    copy = pickle.loads(pickle.dumps(later))
    assert "_explaining" not in copy.__dict__
    np.testing.assert_array_equal(copy.shap_values, at_once.shap_values)


def test_a_failed_explanation_is_reported_and_the_scores_stay_served():
    later = analyse(SOURCE.load(), SETTINGS, explain_later=True)
    said = []

    class Broken:
        categorical, numeric = later.model.categorical, later.model.numeric

        def shap_values(self, frame):
            raise MemoryError("no room for the SHAP lists")

    later.__dict__["_explaining"].run(Broken(), later.customers, said.append)
    assert said == ["SHAP reasons not computed: MemoryError: no room for the SHAP lists"]
    assert later.customers[PROBABILITY].notna().all()
    with pytest.raises(RuntimeError, match="could not be computed .*MemoryError"):
        _ = later.shap_values


def test_a_background_start_serves_at_once_and_caches_the_whole_matrix(tmp_path, at_once):
    said = []
    served, cached = load_or_train(SOURCE, SETTINGS, cache_dir=tmp_path,
                                   background_write=True, progress=said.append)
    assert not cached
    assert "explaining the other 1,100 customers' reasons in the background" in said
    np.testing.assert_array_equal(served.shap_values, at_once.shap_values)
    wait_for_background()
    again, cached = load_or_train(SOURCE, SETTINGS, cache_dir=tmp_path)
    assert cached
    np.testing.assert_array_equal(again.shap_values, at_once.shap_values)
    np.testing.assert_array_equal(again.shap_base, at_once.shap_base)


def test_the_background_explanation_starts_when_the_caller_lets_it(tmp_path, at_once):
    """`before_background` (the app: after its first page) runs first; the scores are served
    meanwhile and the reasons wait for it."""
    go, asked = threading.Event(), threading.Event()
    served, _ = load_or_train(SOURCE, SETTINGS, cache_dir=tmp_path, background_write=True,
                              before_background=lambda: (asked.set(), go.wait(60)))
    assert asked.wait(30)
    pending = served.__dict__["_explaining"]
    assert not pending.done.wait(0.5)            # held until the caller lets it start
    np.testing.assert_array_equal(served.customers[PROBABILITY],
                                  at_once.customers[PROBABILITY])
    go.set()
    np.testing.assert_array_equal(served.shap_values, at_once.shap_values)
    wait_for_background()


def test_a_few_rows_are_explained_on_their_own_while_the_matrix_is_pending(at_once):
    """A grid block or a customer's page need not wait for the whole matrix: their rows
    alone get the values the matrix will hold."""
    later = analyse(SOURCE.load(), SETTINGS, explain_later=True)
    pending = later.__dict__["_explaining"]
    first = explaining.first_rows(len(later.customers), SETTINGS.random_state)
    rest = np.setdiff1d(np.arange(len(later.customers)), first)
    rows = np.concatenate([rest[:60], first[:40], rest[-3:]])   # fold and final models
    assert len(set(later.customers["scored_by"].to_numpy()[rows])) > 1   # several models
    values, base = explaining.shap_rows(later, rows)
    assert not pending.done.is_set()                             # nothing waited
    np.testing.assert_array_equal(values, at_once.shap_values[rows])
    np.testing.assert_array_equal(base, at_once.shap_base[rows])
    listed = customer_list(later, rows)                          # what a grid block reads
    expected = customer_list(at_once, rows)
    assert list(listed["reason_1"]) == list(expected["reason_1"])
    assert not pending.done.is_set()
    with pytest.MonkeyPatch.context() as patch:                  # many rows: the matrix
        patch.setattr(explaining, "DIRECT_ROWS", 10)
        threading.Timer(0.3, pending.run, (later.model, later.customers)).start()
        values, _ = explaining.shap_rows(later, rows)
    assert pending.done.is_set()
    np.testing.assert_array_equal(values, at_once.shap_values[rows])
