"""Score files larger than memory on Dask: one task per Parquet partition, the model sent once.

`score_parquet` plans partitions of the input (a whole file when it has at most
`partition_rows` rows, else runs of its row groups up to that many rows; a partition is never
smaller than one row group), sends a slim copy of the analysis (`scoring_view`: the final
model and the training ranges, a few hundred kB whatever the training size) to every worker
once, and scores each partition with `analytics.scoring.score_file`: the validation,
probabilities, tiers, reasons and flags of the single-process `score --model-of` path, row for
row. Each worker writes its partition as `part-NNNNN.parquet` (id, probability, tier, top
reasons, flags) and returns the partition's warning report; the reports are merged into one.

The output is complete when it exists: parts are written to a hidden staging folder beside
`out` (`.<name>.partial-<token>`), the manifest `_SUCCESS` (JSON: rows, partitions, warnings)
is written last, then the folder is renamed to `out`. A partition that fails (a missing
column, an unreadable file) cancels the rest, deletes the staging folder and raises the
partition's DataError, naming the file and column. A run killed outright leaves only the
hidden staging folder, never a folder with `_SUCCESS`.

With a scheduler address the workers must see the input and `out` under the same paths (a
shared file system). Without one, a `LocalCluster` of this machine is started (one worker
process per core, one thread each) and closed at the end, also on error. Each task runs
CatBoost on `catboost_threads` threads (default 1: one CatBoost thread per Dask thread; a
worker started with a thread per core, Dask's default, keeps every core busy without
oversubscribing). dask is imported inside the functions: `import analytics` never needs it.
"""

from __future__ import annotations

import copy
import glob
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, is_dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.errors import ChurnLensError, DataError
from analytics.model import Progress
from analytics.pipeline import ChurnAnalysis

DEFAULT_PARTITION_ROWS = 250_000
SUCCESS = "_SUCCESS"
PARQUET_SUFFIXES = (".parquet", ".parq", ".pq")
PROGRESS_EVERY = 2.0    # seconds at least between progress lines (the last always shown)
MAX_EXAMPLES = 5        # unknown-category examples kept per field, as score_file keeps


@dataclass(frozen=True)
class Partition:
    """One task's rows: a whole Parquet file (`row_groups` None) or a run of its row groups.

    `first_row` is the partition's first row within its file (0-based)."""

    index: int
    path: str
    rows: int
    row_groups: tuple[int, ...] | None = None
    first_row: int = 0

    @property
    def part_name(self) -> str:
        return f"part-{self.index:05d}.parquet"

    def describe(self) -> str:
        if self.row_groups is None:
            return self.path
        first, last = self.row_groups[0], self.row_groups[-1]
        groups = f"row group {first}" if first == last else f"row groups {first}-{last}"
        return f"{self.path} ({groups})"


@dataclass
class ScoreRun:
    """What `score_parquet` did: where, how many rows and partitions, how long, the warnings
    (one report in `score_file`'s shape, summed over the partitions) and the workers used."""

    out: Path
    rows: int
    partitions: int
    seconds: float
    report: dict
    workers: int
    threads: int


# -- input --------------------------------------------------------------------------------

def find_parquet(data: str | Path) -> list[Path]:
    """The Parquet files of `data`: a file, a folder (its *.parquet/.parq/.pq files, sorted;
    names starting with '.' or '_' skipped) or a glob pattern (`**` searches sub-folders).
    DataError when nothing matches."""
    text = str(data)
    path = Path(text)
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file()
                       and p.suffix.lower() in PARQUET_SUFFIXES and p.name[0] not in "._")
        if not files:
            raise DataError("the folder holds no Parquet file (*.parquet, *.parq, *.pq)",
                            file=text)
        return files
    if any(c in text for c in "*?["):
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
        if not files:
            raise DataError("no file matches this pattern", file=text)
        return files
    raise DataError("file not found", file=text)


def plan_partitions(files: list[Path], partition_rows: int = DEFAULT_PARTITION_ROWS
                    ) -> list[Partition]:
    """Partitions of the files, in order, from the Parquet footers (no data is read). Files
    without rows get none; DataError names a file that is not readable Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if partition_rows < 1:
        raise ChurnLensError("--partition-rows must be at least 1")
    parts: list[Partition] = []
    for path in files:
        name = str(path.resolve())
        try:
            meta = pq.ParquetFile(path).metadata
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"not a readable Parquet file ({exc})", file=str(path)) from None
        runs: list[tuple[tuple[int, ...], int, int]] = []   # (row groups, first row, rows)
        run: list[int] = []
        rows = start = 0
        for group in range(meta.num_row_groups):
            size = meta.row_group(group).num_rows
            if run and rows + size > partition_rows:
                runs.append((tuple(run), start, rows))
                start, run, rows = start + rows, [], 0
            run.append(group)
            rows += size
        if rows:
            runs.append((tuple(run), start, rows))
        if len(runs) == 1:  # the whole file in one task: read as the single-process path does
            runs = [(None, 0, runs[0][2])]
        parts += [Partition(len(parts) + i, name, n, groups, first)
                  for i, (groups, first, n) in enumerate(runs)]
    if not parts:
        raise DataError("no rows to score", file=str(files[0]) if len(files) == 1 else None)
    return parts


def read_partition(part: Partition) -> pd.DataFrame:
    """A partition's rows typed as `read_table` types the whole file (numbers as numbers,
    text as stripped categories, blanks as ""): the single-process reader's frame."""
    from analytics.data.readers import read_table

    if part.row_groups is None:
        return read_table(part.path)[0]
    import pyarrow as pa
    import pyarrow.parquet as pq

    # readers' own Arrow-to-pandas conversion, so a run of row groups reads as the file would.
    from analytics.data.readers import _clean_names, _frame

    try:
        table = pq.ParquetFile(part.path).read_row_groups(list(part.row_groups))
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"not a readable Parquet file ({exc})", file=part.path) from None
    return _frame(table, _clean_names(table.column_names, part.path), None)


# -- what travels to the workers ----------------------------------------------------------

class CappedEstimator:
    """A fitted CatBoost estimator whose predictions and SHAP values run on `threads`
    threads. CatBoost's own default (-1) is every core of the machine, whatever the Dask
    worker has, and a fitted model's thread_count cannot be changed."""

    def __init__(self, estimator, threads: int) -> None:
        self.estimator = estimator
        self.threads = int(threads)

    def _cap(self, kwargs: dict) -> dict:
        asked = kwargs.get("thread_count", -1)   # the model's choice (-1: its own count)
        return {**kwargs, "thread_count": self.threads if asked < 1 else min(asked,
                                                                             self.threads)}

    def predict_proba(self, data, **kwargs):
        return self.estimator.predict_proba(data, **self._cap(kwargs))

    def predict(self, data, **kwargs):
        return self.estimator.predict(data, **self._cap(kwargs))

    def get_feature_importance(self, data=None, **kwargs):
        return self.estimator.get_feature_importance(data, **self._cap(kwargs))

    def __getattr__(self, name: str):
        if name == "estimator":  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.estimator, name)


def _capped(model, threads: int):
    """A shallow copy of the model for new customers: the final model only (no fold models:
    a new file has no `scored_by` column), its estimator on `threads` threads."""
    model = copy.copy(model)
    if hasattr(model, "final"):  # CrossFittedModel
        model.folds = []
        model.final = _capped(model.final, threads)
    else:
        model.estimator_ = CappedEstimator(model.estimator_, threads)
    return model


def _range_rows(customers: pd.DataFrame, numeric: list[str]) -> np.ndarray:
    """Positions of the rows holding each numeric feature's lowest and highest value."""
    rows = {0}
    for feature in numeric:
        values = customers[feature].to_numpy(dtype=float)
        if not np.isnan(values).all():
            rows |= {int(np.nanargmin(values)), int(np.nanargmax(values))}
    return np.array(sorted(rows))


def scoring_view(analysis: ChurnAnalysis, threads: int = 1) -> ChurnAnalysis:
    """What `analytics.scoring.score_file` reads of an analysis, and little else: the final
    model (CatBoost on `threads` threads), settings, roles, config, behaviour medians, and of
    the training customers only the feature columns of the rows holding each numeric
    feature's minimum and maximum (the training range; categories kept). Scores from it equal
    the analysis' own; keep it in step with `file_features` when that reads more."""
    customers = analysis.customers
    kept = customers[analysis.features].iloc[_range_rows(customers, analysis.numeric)]
    behaviour = analysis.behaviour
    if behaviour is not None and is_dataclass(behaviour):  # the event tables stay home
        behaviour = replace(behaviour, tables=[], ids=np.empty(0, dtype=object))
    n = len(analysis.features)
    return replace(analysis, customers=kept.reset_index(drop=True),
                   model=_capped(analysis.model, threads),
                   shap_values=np.empty((0, n), dtype=np.float32),
                   shap_base=np.empty(0, dtype=np.float32), cv=None, leakage=[], quality={},
                   survival=None, segmentation=None, segment_profiles=None, timings={},
                   catalogue=None, recommendations=None, reference=None, backtest=None,
                   calibration=None, read_info=None, inspection=None, behaviour=behaviour)


# -- one task -----------------------------------------------------------------------------

def _scored_table(scored: pd.DataFrame):
    """The scores as Arrow with a fixed schema (numbers float64, the rest text), so every
    part file has the same schema."""
    import pyarrow as pa

    return pa.table({c: pa.array(scored[c].to_numpy(dtype=float), pa.float64())
                     if pd.api.types.is_numeric_dtype(scored[c])
                     else pa.array(scored[c].astype(str).to_numpy(dtype=object), pa.string())
                     for c in scored.columns})


def score_partition(view: ChurnAnalysis, part: Partition, folder: str) -> dict:
    """Score one partition (on a worker) and write it to `folder`/part-NNNNN.parquet.

    Returns {"index", "rows", "report"} or, when the partition cannot be scored,
    {"index", "error": {"message", "file", "column", "examples"}} (a DataError would lose its
    fields on the way back to the client)."""
    import pyarrow.parquet as pq

    from analytics.scoring import _config, score_file

    try:
        raw = read_partition(part)
        scored, report = score_file(raw, view, part.path)
    except DataError as exc:
        return {"index": part.index, "error": {"message": str(exc), "file": exc.file,
                                               "column": exc.column,
                                               "examples": exc.examples}}
    id_column = _config(view).id_column
    if part.first_row and not (id_column and id_column in raw):
        # No id column: ids are row numbers within the file, as a whole-file read numbers them.
        scored["customer_id"] = np.arange(part.first_row + 1,
                                          part.first_row + len(scored) + 1).astype(str)
    pq.write_table(_scored_table(scored), Path(folder) / part.part_name)
    return {"index": part.index, "rows": int(len(scored)), "report": report}


def merge_reports(reports: list[dict]) -> dict:
    """One `score_file` report of several partitions: counts summed; the unknown-category
    examples are the most frequent of those the partitions list (each lists its five most
    frequent, so with more than five unknown values in a partition, examples may undercount)."""
    merged = {"rows": 0, "unknown_categories": {}, "out_of_range": {}, "not_numbers": {},
              "no_behaviour": []}
    for report in reports:
        merged["rows"] += report["rows"]
        for name, info in report["unknown_categories"].items():
            into = merged["unknown_categories"].setdefault(name, {"n": 0, "examples": {}})
            into["n"] += info["n"]
            for value, count in info["examples"].items():
                into["examples"][value] = into["examples"].get(value, 0) + count
        for name, info in report["out_of_range"].items():
            into = merged["out_of_range"].setdefault(name, {**info, "n": 0})
            into["n"] += info["n"]
        for name, count in report["not_numbers"].items():
            merged["not_numbers"][name] = merged["not_numbers"].get(name, 0) + count
        merged["no_behaviour"] += [f for f in report.get("no_behaviour", ())
                                   if f not in merged["no_behaviour"]]
    for info in merged["unknown_categories"].values():
        top = sorted(info["examples"].items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_EXAMPLES]
        info["examples"] = dict(top)
    return merged


# -- the cluster and the run --------------------------------------------------------------

@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None,
                processes: bool = True) -> Iterator:
    """A dask.distributed Client of the scheduler at `scheduler`, or of a LocalCluster of this
    machine (`workers` worker processes, default one per core, one thread each; threads of
    this process with `processes=False`). Closed on exit, also on error."""
    try:
        from dask.distributed import Client, LocalCluster
        from dask.system import CPU_COUNT
    except ImportError:
        raise ChurnLensError("--engine dask needs dask.distributed: pip install "
                             "'dask[distributed]'") from None
    import logging

    cluster = None
    try:
        if scheduler:
            try:
                client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise ChurnLensError(f"cannot reach the Dask scheduler at {scheduler} "
                                     f"({exc})") from None
        else:
            # No dashboard; the scheduler's health endpoint on a free port, not 8787.
            cluster = LocalCluster(n_workers=workers or CPU_COUNT, threads_per_worker=1,
                                   processes=processes, dashboard_address=None,
                                   scheduler_kwargs={"dashboard_address": ":0"},
                                   silence_logs=logging.ERROR)
            client = Client(cluster)
        try:
            yield client
        finally:
            client.close()
    finally:
        if cluster is not None:
            cluster.close()


def score_parquet(data: str | Path, analysis: ChurnAnalysis, out: str | Path, *,
                  client=None, scheduler: str | None = None,
                  partition_rows: int = DEFAULT_PARTITION_ROWS, workers: int | None = None,
                  catboost_threads: int = 1, progress: Progress = lambda _m: None) -> ScoreRun:
    """Score the Parquet `data` (a file, folder or glob) with the analysis' model on Dask and
    write `out` (a folder of part-NNNNN.parquet and `_SUCCESS`); see the module docstring.

    `client`: an open dask.distributed Client to use (left open); otherwise one of
    `scheduler`, or of a LocalCluster of `workers` processes, opened and closed here.
    `progress` gets a line per finished partition (at most every PROGRESS_EVERY seconds).
    Raises DataError naming the file (and column) of the first partition that fails."""
    out = Path(out).resolve()
    _check_out(out)
    parts = plan_partitions(find_parquet(data), partition_rows)
    if client is None:
        with dask_client(scheduler, workers) as own:
            return _run(own, parts, analysis, out, catboost_threads, progress)
    return _run(client, parts, analysis, out, catboost_threads, progress)


def _check_out(out: Path) -> None:
    """`out` may be new, an empty folder or an earlier complete output (replaced at the end)."""
    if out.exists() and not out.is_dir():
        raise ChurnLensError(f"{out}: --out is a file; with --engine dask it is a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / SUCCESS).is_file():
        raise ChurnLensError(f"{out}: the folder holds other files and no {SUCCESS} of an "
                             "earlier score run; choose a new or empty folder")


def _run(client, parts: list[Partition], analysis: ChurnAnalysis, out: Path, threads: int,
         progress: Progress) -> ScoreRun:
    from dask.distributed import as_completed

    nthreads = client.nthreads()
    n_workers, n_threads = len(nthreads), sum(nthreads.values())
    total = sum(p.rows for p in parts)
    files = len({p.path for p in parts})
    progress(f"scoring {total:,} rows in {len(parts):,} partition(s) of {files:,} file(s) on "
             f"{n_workers} Dask worker(s), {n_threads} thread(s); model sent once")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{secrets.token_hex(4)}"
    staging.mkdir()
    futures = []
    try:
        start = time.perf_counter()
        view = client.scatter(scoring_view(analysis, threads), broadcast=True, hash=False)
        futures = [client.submit(score_partition, view, part, str(staging), pure=False,
                                 key=f"churnlens-score-{staging.name}-{part.index}")
                   for part in parts]
        results, done_rows, shown = [], 0, 0.0
        for future in as_completed(futures):
            result = future.result()
            if "error" in result:  # the partition's DataError again, file and column kept
                error = result["error"]
                exc = DataError(error["message"])
                exc.file, exc.column, exc.examples = (error["file"], error["column"],
                                                      error["examples"])
                raise exc
            results.append(result)
            done_rows += result["rows"]
            now = time.perf_counter() - start
            if len(results) == len(parts) or now - shown >= PROGRESS_EVERY:
                shown = now
                progress(f"{len(results):,} of {len(parts):,} partitions: {done_rows:,} of "
                         f"{total:,} rows, {done_rows / max(now, 1e-9):,.0f} rows/s")
        seconds = time.perf_counter() - start
        results.sort(key=lambda r: r["index"])
        report = merge_reports([r["report"] for r in results])
        manifest = {"rows": done_rows, "seconds": round(seconds, 3),
                    "model_of": str(analysis.source), "report": report,
                    "partitions": [{**asdict(p), "file": p.part_name} for p in parts]}
        (staging / SUCCESS).write_text(json.dumps(manifest, indent=1))
        _publish(staging, out)
    except BaseException:
        with suppress(Exception):  # a client already closing: nothing left to cancel
            client.cancel(futures)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return ScoreRun(out, done_rows, len(parts), seconds, report, n_workers, n_threads)


def _publish(staging: Path, out: Path) -> None:
    """Rename the finished staging folder to `out`, replacing an earlier output."""
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{secrets.token_hex(4)}"
        os.replace(out, old)
    os.replace(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
