"""The cache store: signed and checksummed entries, atomic writes, locks, warm starts."""

from __future__ import annotations

import fcntl
import os
import stat

import pytest

from analytics import runner, store as store_module
from analytics.pipeline import AnalysisSettings
from analytics.runner import DataSource, cache_key, load_or_train
from analytics.store import ArtifactStore, default_key_path, make_key

FAST = AnalysisSettings(n_splits=2, baselines=())


def test_round_trip(tmp_path):
    store = ArtifactStore(tmp_path / "cache")
    store.put("k", {"a": [1, 2, 3]})
    assert store.get("k") == {"a": [1, 2, 3]}
    assert store.get("missing") is None


def test_the_signing_key_is_private_and_outside_the_cache(tmp_path):
    messages = []
    store = ArtifactStore(tmp_path / "cache", log=messages.append).open()
    assert store.usable and store.writable
    key = tmp_path / "cache.key"
    assert store.key_path == key == default_key_path(tmp_path / "cache")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.stat().st_size == 32
    assert not list((tmp_path / "cache").rglob("*.key"))
    assert any(str(key) in m for m in messages)
    store.put("k", [1])
    # A restart reads the same key, so the entry is served.
    assert ArtifactStore(tmp_path / "cache").get("k") == [1]
    assert key.read_bytes() == store._secret


def test_a_key_others_can_read_is_used_with_a_warning(tmp_path):
    ArtifactStore(tmp_path / "cache").put("k", [1])
    (tmp_path / "cache.key").chmod(0o644)
    messages = []
    assert ArtifactStore(tmp_path / "cache", log=messages.append).get("k") == [1]
    assert any("other users" in m and "chmod 600" in m for m in messages)


def test_an_entry_signed_with_another_key_is_refused(tmp_path):
    ArtifactStore(tmp_path / "cache", key_path=tmp_path / "a.key").put("k", "payload")
    messages = []
    other = ArtifactStore(tmp_path / "cache", key_path=tmp_path / "b.key", log=messages.append)
    assert other.get("k") is None
    assert not other.path("k").exists()
    assert any(str(other.path("k")) in m and "not signed with this cache's key" in m
               for m in messages)


def test_a_key_inside_the_cache_or_too_short_turns_the_cache_off(tmp_path):
    messages = []
    inside = ArtifactStore(tmp_path / "c1", key_path=tmp_path / "c1" / "k.key",
                           log=messages.append).open()
    assert not inside.usable and "inside the cache folder" in messages[-1]
    assert inside.get("k") is None
    with pytest.raises(OSError, match="inside the cache folder"):
        inside.put("k", 1)
    (tmp_path / "short.key").write_bytes(b"abc")
    short = ArtifactStore(tmp_path / "c2", key_path=tmp_path / "short.key",
                          log=messages.append).open()
    assert not short.usable and "3 bytes" in messages[-1]
    assert "results will not be cached" in messages[-1]


def test_corrupt_entry_is_detected_removed_and_named(tmp_path):
    messages = []
    store = ArtifactStore(tmp_path / "cache", log=messages.append)
    path = store.put("k", list(range(1000)))
    blob = bytearray(path.read_bytes())
    blob[-10] ^= 0xFF
    path.write_bytes(bytes(blob))
    assert store.get("k") is None
    assert not path.exists()
    assert any(str(path) in m and "checksum mismatch" in m for m in messages)


def test_truncated_entry_is_not_served(tmp_path):
    messages = []
    store = ArtifactStore(tmp_path / "cache", log=messages.append)
    for size in (50, 2000):
        path = store.put("k", list(range(1000)))
        path.write_bytes(path.read_bytes()[:size])
        assert store.get("k") is None and not path.exists()
    assert any(str(path) in m and "truncated" in m for m in messages)


def _mapped(path) -> bool:
    return str(path) in open("/proc/self/maps").read()


def test_a_large_entry_is_mapped_checked_and_unmapped(tmp_path):
    """Entries of MAP_FROM bytes or more are read through a memory map: the same values, a
    flipped byte or a cut still refused, and nothing left mapped once loaded."""
    import numpy as np
    messages = []
    store = ArtifactStore(tmp_path / "cache", log=messages.append)
    value = {"ids": np.array([f"C{i:07d}" for i in range(60_000)], dtype=object),
             "scores": np.linspace(0, 1, 3 * store_module.MAP_FROM // 8)}
    path = store.put("big", value)
    assert path.stat().st_size >= store_module.MAP_FROM
    back = store.get("big")
    assert back["ids"].tolist() == value["ids"].tolist()
    assert np.array_equal(back["scores"], value["scores"]) and back["scores"].flags.writeable
    assert not _mapped(path)

    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF                                   # one byte in a buffer
    path.write_bytes(bytes(blob))
    assert store.get("big") is None and not path.exists()
    assert any(str(path) in m and "checksum mismatch" in m for m in messages)

    path = store.put("big", value)
    path.write_bytes(path.read_bytes()[:store_module.MAP_FROM + 10])  # cut, still mapped
    assert store.get("big") is None and not path.exists()


def test_interrupted_write_leaves_no_entry(tmp_path):
    class Boom:
        def __reduce__(self):
            raise KeyboardInterrupt

    store = ArtifactStore(tmp_path / "cache")
    with pytest.raises(KeyboardInterrupt):
        store.put("k", Boom())
    assert store.get("k") is None
    assert list(store.folder.iterdir()) == []


def test_keys_must_be_plain_names(tmp_path):
    store = ArtifactStore(tmp_path / "cache")
    for bad in ("../k", "a/b", "", ".hidden"):
        with pytest.raises(ValueError):
            store.path(bad)


def test_a_stale_temporary_is_removed_but_a_live_writer_is_left_alone(tmp_path):
    store = ArtifactStore(tmp_path / "cache").open()
    stale = store.folder / ".tmp-stale.part"
    stale.write_bytes(b"x" * 1000)
    live = store.folder / ".tmp-live.part"
    live.write_bytes(b"y" * 1000)
    with open(live, "rb") as writer:
        fcntl.flock(writer, fcntl.LOCK_EX)
        messages = []
        ArtifactStore(tmp_path / "cache", log=messages.append).open()
    assert not stale.exists() and live.exists()
    assert any(str(stale) in m and "interrupted write" in m for m in messages)


def test_without_flock_temporaries_are_stale_by_age(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "fcntl", None)
    folder = ArtifactStore(tmp_path / "cache").open().folder
    old, new = folder / ".tmp-old.part", folder / ".tmp-new.part"
    old.write_bytes(b"x")
    new.write_bytes(b"x")
    os.utime(old, (0, 0))
    store = ArtifactStore(tmp_path / "cache", stale_after=600).open()
    assert not old.exists() and new.exists()
    store.put("k", 1)  # writes still work without locks
    assert store.get("k") == 1
    with store.lock("k") as locked:
        assert locked is False


def test_the_lock_excludes_another_holder(tmp_path):
    store = ArtifactStore(tmp_path / "cache")
    with store.lock("k") as locked:
        assert locked
        with open(store.folder / "k.lock", "rb") as other:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(store.folder / "k.lock", "rb") as other:
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released on exit


def test_keys_change_with_every_part():
    assert make_key("a", {"x": 1}) == make_key("a", {"x": 1})
    assert make_key("a", {"x": 1}) != make_key("a", {"x": 2})
    assert make_key("a", 1) != make_key("b", 1)


def test_warm_start_loads_without_training(tmp_path, monkeypatch):
    source = DataSource(demo_size=400, seed=1)
    first, cached = load_or_train(source, FAST, cache_dir=tmp_path / "cache")
    assert cached is False

    def no_training(*_a, **_k):
        raise AssertionError("the warm start trained again")

    monkeypatch.setattr(runner, "analyse", no_training)
    second, cached = load_or_train(source, FAST, cache_dir=tmp_path / "cache")
    assert cached is True
    assert second.customers.equals(first.customers)
    # Other settings are another entry, so they train.
    with pytest.raises(AssertionError, match="trained again"):
        load_or_train(source, AnalysisSettings(n_splits=3, baselines=()),
                      cache_dir=tmp_path / "cache")


def test_corrupt_cache_is_rebuilt(tmp_path):
    source = DataSource(demo_size=300, seed=2)
    cache = tmp_path / "cache"
    load_or_train(source, FAST, cache_dir=cache)
    path = ArtifactStore(cache).path(cache_key(source, FAST))
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    path.write_bytes(bytes(blob))
    messages = []
    analysis, cached = load_or_train(source, FAST, cache_dir=cache, progress=messages.append)
    assert cached is False and len(analysis.customers) == 300
    assert any(str(path) in m and "checksum mismatch" in m for m in messages)
    assert any("cross-validation" in m for m in messages)
    assert ArtifactStore(cache).get(cache_key(source, FAST)) is not None
