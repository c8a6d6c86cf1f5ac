"""The cache store: atomic writes, checksums, corrupt entries rebuilt, warm starts."""

from __future__ import annotations

import pickle

import pytest

from analytics import runner
from analytics.pipeline import AnalysisSettings
from analytics.runner import DataSource, cache_key, load_or_train
from analytics.store import MAGIC, ArtifactStore, make_key

FAST = AnalysisSettings(n_splits=2, baselines=())


def test_round_trip(tmp_path):
    store = ArtifactStore(tmp_path)
    store.put("k", {"a": [1, 2, 3]})
    assert store.get("k") == {"a": [1, 2, 3]}
    assert store.get("missing") is None


def test_corrupt_entry_is_detected_and_removed(tmp_path):
    store = ArtifactStore(tmp_path)
    path = store.put("k", list(range(1000)))
    blob = bytearray(path.read_bytes())
    blob[-10] ^= 0xFF
    path.write_bytes(bytes(blob))
    assert store.get("k") is None
    assert not path.exists()


def test_truncated_entry_is_not_served(tmp_path):
    store = ArtifactStore(tmp_path)
    path = store.put("k", list(range(1000)))
    path.write_bytes(path.read_bytes()[:50])
    assert store.get("k") is None


def test_interrupted_write_leaves_no_entry(tmp_path):
    class Boom:
        def __reduce__(self):
            raise KeyboardInterrupt

    store = ArtifactStore(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        store.put("k", Boom())
    assert store.get("k") is None
    assert list(store.folder.iterdir()) == []


def test_keys_change_with_every_part():
    assert make_key("a", {"x": 1}) == make_key("a", {"x": 1})
    assert make_key("a", {"x": 1}) != make_key("a", {"x": 2})
    assert make_key("a", 1) != make_key("b", 1)


def test_warm_start_loads_without_training(tmp_path, monkeypatch):
    source = DataSource(demo_size=400, seed=1)
    first, cached = load_or_train(source, FAST, cache_dir=tmp_path)
    assert cached is False

    def no_training(*_a, **_k):
        raise AssertionError("the warm start trained again")

    monkeypatch.setattr(runner, "analyse", no_training)
    second, cached = load_or_train(source, FAST, cache_dir=tmp_path)
    assert cached is True
    assert second.customers.equals(first.customers)
    # Other settings are another entry, so they train.
    with pytest.raises(AssertionError, match="trained again"):
        load_or_train(source, AnalysisSettings(n_splits=3, baselines=()), cache_dir=tmp_path)


def test_corrupt_cache_is_rebuilt(tmp_path):
    source = DataSource(demo_size=300, seed=2)
    load_or_train(source, FAST, cache_dir=tmp_path)
    path = ArtifactStore(tmp_path).path(cache_key(source, FAST))
    path.write_bytes(MAGIC + b"0" * 64 + pickle.dumps("garbage"))
    messages = []
    analysis, cached = load_or_train(source, FAST, cache_dir=tmp_path, progress=messages.append)
    assert cached is False and len(analysis.customers) == 300
    assert any("cross-validation" in m for m in messages)
    assert ArtifactStore(tmp_path).get(cache_key(source, FAST)) is not None
