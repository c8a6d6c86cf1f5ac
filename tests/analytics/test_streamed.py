"""Linked tables built block by block with their rows on disk (analytics/data/streamed.py):
the same customer table, features and rows as the whole tables in memory; the files read
back exactly, refused when damaged; the cache keeps them beside its entry."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.data import demo_events, streamed
from analytics.data import events as ev
from analytics.demo import generate_demo
from analytics.errors import DataError
from analytics.loaders import demo_events_config, load_demo
from analytics.runner import DataSource, load_or_train

SIZE, BLOCK = 2100, 800   # three blocks, the last one short


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """The demo with behaviour built whole in memory and block by block on disk."""
    patch = pytest.MonkeyPatch()
    patch.setattr(demo_events, "BLOCK", BLOCK)
    patch.setattr(streamed, "ROW_GROUP", 1000)   # several row groups a block
    patch.setattr(streamed, "SPAN", 300)         # aggregated across the groups' bounds
    try:
        whole = load_demo(SIZE, events=True)
        folder = tmp_path_factory.mktemp("events")
        parts = load_demo(SIZE, events=True, events_dir=folder)
    finally:
        patch.undo()
    return whole, parts, folder


def fresh(table: ev.EventTable) -> ev.EventTable:
    """A copy of a table as a warm start has it: its rows not read yet."""
    return pickle.loads(pickle.dumps(table))


def test_blocks_concatenated_are_the_whole_tables(monkeypatch):
    monkeypatch.setattr(demo_events, "BLOCK", BLOCK)
    raw = generate_demo(SIZE, seed=3, with_dates=True)
    whole = demo_events.generate_demo_events(raw, seed=3)
    blocks = list(demo_events.demo_event_blocks(raw, seed=3))
    assert [(lo, hi) for lo, hi, _ in blocks] == [(0, 800), (800, 1600), (1600, 2100)]
    for name, frame in whole.items():
        joined = pd.concat([b[name] for _, _, b in blocks], ignore_index=True)
        pd.testing.assert_frame_equal(joined, frame)
    ids = raw["customerID"].to_numpy()
    for lo, hi, b in blocks:   # every row of a block is one of its customers'
        assert set(b["usage"]["customerID"]) <= set(ids[lo:hi])


def test_the_same_customer_table_and_features(both):
    whole, parts, _ = both
    pd.testing.assert_frame_equal(whole.customers, parts.customers)
    pd.testing.assert_frame_equal(whole.training, parts.training)
    assert whole.behaviour.meta == parts.behaviour.meta
    assert whole.quality.notes == parts.quality.notes
    assert (whole.behaviour.as_of, whole.behaviour.now) == (parts.behaviour.as_of,
                                                            parts.behaviour.now)
    for table, levels in whole.behaviour.levels.items():
        for key, values in levels.items():
            np.testing.assert_array_equal(values, parts.behaviour.levels[table][key])
    assert len(parts.behaviour.meta) > 40


def test_rows_on_disk_read_back_exactly(both):
    whole, parts, folder = both
    for a, b in zip(whole.behaviour.tables, map(fresh, parts.behaviour.tables)):
        assert b.disk is not None and Path(b.disk.path).parent == folder
        assert (a.name, a.rows) == (b.name, b.rows) and not b.loaded
        assert len(b.disk.bounds) > 3 or b.rows < 4000
        for position in (0, BLOCK - 1, BLOCK, SIZE - 1, 1234):
            mine = a.frame[a.frame[ev.CUSTOMER] == position].reset_index(drop=True)
            pd.testing.assert_frame_equal(b.customer_rows(position).reset_index(drop=True),
                                          mine)
        # the whole frame, sorted by customer, with the same dtypes (categories' order too)
        order = a.frame.sort_values(ev.CUSTOMER, kind="stable").reset_index(drop=True)
        pd.testing.assert_frame_equal(b.frame, order)
        assert b.loaded and b.customer_rows(0) is None   # read: the caller indexes it


def test_a_customer_without_rows_gets_an_empty_frame(both):
    _, parts, _ = both
    feedback = fresh(parts.behaviour.table("churn_feedback"))
    gave = set(feedback.disk.read()[ev.CUSTOMER])
    quiet = next(p for p in range(SIZE) if p not in gave)
    rows = feedback.customer_rows(quiet)
    assert rows.empty and list(rows.columns) == list(feedback.disk.columns)


def test_pickled_without_its_rows(both, tmp_path):
    _, parts, _ = both
    usage = parts.behaviour.table("usage")
    assert not usage.loaded
    copy = fresh(usage)
    assert len(pickle.dumps(copy)) < 20_000 < usage.rows   # the rows stay in the file
    assert not copy.loaded and copy.rows == usage.rows and copy.has(ev.TIME)
    assert copy.customer_rows(7).equals(usage.customer_rows(7))
    usage.frame                                              # read whole: still not pickled
    assert usage.loaded and len(pickle.dumps(usage)) < 20_000


def test_a_damaged_file_is_refused(both, tmp_path):
    _, parts, _ = both
    usage = fresh(parts.behaviour.table("usage"))
    copy = tmp_path / "usage.parquet"
    data = bytearray(Path(usage.disk.path).read_bytes())
    data[len(data) // 3] ^= 0xFF                       # same size, one byte flipped
    copy.write_bytes(bytes(data))
    usage.disk.path = str(copy)
    with pytest.raises(OSError, match="usage.parquet"):
        usage.disk.read()
    copy.write_bytes(bytes(data[:-10]))                # cut
    assert "changed" in usage.disk.problem()
    copy.unlink()
    assert "missing" in usage.disk.problem()
    with pytest.raises(OSError, match="missing"):
        usage.customer_rows(0)


def test_blocks_must_hold_their_customers_rows(tmp_path):
    raw = generate_demo(300, with_dates=True)
    frames = demo_events.generate_demo_events(raw, typed=True)
    config = demo_events_config()
    # customers 0..299's rows handed over as the block of 0..99 only
    with pytest.raises(ValueError, match="block of 0..99"):
        streamed.build_linked_blocks(raw, config, "demo", [(0, 100, frames)], tmp_path)
    assert not list(tmp_path.glob("*.parquet*"))       # nothing half-written is left


def test_rows_left_out_are_counted_over_the_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr(demo_events, "BLOCK", 150)
    raw = generate_demo(300, with_dates=True)
    blocks = []
    for lo, hi, frames in demo_events.demo_event_blocks(raw):
        stray = frames["usage"].head(2).assign(customerID="NOBODY-1")
        frames["usage"] = pd.concat([frames["usage"], stray], ignore_index=True)
        blocks.append((lo, hi, frames))
    table = streamed.build_linked_blocks(raw, demo_events_config(), "demo", blocks, tmp_path)
    assert any("4 row(s) link to no customers" in n for n in table.quality.notes)
    blocks = [(lo, hi, {**f, "tickets": f["tickets"].assign(customerID="X")})
              for lo, hi, f in demo_events.demo_event_blocks(raw)]
    with pytest.raises(DataError, match="no row links") as caught:
        streamed.build_linked_blocks(raw, demo_events_config(), "demo", blocks,
                                     tmp_path / "again")
    assert caught.value.examples == ["'X'"] * 3


def test_a_later_block_may_bring_new_categories(tmp_path):
    """A categorical column whose later block has more categories (wider codes than int8)
    reads back as one column with every category, in the order they came."""
    def block(lo, hi, kinds, pick):
        c = np.repeat(np.arange(lo, hi, dtype=np.int32), 3)
        return pd.DataFrame({ev.CUSTOMER: c, ev.TIME: pd.Timestamp("2020-01-01"),
                             ev.KIND: pd.Categorical([kinds[pick(i)] for i in range(len(c))],
                                                     categories=kinds)})
    few = ["a", "b", "c"]
    many = few + [f"k{i}" for i in range(200)]
    first, second = block(0, 10, few, lambda i: i % 3), block(10, 20, many, lambda i: -1 - i % 2)
    template = ev.EventTable("clicks", "events", first)
    file = streamed._TableFile(tmp_path, template)
    file.append(0, 10, first)
    file.append(10, 20, second)
    table = file.close()
    read = fresh(table).frame
    assert list(read[ev.KIND].cat.categories) == many
    expected = pd.concat([first.astype({ev.KIND: str}), second.astype({ev.KIND: str})],
                         ignore_index=True)
    assert (read[ev.KIND].astype(str) == expected[ev.KIND]).all()
    assert fresh(table).customer_rows(15)[ev.KIND].astype(str).tolist() == ["k198", "k199",
                                                                            "k198"]


def test_the_cache_keeps_the_rows_beside_its_entry(tmp_path):
    source = DataSource(demo_size=900, demo_events=True)
    first, hit = load_or_train(source, cache_dir=tmp_path / "cache")
    assert not hit
    usage = first.behaviour.table("usage")
    folder = Path(usage.disk.path).parent
    assert folder.name.endswith(".files") and folder.parent.name == "artifacts"
    again, hit = load_or_train(source, cache_dir=tmp_path / "cache")
    assert hit and not again.behaviour.table("usage").loaded
    pd.testing.assert_frame_equal(again.behaviour.table("usage").customer_rows(3),
                                  usage.customer_rows(3))
    Path(usage.disk.path).unlink()                     # a file gone: trained again
    said = []
    third, hit = load_or_train(source, cache_dir=tmp_path / "cache", progress=said.append)
    assert not hit and any("usage.parquet is missing" in m for m in said)
    assert Path(third.behaviour.table("usage").disk.path).is_file()
