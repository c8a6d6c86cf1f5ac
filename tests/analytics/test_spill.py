"""Large event tables are cached in entries of their own and read on first use."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pandas as pd
import pytest

from analytics.data import events as ev
from analytics import store as store_module
from analytics.store import ArtifactStore, CacheUnavailable


def _table(rows: int) -> ev.EventTable:
    frame = pd.DataFrame({ev.CUSTOMER: np.arange(rows, dtype=np.int32) % 7,
                          ev.TIME: pd.date_range("2024-01-01", periods=rows, freq="h"),
                          "minutes": np.arange(rows, dtype=float)})
    return ev.EventTable(name="usage", role="events", frame=frame, measures=("minutes",))


@pytest.fixture
def small_spill(monkeypatch):
    monkeypatch.setattr(store_module, "SPILL_ROWS", 100)


def test_a_large_frame_is_its_own_entry_read_on_first_use(tmp_path, small_spill):
    store = ArtifactStore(tmp_path / "cache")
    big, small = _table(500), _table(20)
    store.put("k", {"tables": [big, small]})
    sides = sorted(p.name for p in (tmp_path / "cache" / "artifacts").glob("k-*.pkl"))
    assert len(sides) == 1                       # only the large table is spilled
    got = ArtifactStore(tmp_path / "cache").get("k")["tables"]
    assert not got[0].loaded and got[1].loaded
    assert got[0].rows == 500 and got[0].has("minutes") and not got[0].has(ev.TEXT)
    assert not got[0].loaded                     # rows and columns did not read it
    pd.testing.assert_frame_equal(got[0].frame, big.frame)
    assert got[0].loaded
    pd.testing.assert_frame_equal(got[1].frame, small.frame)


def test_saving_again_keeps_an_unread_part_without_reading_it(tmp_path, small_spill):
    store = ArtifactStore(tmp_path / "cache")
    store.put("k", [_table(300)])
    got = store.get("k")
    store.put("k", got)                          # e.g. the analysis saved after its checks
    assert not got[0].loaded
    again = store.get("k")
    assert again[0].frame[ev.CUSTOMER].tolist() == _table(300).frame[ev.CUSTOMER].tolist()


def test_copies_and_plain_pickles_carry_the_frame(tmp_path, small_spill):
    store = ArtifactStore(tmp_path / "cache")
    store.put("k", [_table(300)])
    got = store.get("k")[0]
    sent = pickle.loads(pickle.dumps(got))       # e.g. to another process: the frame itself
    assert sent.loaded and sent.rows == 300
    pd.testing.assert_frame_equal(sent.frame, _table(300).frame)
    twin = copy.deepcopy(got)                    # shares the read-once handle
    pd.testing.assert_frame_equal(twin.frame, _table(300).frame)


def test_an_entry_body_read_outside_its_store_refuses_its_spilled_part(tmp_path, small_spill):
    store = ArtifactStore(tmp_path / "cache")
    store.put("k", {"ids": np.array([f"C{i}" for i in range(50)], dtype=object),
                    "tables": [_table(300)]})
    body = (tmp_path / "cache" / "artifacts" / "k.pkl").read_bytes()[store_module.HEADER:]
    with pytest.raises(pickle.UnpicklingError, match="only read through its store"):
        pickle.loads(body)                       # the reference is not a way in
    got = store.get("k")
    assert got["ids"].tolist() == [f"C{i}" for i in range(50)]   # inline: strings as such
    assert not got["tables"][0].loaded
    pd.testing.assert_frame_equal(got["tables"][0].frame, _table(300).frame)


def test_a_tampered_or_missing_part_is_refused_not_loaded(tmp_path, small_spill):
    store = ArtifactStore(tmp_path / "cache")
    store.put("k", [_table(300)])
    side = next((tmp_path / "cache" / "artifacts").glob("k-*.pkl"))
    blob = bytearray(side.read_bytes())
    blob[-10] ^= 0xFF
    side.write_bytes(bytes(blob))
    got = ArtifactStore(tmp_path / "cache").get("k")[0]
    with pytest.raises(CacheUnavailable, match="missing or was refused"):
        got.frame
    assert not side.exists()                     # refused and removed, as any bad entry


def test_delete_removes_the_parts(tmp_path, small_spill):
    store = ArtifactStore(tmp_path / "cache")
    store.put("k", [_table(300)])
    store.delete("k")
    assert not list((tmp_path / "cache" / "artifacts").glob("k*.pkl"))


def test_the_shap_matrix_of_a_large_analysis_is_read_on_first_use(tmp_path, small_spill):
    from analytics.pipeline import AnalysisSettings, analyse
    from analytics.runner import DataSource
    analysis = analyse(DataSource(demo_size=600, seed=5).load(),
                       AnalysisSettings(baselines=()))
    importance = analysis.importance()
    np.testing.assert_allclose(list(importance.values())[:3], sorted(
        np.abs(analysis.shap_values).mean(axis=0), reverse=True)[:3], rtol=1e-6)
    store = ArtifactStore(tmp_path / "cache")
    store.put("a", analysis)
    # The matrix and the large event tables, each its own entry: here only the matrix.
    assert len(list((tmp_path / "cache" / "artifacts").glob("a-*.pkl"))) == 1
    got = ArtifactStore(tmp_path / "cache").get("a")
    assert "shap_values" not in got.__dict__
    assert got.importance() == importance        # the first page's drivers: not read
    assert "shap_values" not in got.__dict__
    np.testing.assert_array_equal(got.shap_values, analysis.shap_values)
    assert "shap_values" in got.__dict__         # read once, then an attribute
    store.put("a", got)                          # saved again (after the checks)
    np.testing.assert_array_equal(ArtifactStore(tmp_path / "cache").get("a").shap_values,
                                  analysis.shap_values)
    sent = pickle.loads(pickle.dumps(ArtifactStore(tmp_path / "cache").get("a")))
    np.testing.assert_array_equal(sent.shap_values, analysis.shap_values)
    from analytics.runner import _load
    said = []
    _load(ArtifactStore(tmp_path / "cache"), "a", analysis.settings, said.append)
    assert "(the SHAP matrix read on first use)" in said[0]


def test_a_missing_shap_entry_is_refused_when_read(tmp_path, small_spill):
    from analytics.pipeline import AnalysisSettings, analyse
    from analytics.runner import DataSource
    analysis = analyse(DataSource(demo_size=600, seed=5).load(),
                       AnalysisSettings(baselines=()))
    ArtifactStore(tmp_path / "cache").put("a", analysis)
    got = ArtifactStore(tmp_path / "cache").get("a")
    for part in (tmp_path / "cache" / "artifacts").glob("a-*.pkl"):
        part.unlink()
    with pytest.raises(CacheUnavailable):
        got.shap_values
