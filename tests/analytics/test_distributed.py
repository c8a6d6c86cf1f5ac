"""`score --engine dask`: new customers scored in Parquet partitions on Dask, row for row as the
single-process path scores them, the model sent once, an output complete or absent."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pandas as pd
import psutil
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analytics import cli
from analytics.data.readers import read_table
from analytics.demo import generate_demo
from analytics.distributed import (SUCCESS, dask_client, find_parquet, plan_partitions,
                                   score_parquet, scoring_view)
from analytics.errors import DataError
from analytics.pipeline import AnalysisSettings
from analytics.runner import DataSource, load_or_train
from analytics.scoring import score_file

FAST = AnalysisSettings(n_splits=3, baselines=())
DEMO = DataSource(demo_size=1500)
COLUMNS = ["customer_id", "churn_probability", "risk_tier", "reason_1", "reason_2", "reason_3",
           "flags"]
PARTITION_ROWS = 450   # c0 and c2 (700 rows, row groups of 200) split in two; c1 stays whole


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("dask-cache")


@pytest.fixture(scope="module")
def analysis(cache):
    return load_or_train(DEMO, FAST, cache_dir=cache)[0]


def _write(frame: pd.DataFrame, path: Path, row_group_size: int | None = None) -> Path:
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path,
                   row_group_size=row_group_size)
    return path


def _new(seed: int) -> pd.DataFrame:
    return generate_demo(700, seed=seed).drop(columns=["Churn"])


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    """Three files of new customers: unknown categories, a cell that is not a number, a
    number outside the training range, and a file without an id column."""
    folder = tmp_path_factory.mktemp("new-customers")
    c0 = _new(10)
    c0.loc[[3, 450], "Contract"] = "Quarterly"          # in both of c0's partitions
    c0.loc[7, "InternetService"] = "Satellite"
    _write(c0, folder / "c0.parquet", row_group_size=200)
    c1 = _new(11)
    c1["MonthlyCharges"] = c1["MonthlyCharges"].astype(str)
    c1.loc[5, "MonthlyCharges"] = "abc"
    c1.loc[6, "tenure"] = 500
    _write(c1, folder / "c1.parquet")
    c2 = _new(12).drop(columns=["customerID"])
    c2.loc[600, "Contract"] = "Quarterly"
    _write(c2, folder / "c2.parquet", row_group_size=200)
    return folder


@pytest.fixture(scope="module")
def single(files, analysis) -> list[tuple[pd.DataFrame, dict]]:
    """The single-process path (`score --model-of`), one file at a time."""
    return [score_file(read_table(path)[0], analysis, str(path))
            for path in sorted(files.glob("*.parquet"))]


@pytest.fixture(scope="module")
def client():
    with dask_client(workers=2, processes=False) as client:
        yield client


def _parts(out: Path) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(p) for p in sorted(out.glob("part-*.parquet"))],
                     ignore_index=True)


def test_dask_scores_equal_the_single_process_path_row_for_row(files, analysis, single,
                                                               client, tmp_path):
    run = score_parquet(files, analysis, tmp_path / "scores", client=client,
                        partition_rows=PARTITION_ROWS)
    expected = pd.concat([scored for scored, _ in single], ignore_index=True)
    got = _parts(tmp_path / "scores")
    assert run.rows == len(got) == 2100 and run.partitions == 5
    pd.testing.assert_frame_equal(got, expected.astype({"risk_tier": object}))
    # The file without an id column: row numbers within the file, across its two partitions.
    assert got["customer_id"].tolist()[-700:] == [str(i) for i in range(1, 701)]
    # One report, the partitions' counts summed: as the files' own reports add up.
    report = run.report
    assert report["unknown_categories"] == {
        "Contract": {"n": 3, "examples": {"Quarterly": 3}},
        "InternetService": {"n": 1, "examples": {"Satellite": 1}}}
    assert report["not_numbers"] == {"MonthlyCharges": 1}
    assert report["out_of_range"]["tenure"]["n"] == 1
    for kind in ("unknown_categories", "out_of_range"):
        fields = {f for _, r in single for f in r[kind]}
        assert {f: sum(r[kind].get(f, {"n": 0})["n"] for _, r in single) for f in fields} == {
            f: info["n"] for f, info in report[kind].items()}
    assert report["rows"] == sum(r["rows"] for _, r in single)


def test_the_output_is_parquet_parts_and_a_manifest_written_last(files, analysis, client,
                                                                 tmp_path):
    out = tmp_path / "scores"
    run = score_parquet(files, analysis, out, client=client, partition_rows=PARTITION_ROWS)
    names = sorted(p.name for p in out.iterdir())
    assert names == [SUCCESS] + [f"part-{i:05d}.parquet" for i in range(5)]
    schemas = {pq.read_schema(out / n) for n in names[1:]}
    assert len(schemas) == 1 and schemas.pop().names == COLUMNS
    manifest = json.loads((out / SUCCESS).read_text())
    assert manifest["rows"] == 2100 and manifest["report"] == run.report
    assert [p["file"] for p in manifest["partitions"]] == names[1:]
    assert [p["rows"] for p in manifest["partitions"]] == [400, 300, 700, 400, 300]
    assert [p.name for p in tmp_path.iterdir()] == ["scores"]  # no staging folder left
    # A second run replaces an earlier complete output; a folder of other files is refused.
    score_parquet(files / "c1.parquet", analysis, out, client=client)
    assert sorted(p.name for p in out.iterdir()) == [SUCCESS, "part-00000.parquet"]
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(cli.ChurnLensError, match="holds other files"):
        score_parquet(files, analysis, tmp_path / "other", client=client)


def test_a_missing_column_stops_the_run_naming_file_and_column(files, analysis, tmp_path):
    """On a LocalCluster of worker processes: the error crosses back with its file and
    column, nothing complete-looking is left, and no worker process outlives the run."""
    bad = tmp_path / "in"
    bad.mkdir()
    for path in files.glob("*.parquet"):
        (bad / path.name).write_bytes(path.read_bytes())
    _write(_new(13).drop(columns=["Contract"]), bad / "c3.parquet")
    out = tmp_path / "scores"
    with pytest.raises(DataError) as caught:
        score_parquet(bad, analysis, out, workers=1)
    error = caught.value
    assert error.file.endswith("c3.parquet") and error.column == "Contract"
    assert "c3.parquet" in str(error) and "`Contract`" in str(error)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]  # no output, no staging
    assert not _workers_left()


def _workers_left() -> list:
    """Child processes still running, but multiprocessing's resource tracker (it lives as
    long as this process, whatever started it)."""
    return [p for p in psutil.Process().children(recursive=True)
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE
            and "resource_tracker" not in " ".join(p.cmdline())]


def test_a_failed_run_leaves_an_earlier_output_as_it_was(files, analysis, client, tmp_path):
    out = tmp_path / "scores"
    score_parquet(files / "c0.parquet", analysis, out, client=client)
    before = (out / SUCCESS).read_text()
    bad = _write(_new(14).drop(columns=["tenure"]), tmp_path / "bad.parquet")
    with pytest.raises(DataError, match="tenure"):
        score_parquet(bad, analysis, out, client=client)
    assert (out / SUCCESS).read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.parquet", "scores"]


class _Spy:
    """A Client that records what is scattered and what each task is given."""

    def __init__(self, client):
        self.client, self.scattered, self.first_args = client, [], []

    def scatter(self, data, **kwargs):
        future = self.client.scatter(data, **kwargs)
        self.scattered.append((type(data).__name__, kwargs.get("broadcast")))
        return future

    def submit(self, function, *args, **kwargs):
        self.first_args.append(args[0])
        return self.client.submit(function, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.client, name)


def test_the_model_is_sent_to_the_workers_once(files, analysis, client, tmp_path):
    spy = _Spy(client)
    score_parquet(files, analysis, tmp_path / "scores", client=spy,
                  partition_rows=PARTITION_ROWS)
    assert spy.scattered == [("ChurnAnalysis", True)]
    assert len(spy.first_args) == 5 and len({f.key for f in spy.first_args}) == 1
    assert type(spy.first_args[0]).__name__ == "Future"


def test_the_view_sent_is_small_scores_the_same_and_runs_catboost_on_one_thread(
        files, analysis, single):
    view = pickle.loads(pickle.dumps(scoring_view(analysis)))  # as a worker process gets it
    assert view.model.folds == [] and view.model.final.estimator_.threads == 1
    assert len(pickle.dumps(view)) < len(pickle.dumps(analysis)) / 2
    path = files / "c1.parquet"
    scored, report = score_file(read_table(path)[0], view, str(path))
    pd.testing.assert_frame_equal(scored, single[1][0])
    assert report == single[1][1]


def test_partitions_follow_row_groups_and_inputs_are_found(files, tmp_path):
    parts = plan_partitions(find_parquet(files), PARTITION_ROWS)
    assert [(Path(p.path).name, p.row_groups, p.first_row, p.rows) for p in parts] == [
        ("c0.parquet", (0, 1), 0, 400), ("c0.parquet", (2, 3), 400, 300),
        ("c1.parquet", None, 0, 700),
        ("c2.parquet", (0, 1), 0, 400), ("c2.parquet", (2, 3), 400, 300)]
    assert find_parquet(str(files / "c*.parquet")) == find_parquet(files)
    assert find_parquet(files / "c1.parquet") == [files / "c1.parquet"]
    with pytest.raises(DataError, match="no Parquet file"):
        find_parquet(tmp_path)
    with pytest.raises(DataError, match="no file matches"):
        find_parquet(str(tmp_path / "*.parquet"))
    (tmp_path / "x.parquet").write_text("not parquet")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        plan_partitions(find_parquet(tmp_path))


def _cli(capsys, monkeypatch, *argv) -> tuple[int, str]:
    monkeypatch.setattr(cli, "load_or_train",
                        lambda source, settings=None, **kw: load_or_train(source, FAST, **kw))
    code = cli.main(list(argv))
    return code, capsys.readouterr().err


def test_the_cli_scores_on_a_scheduler_as_the_local_engine_does(files, analysis, cache, client,
                                                                tmp_path, capsys, monkeypatch):
    data = str(files / "c0.parquet")
    common = ["--data", data, "--model-of", "demo", "--demo-size", "1500", "--cache-dir",
              str(cache)]
    code, local_err = _cli(capsys, monkeypatch, "score", *common, "--out",
                           str(tmp_path / "local.csv"))
    assert code == 0, local_err
    code, err = _cli(capsys, monkeypatch, "score", *common, "--engine", "dask", "--out",
                     str(tmp_path / "dask"), "--scheduler", client.scheduler.address,
                     "--partition-rows", str(PARTITION_ROWS))
    assert code == 0, err
    assert "2 of 2 partitions: 700 of 700 rows" in err and "rows/s" in err
    assert "wrote 700 customers" in err and "2 Parquet part(s)" in err
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings == [line for line in local_err.splitlines()
                        if line.startswith("warning:")]
    assert any("Contract: 2 value(s) the model never saw" in w for w in warnings)
    local = pd.read_csv(tmp_path / "local.csv", keep_default_na=False, dtype={"customer_id": str})
    pd.testing.assert_frame_equal(_parts(tmp_path / "dask"), local)


def test_the_cli_refuses_engine_options_that_do_not_go_together(tmp_path, capsys, monkeypatch):
    code, err = _cli(capsys, monkeypatch, "score", "--engine", "dask", "--out",
                     str(tmp_path / "s"), "--no-cache")
    assert code == 2 and "--engine dask scores new customers" in err
    code, err = _cli(capsys, monkeypatch, "score", "--data", "x.parquet", "--model-of", "demo",
                     "--scheduler", "tcp://127.0.0.1:1", "--out", str(tmp_path / "s.csv"),
                     "--no-cache")
    assert code == 2 and "--scheduler needs --engine dask" in err
    assert "Traceback" not in err


def test_a_large_file_is_read_as_its_pieces_are(analysis):
    """Past 10,000 rows text cells are parsed once per distinct value: the same scores,
    reasons, flags and report as the same rows scored 700 at a time. A missing category is
    missing, not an unknown one."""
    raw = pd.concat([_new(20 + k) for k in range(16)], ignore_index=True)   # 11,200 rows
    raw["customerID"] = [f" N{i} " for i in range(len(raw))]
    raw["MonthlyCharges"] = " " + raw["MonthlyCharges"].astype(str)
    raw.loc[5, "MonthlyCharges"] = "abc"
    raw.loc[6, "MonthlyCharges"] = None
    raw["Contract"] = raw["Contract"].astype(object)
    raw.loc[raw.index % 3 == 0, "Contract"] = raw["Contract"] + "  "
    raw.loc[8, "Contract"] = None
    raw.loc[9, "Contract"] = "Quarterly"
    whole, report = score_file(raw, analysis, "big.parquet")
    pieces = [score_file(raw.iloc[i:i + 700], analysis, "piece.parquet")
              for i in range(0, len(raw), 700)]
    pd.testing.assert_frame_equal(whole, pd.concat([p for p, _ in pieces], ignore_index=True))
    assert whole["customer_id"].iloc[0] == "N0"
    assert report["not_numbers"] == {"MonthlyCharges": 1}
    assert report["unknown_categories"]["Contract"] == {"n": 1, "examples": {"Quarterly": 1}}
    assert whole.loc[8, "flags"] == "" and whole.loc[9, "flags"] == "unknown Contract"
    assert whole["reason_1"].str.fullmatch(r".+: \+\d+ pts|").all()
