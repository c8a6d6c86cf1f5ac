"""Sentiment benchmark of `analytics.data.sentiment`: quality and throughput. Prints figures only.

Quality: stock VADER vs VADER + the support/churn lexicon on the hand-labelled fixture
`tests/fixtures/sentiment_texts.csv` (accuracy, macro-F1, per-class F1, confusion matrices;
`--errors` lists the texts the extended scorer gets wrong).

Throughput (texts/s, median of `--repeat` runs, each on a fresh `Sentiment` so nothing is
remembered between runs): `--rows` texts of which about `--distinct` are distinct (ticket
tables repeat templated texts; the cache by unique text), `--all-distinct` texts that are
all different, and the same `--rows` scored one by one without the cache (a plain loop over
VADER's `polarity_scores`). Texts are pairs of fixture sentences, seeded.

    PYTHONPATH=. .venv/bin/python bench/bench_sentiment.py [--rows 100000] [--distinct 2000]
                                                          [--all-distinct 20000] [--repeat 3]
                                                          [--errors]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.data.sentiment import LABELS, Sentiment, evaluate, label

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "sentiment_texts.csv"


def make_texts(sentences: list[str], n_distinct: int, rows: int, seed: int) -> list[str]:
    """`rows` texts drawn from `n_distinct` distinct two-sentence texts (seeded)."""
    rng = np.random.default_rng(seed)
    pairs = set()
    while len(pairs) < n_distinct:
        i, j = rng.integers(0, len(sentences), 2)
        if i != j:
            pairs.add((int(i), int(j)))
    distinct = [f"{sentences[i]}. {sentences[j]}" for i, j in sorted(pairs)]
    if rows == n_distinct:
        return [distinct[k] for k in rng.permutation(n_distinct)]
    return [distinct[k] for k in rng.integers(0, n_distinct, rows)]


def _median_seconds(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def print_quality(frame: pd.DataFrame, show_errors: bool) -> None:
    results = {name: evaluate(frame["text"], frame["label"], extended=extended)
               for name, extended in (("stock", False), ("extended", True))}
    counts = results["stock"]["counts"]["true"]
    print(f"fixture: {len(frame)} hand-labelled texts "
          + ", ".join(f"{counts[name]} {name}" for name in LABELS))
    print(f"{'':10}{'accuracy':>10}{'macro-F1':>10}"
          + "".join(f"{'F1 ' + n[:3]:>9}" for n in LABELS))
    for name, result in results.items():
        print(f"{name:10}{result['accuracy']:10.3f}{result['macro_f1']:10.3f}"
              + "".join(f"{result['f1'][n]:9.3f}" for n in LABELS))
    for name, result in results.items():
        print(f"\nconfusion ({name}); rows = hand label, columns = predicted")
        print(f"{'':10}" + "".join(f"{n:>10}" for n in LABELS))
        for truth in LABELS:
            print(f"{truth:10}" + "".join(f"{result['confusion'][truth][p]:10d}" for p in LABELS))
    if show_errors:
        compound = Sentiment().score(frame["text"])
        predicted = label(compound)
        wrong = np.flatnonzero(predicted != frame["label"].to_numpy())
        print(f"\nextended errors ({len(wrong)}): hand label -> predicted (compound)")
        for i in wrong:
            print(f"  {frame['label'].iat[i]:>8} -> {predicted[i]:<8} ({compound[i]:+.2f}) "
                  f"{frame['text'].iat[i]}")


def print_throughput(sentences: list[str], args: argparse.Namespace) -> None:
    cached = make_texts(sentences, args.distinct, args.rows, args.seed)
    distinct = make_texts(sentences, args.all_distinct, args.all_distinct, args.seed + 1)
    n_cached_distinct = len(set(cached))
    print(f"\nthroughput, median of {args.repeat} (fresh Sentiment per run, analyzer build "
          "included)")
    print(f"{'case':46}{'mode':>10}{'seconds':>10}{'texts/s':>12}")
    cases = [
        (f"{len(cached):,} texts, {n_cached_distinct:,} distinct (cache)", cached, "cache"),
        (f"{len(distinct):,} texts, all distinct", distinct, "cache"),
        (f"{len(cached):,} texts one by one, no cache", cached, "loop"),
    ]
    for title, texts, how in cases:
        for mode, extended in (("stock", False), ("extended", True)):
            if how == "cache":
                def run(texts=texts, extended=extended):
                    Sentiment(extended=extended).score(texts)
            else:
                def run(texts=texts, extended=extended):
                    model = Sentiment(extended=extended)
                    polarity = model._get_analyzer().polarity_scores
                    prepared = model.prepare(pd.Series(texts, dtype=object))
                    [polarity(text)["compound"] for text in prepared]
            seconds = _median_seconds(run, 1 if how == "loop" else args.repeat)
            print(f"{title:46}{mode:>10}{seconds:10.3f}{len(texts) / seconds:12,.0f}")
    series = pd.Series(distinct, dtype=object)
    prepare = _median_seconds(lambda: Sentiment().prepare(series), args.repeat)
    build = _median_seconds(lambda: Sentiment()._get_analyzer(), args.repeat)
    print(f"  of which: phrase pre-pass on {len(distinct):,} distinct texts {prepare:.3f} s; "
          f"analyzer build (lexicon file) {build * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="texts of the cached case")
    parser.add_argument("--distinct", type=int, default=2_000,
                        help="distinct texts among --rows")
    parser.add_argument("--all-distinct", type=int, default=20_000,
                        help="texts of the all-distinct case")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--errors", action="store_true",
                        help="list the fixture texts the extended scorer gets wrong")
    args = parser.parse_args()

    frame = pd.read_csv(FIXTURE, keep_default_na=False)
    print_quality(frame, args.errors)
    sentences = [text.rstrip(".!?") for text in frame["text"]]
    print_throughput(sentences, args)


if __name__ == "__main__":
    main()
