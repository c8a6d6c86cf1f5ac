"""The command line: evaluate the models, score and export customers, plan a campaign.

Data errors exit 2, with no traceback."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from analytics.campaigns import cli as campaigns_cli
from analytics.errors import ChurnLensError
from analytics.export import SEGMENT, neutralise_frame, scored_table, write_csv, write_excel
from analytics.dataset import ACTIVE
from analytics.distributed import DEFAULT_PARTITION_ROWS
from analytics.evaluation import PSI_ALERT, PSI_WARN
from analytics.offers import load_catalogue, targeting
from analytics.pipeline import PROBABILITY, TIER
from analytics.recommend import OFFER_NAME, PROFIT
from analytics.runner import DataSource, compare_file, load_or_train

DEFAULT_OFFERS = str(Path(__file__).resolve().parent.parent / "data" / "offers.toml")


def _parser(default_cache_dir: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m analytics",
                                     description="ChurnLens analytics from the command line.")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p):
        p.add_argument("--data", metavar="PATH", help="a churn file (CSV, Excel, Parquet) or a "
                       "folder of linked tables (default: built-in demo data)")
        p.add_argument("--config", metavar="FILE.toml", help="dataset config: which column "
                       "is what (default: inferred from the file; see `inspect`)")
        p.add_argument("--demo-size", type=int, default=7043, metavar="N",
                       help="customers of demo data when no --data (default 7043)")
        p.add_argument("--demo-events", action="store_true",
                       help="demo data with usage, tickets, e-mails and plan changes")
        p.add_argument("--as-of", metavar="YYYY-MM-DD",
                       help="feature date for dated data (default: first churn month)")
        p.add_argument("--cache-dir", default=default_cache_dir, metavar="DIR",
                       help=f"cache directory (default {default_cache_dir})")
        p.add_argument("--no-cache", action="store_true", help="train without the cache")

    inspect = sub.add_parser("inspect", help="guess the dataset config of a file and say why")
    inspect.add_argument("--data", required=True, metavar="PATH",
                         help="the churn file, or a folder of linked tables")
    inspect.add_argument("--sheet", metavar="NAME", help="Excel: the sheet (default: first)")
    inspect.add_argument("--out", metavar="config.toml", help="write the config here")
    inspect.add_argument("--json", action="store_true", help="one JSON object on stdout")
    evaluate = sub.add_parser("evaluate", help="out-of-fold metrics of every model")
    common(evaluate)
    evaluate.add_argument("--json", action="store_true", help="one JSON object on stdout")
    evaluate.add_argument("--test", metavar="FILE", help="a held-out file in the same layout "
                          "(with the label): metrics of the trained model on it")
    demo = sub.add_parser("demo", help="write a generated churn file of another business")
    demo.add_argument("--layout", required=True, choices=_layouts())
    demo.add_argument("--rows", type=int, default=10_000, metavar="N")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--out", required=True, metavar="FILE")
    score = sub.add_parser("score", help="write id, probability, tier and top reasons to CSV")
    common(score)
    score.add_argument("--out", required=True, metavar="FILE.csv|DIR",
                       help="the CSV; with --engine dask a folder of Parquet parts")
    score.add_argument("--model-of", metavar="TRAINING_PATH", help="score --data (new "
                       "customers, no label needed) with the model trained on this source "
                       "(with --config as its config; 'demo' for the demo data)")
    score.add_argument("--engine", choices=("local", "dask"), default="local",
                       help="with --model-of: local, one process (default); dask, --data (a "
                       "Parquet file, folder or glob) in partitions on Dask, larger than memory")
    score.add_argument("--scheduler", metavar="ADDRESS", help="--engine dask: the Dask "
                       "scheduler (default: a LocalCluster of this machine, a worker per core)")
    score.add_argument("--partition-rows", type=int, default=DEFAULT_PARTITION_ROWS,
                       metavar="N", help="--engine dask: rows per task at most, in whole "
                       f"Parquet row groups (default {DEFAULT_PARTITION_ROWS:,})")
    score.add_argument("--include-churned", action="store_true",
                       help="also customers who already left (default: active customers)")
    export = sub.add_parser("export", help="the at-risk list (CSV or Excel), riskiest first")
    common(export)
    export.add_argument("--include-churned", action="store_true",
                        help="also customers who already left (default: active customers)")
    export.add_argument("--tier", action="append", choices=("High", "Medium", "Low"),
                        help="keep this risk tier (repeat for several)")
    export.add_argument("--segment", action="append", metavar="NAME",
                        help="keep this segment (repeat for several)")
    export.add_argument("--out", required=True, metavar="FILE.csv|FILE.xlsx")
    export.add_argument("--offers", default=DEFAULT_OFFERS, metavar="FILE.toml",
                        help="offer catalogue for the recommended offer and promo code "
                             "columns (default data/offers.toml)")
    drift = sub.add_parser("drift", help="population stability index of each feature: a "
                           "refreshed file scored by the model trained on --data")
    common(drift)
    drift.add_argument("--new", required=True, metavar="PATH",
                       help="the refreshed data file (same layout as --data)")
    drift.add_argument("--json", action="store_true", help="one JSON object on stdout")
    campaign = sub.add_parser("campaign", help="best offer per active customer: how many to "
                              "contact, expected profit, offer mix (model-implied)")
    common(campaign)
    campaign.add_argument("--offers", default=DEFAULT_OFFERS, metavar="FILE.toml",
                          help="offer catalogue (default data/offers.toml)")
    campaign.add_argument("--capacity", type=int, metavar="N",
                          help="the team can contact at most N customers")
    campaign.add_argument("--json", action="store_true", help="one JSON object on stdout")
    campaigns_cli.add_parser(sub, common, DEFAULT_OFFERS)
    return parser


def _progress(quiet_stdout: bool):
    start = time.perf_counter()
    stream = sys.stderr if quiet_stdout else sys.stdout

    def report(message: str) -> None:
        print(f"[{time.perf_counter() - start:6.1f}s] {message}", file=stream, flush=True)

    return report


def _print_evaluation(result: dict) -> None:
    print(f"\n{result['dataset']}: {result['n_customers']:,} customers, churn rate "
          f"{result['churn_rate']:.1%}")
    cv = result["cross_validation"]
    print(f"Out-of-fold metrics, {cv['folds']}-fold stratified CV on {cv['rows']:,} rows"
          f"{' (stratified sample)' if cv['sampled'] else ''}; threshold {cv['threshold']}")
    header = ("model", "roc_auc", "pr_auc", "brier", "log_loss", "recall", "precision", "f1")
    print("  ".join(f"{h:>20}" if i == 0 else f"{h:>9}" for i, h in enumerate(header)))
    for name, row in result["models"].items():
        cells = [f"{name:>20}"] + [f"{row[h]:9.4f}" for h in header[1:]]
        print("  ".join(cells))
    backtest = result.get("out_of_time_backtest")
    if backtest:
        m = backtest["metrics"]
        print(f"Out-of-time backtest: trained as of {backtest['train_as_of']}, tested on "
              f"customers active on {backtest['test_as_of']}: ROC-AUC {m['roc_auc']:.4f}, "
              f"PR-AUC {m['pr_auc']:.4f}, Brier {m['brier']:.4f}")
    held = result.get("held_out_test")
    if held:
        m = held["metrics"]
        print(f"Held-out test file {held['file']} ({held['n']:,} customers, churn rate "
              f"{held['churn_rate']:.1%}): ROC-AUC {m['roc_auc']:.4f}, PR-AUC "
              f"{m['pr_auc']:.4f}, Brier {m['brier']:.4f}")
    behaviour = result.get("behaviour")
    if behaviour:
        tables = ", ".join(f"{t['file']} ({t['rows']:,} rows, {t['role']})"
                           for t in behaviour["tables"])
        print(f"Behaviour as of {behaviour['as_of']} from {tables}: "
              f"{len(behaviour['features'])} features used")
        if behaviour.get("lift"):
            print(f"Behaviour check: {behaviour['lift']['verdict']}")
        for warning in behaviour["warnings"]:
            print(f"warning: {warning}")
    for warning in result["leakage_warnings"]:
        print(f"WARNING (possible leak): {warning['message']}")


def _listed(analysis, include_churned: bool) -> np.ndarray:
    """Lists hold the customers a team can still keep, unless asked for everyone."""
    active = analysis.customers[ACTIVE].to_numpy(dtype=bool)
    return np.ones(len(active), dtype=bool) if include_churned else active


def _export(analysis, args) -> None:
    out = Path(args.out)
    if out.suffix.lower() not in (".csv", ".xlsx"):
        raise ChurnLensError(f"{out}: --out must end in .csv or .xlsx")
    c = analysis.customers
    keep = _listed(analysis, args.include_churned)
    used = ["customers who left included" if args.include_churned else "active customers only"]
    if args.tier:
        keep &= c[TIER].isin(args.tier).to_numpy()
        used.append("risk tier = " + " or ".join(args.tier))
    if args.segment:
        names = set(c[SEGMENT].cat.categories) if SEGMENT in c else set()
        unknown = [s for s in args.segment if s not in names]
        if unknown:
            raise ChurnLensError(f"unknown segment {unknown[0]!r}; segments: "
                                 f"{', '.join(sorted(names)) or 'none'}")
        keep &= c[SEGMENT].isin(args.segment).to_numpy()
        used.append("segment = " + " or ".join(args.segment))
    rows = np.flatnonzero(keep)
    rows = rows[np.argsort(-c[PROBABILITY].to_numpy()[rows], kind="stable")]
    note = (f"ChurnLens at-risk list; {Path(str(analysis.source)).name}; filters: "
            f"{'; '.join(used)}; {len(rows):,} customers")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        writer = write_excel if out.suffix.lower() == ".xlsx" else write_csv
        writer(analysis, rows, out, note)
    except ValueError as exc:
        raise ChurnLensError(str(exc)) from None
    print(f"wrote {len(rows):,} customers to {out}", file=sys.stderr)


def _campaign(analysis, args) -> None:
    recs = analysis.recommendations
    active = analysis.customers[ACTIVE].to_numpy(dtype=bool)
    profit = recs[PROFIT].to_numpy(dtype=float)[active]
    plan = targeting(profit, capacity=args.capacity)
    mix = recs.loc[active & (recs[PROFIT].to_numpy() > 0), OFFER_NAME].value_counts()
    result = {"dataset": analysis.source, "active_customers": int(active.sum()),
              "contact_for_max_profit": plan["best_size"],
              "max_expected_profit": round(plan["best_total"], 2),
              "capacity": plan["capacity"], "contact_with_capacity": plan["capacity_size"],
              "expected_profit_with_capacity": (None if plan["capacity_total"] is None
                                                else round(plan["capacity_total"], 2)),
              "offer_mix": {str(k): int(v) for k, v in mix.items() if v},
              "contact_cost": analysis.catalogue.contact_cost,
              "note": "expected profit = a x ((p0 - p1) x CLV - c) - k; p1 is model-implied"}
    if args.json:
        print(json.dumps(result))
        return
    print(f"\n{analysis.source}: {result['active_customers']:,} active customers")
    print(f"Contact {plan['best_size']:,} customers for the largest expected profit: "
          f"{plan['best_total']:,.0f}")
    if plan["capacity"] is not None:
        print(f"With a capacity of {plan['capacity']:,}: contact {plan['capacity_size']:,}, "
              f"expected profit {plan['capacity_total']:,.0f}")
    for name, count in result["offer_mix"].items():
        print(f"  {count:>9,}  {name}")
    print("Offer effects are model-implied (the model re-scores the customer with the offer), "
          "not measured causal effects.")


def _drift(analysis, args) -> None:
    drift = compare_file(analysis, args.new, args.as_of)
    result = {"reference": analysis.source, "new": drift["source"], "n_new": drift["n"],
              "mean_score_new": round(drift["mean_score_now"], 4),
              "thresholds": {"moderate": PSI_WARN, "large": PSI_ALERT},
              "features": [{**r, "psi": None if r["psi"] is None else round(r["psi"], 4)}
                           for r in drift["rows"]]}
    if args.json:
        print(json.dumps(result))
        return
    print(f"\nDrift of {drift['source']} ({drift['n']:,} customers) against the training data "
          f"of {analysis.source}; mean score now {result['mean_score_new']:.1%}")
    for r in result["features"]:
        psi_text = "   -  " if r["psi"] is None else f"{r['psi']:6.3f}"
        print(f"  {r['feature']:>20}  {psi_text}  {r['level']}")
    print(f"PSI above {PSI_WARN} is a moderate shift, above {PSI_ALERT} a large one.")


def _layouts() -> tuple[str, ...]:
    from analytics.data.layouts import LAYOUTS

    return (*LAYOUTS, *FOLDER_LAYOUTS)


# Layouts written as a folder of linked tables (--out is the folder).
FOLDER_LAYOUTS = ("saas", "saas-no-signal")


def _inspect(args) -> int:
    from analytics.data.inspect import inspect_frame
    from analytics.loaders import is_telco_layout

    from analytics.loaders import read_best_sheet

    if Path(args.data).is_dir():
        return _inspect_folder(args)
    raw, info = read_best_sheet(Path(args.data), {"sheet": args.sheet})
    inspection = inspect_frame(raw, args.data)
    if is_telco_layout(raw.columns):
        inspection.layout = "IBM Telco layout: the built-in config applies"
    if args.sheet or (info.sheets and len(info.sheets) > 1):
        from dataclasses import replace

        inspection.config = replace(inspection.config, sheet=info.sheet)
    if args.out:
        Path(args.out).write_text(inspection.toml(), encoding="utf-8")
    if args.json:
        print(json.dumps({"file": args.data, "read": info.as_dict(),
                          "config": inspection.toml(), "problems": inspection.problems,
                          "warnings": inspection.warnings,
                          "guesses": [vars(g) for g in inspection.guesses],
                          "excluded": [{"column": c, "reason": r}
                                       for c, r in inspection.excluded],
                          "label_balance": inspection.label_balance}))
    else:
        print(f"read as {info.describe()}" + (f"; {info.note}" if getattr(info, "note", None)
                                               else ""))
        print(inspection.report())
        if args.out:
            print(f"wrote {args.out}" + ("" if not inspection.problems else
                                         " (settle the PROBLEM lines before using it)"))
    return 2 if inspection.problems else 0


def _inspect_folder(args) -> int:
    from analytics.data.folder import inspect_folder

    result = inspect_folder(args.data)
    if args.out:
        Path(args.out).write_text(result.toml(), encoding="utf-8")
    if args.json:
        main = result.main
        print(json.dumps({"folder": args.data, "config": result.toml(),
                          "tables": result.tables, "problems": result.problems,
                          "warnings": result.warnings,
                          "guesses": [vars(g) for g in main.guesses] if main else [],
                          "excluded": [{"column": c, "reason": r}
                                       for c, r in (main.excluded if main else [])]}))
    else:
        print(result.report())
        if args.out:
            print(f"wrote {args.out}" + ("" if not result.problems else
                                         " (settle the PROBLEM lines before using it)"))
    return 2 if result.problems else 0


def _score_new(analysis, args) -> None:
    from analytics.loaders import read_best_sheet
    from analytics.scoring import score_file

    config = analysis.config
    options = {} if config is None else config.read_options()
    raw, _ = read_best_sheet(Path(args.data), options)
    scored, report = score_file(raw, analysis, args.data)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    neutralise_frame(scored).to_csv(out, index=False)
    print(f"wrote {len(scored):,} customers scored by the model of {analysis.source} to {out}",
          file=sys.stderr)
    _print_score_warnings(report)


def _score_dask(analysis, args) -> None:
    from analytics.distributed import score_parquet

    run = score_parquet(args.data, analysis, args.out, scheduler=args.scheduler,
                        partition_rows=args.partition_rows,
                        progress=_progress(quiet_stdout=True))
    rate = run.rows / max(run.seconds, 1e-9)
    print(f"wrote {run.rows:,} customers scored by the model of {analysis.source} to "
          f"{run.out} ({run.partitions:,} Parquet part(s); {rate:,.0f} rows/s on "
          f"{run.workers} Dask worker(s))", file=sys.stderr)
    _print_score_warnings(run.report)


def _check_engine(args) -> None:
    if args.engine == "dask" and not args.model_of:
        raise ChurnLensError("--engine dask scores new customers: give --model-of (the "
                             "training source) and --data (their Parquet files)")
    if args.engine == "local" and args.scheduler:
        raise ChurnLensError("--scheduler needs --engine dask")


def _print_score_warnings(report: dict) -> None:
    """The warnings of a `score_file` report, one line per column, to stderr."""
    for field, info in report["unknown_categories"].items():
        shown = ", ".join(f"{k!r} ({v:,})" for k, v in info["examples"].items())
        print(f"warning: {field}: {info['n']:,} value(s) the model never saw, scored as "
              f"missing: {shown}", file=sys.stderr)
    for field, info in report["out_of_range"].items():
        print(f"warning: {field}: {info['n']:,} value(s) outside the training range "
              f"{info['low']:g} to {info['high']:g} (flagged, scored anyway)", file=sys.stderr)
    for field, n in report["not_numbers"].items():
        print(f"warning: {field}: {n:,} cell(s) not a number, scored as missing",
              file=sys.stderr)


def _held_out(analysis, path: str) -> dict:
    """Metrics of the trained model on a labelled held-out file (same layout)."""
    from analytics.loaders import load_path
    from analytics.model import metrics

    table = load_path(path, config=analysis.config)
    frame = table.customers.drop(columns=["scored_by"], errors="ignore")
    for feature in analysis.categorical:
        if feature in frame:
            frame[feature] = frame[feature].astype(str).astype("category")
    from analytics.scoring import file_features

    features, report = file_features(frame, analysis, path)
    y = table.customers["churn"].to_numpy().astype(int)
    proba = analysis.model.predict_proba(features)
    result = {k: round(v, 4) for k, v in metrics(y, proba, analysis.settings.threshold).items()}
    return {"file": path, "n": int(len(y)), "churn_rate": round(float(y.mean()), 4),
            "metrics": result, "unknown_categories": report["unknown_categories"],
            "out_of_range": report["out_of_range"]}


def main(argv: list[str] | None = None, default_cache_dir: str = ".cache") -> int:
    args = _parser(default_cache_dir).parse_args(argv)
    as_json = getattr(args, "json", False)
    try:
        if args.command == "inspect":
            return _inspect(args)
        if args.command == "demo":
            from analytics.data.layouts import write_layout

            if args.rows < 1:
                raise ChurnLensError("--rows must be at least 1")
            if args.layout in FOLDER_LAYOUTS:
                from analytics.data.saas import write_saas

                path = write_saas(args.out, n_accounts=args.rows, seed=args.seed,
                                  signal=args.layout == "saas")
                print(f"wrote {args.rows:,} accounts ({args.layout}: accounts, subscriptions, "
                      f"feature usage, support tickets, churn events) to {path}",
                      file=sys.stderr)
                return 0
            path = write_layout(args.layout, args.rows, args.out, seed=args.seed)
            print(f"wrote {args.rows:,} rows ({args.layout}) to {path}", file=sys.stderr)
            return 0
    except ChurnLensError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    training = getattr(args, "model_of", None)
    path = args.data if not training else (None if training == "demo" else training)
    source = DataSource(path=path, demo_size=args.demo_size, as_of=args.as_of,
                        config=args.config, demo_events=args.demo_events)
    try:
        if training and not args.data:
            raise ChurnLensError("--model-of needs --data: the new customers to score")
        if args.demo_size < 1:
            raise ChurnLensError("--demo-size must be at least 1")
        if args.command == "score":
            _check_engine(args)
        catalogue = (load_catalogue(args.offers)
                     if args.command in ("export", "campaign", "campaigns") else None)
        analysis, _ = load_or_train(source, cache_dir=None if args.no_cache else args.cache_dir,
                                    progress=_progress(quiet_stdout=as_json),
                                    catalogue=catalogue)
        if args.command == "evaluate":
            result = analysis.evaluation()
            if args.test:
                result["held_out_test"] = _held_out(analysis, args.test)
            if as_json:
                print(json.dumps(result))
            else:
                _print_evaluation(result)
        elif args.command == "score" and training:
            (_score_dask if args.engine == "dask" else _score_new)(analysis, args)
        elif args.command == "score":
            out = Path(args.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            rows = np.flatnonzero(_listed(analysis, args.include_churned))
            neutralise_frame(scored_table(analysis, rows)).to_csv(out, index=False)
            who = "customers" if args.include_churned else "active customers"
            print(f"wrote {len(rows):,} {who} to {out}", file=sys.stderr)
        elif args.command == "export":
            _export(analysis, args)
        elif args.command == "campaign":
            _campaign(analysis, args)
        elif args.command == "drift":
            _drift(analysis, args)
        elif args.command == "campaigns":
            campaigns_cli.run(args, analysis, source, _progress(quiet_stdout=True))
    except ChurnLensError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
