"""`python -m analytics campaigns list|create|outcomes|report`: the campaign store from the
command line, with the same data options as the other commands (--data, --config, ...)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import numpy as np

from analytics.campaigns import outcomes as oc
from analytics.campaigns import planner, records
from analytics.campaigns.arms import TREATMENT
from analytics.campaigns.demo import seed_demo_campaign
from analytics.campaigns.snapshots import take_snapshot
from analytics.campaigns.store import CampaignStore, default_url
from analytics.dataset import END_DATE, ID
from analytics.errors import ChurnLensError
from analytics.export import neutralise_frame
from analytics.pipeline import SEGMENT, TIER

ACTIONS = ("list", "create", "outcomes", "report", "rules", "close")


def add_parser(sub, common, default_offers: str) -> None:
    """The `campaigns` command and its options."""
    p = sub.add_parser("campaigns", help="record campaigns with a control group, import "
                       "outcomes, report the measured effect")
    p.add_argument("action", choices=ACTIONS)
    common(p)
    p.add_argument("--db", metavar="URL", help="campaign store, any SQLAlchemy URL (default: "
                   "SQLite beside the cache, <cache-dir>.campaigns.db)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--offers", default=default_offers, metavar="FILE.toml",
                   help="offer catalogue (default data/offers.toml)")
    p.add_argument("--campaign", metavar="ID|NAME", help="outcomes, report, close: which "
                   "campaign (report: default every campaign)")
    p.add_argument("--name", help="create: the campaign's name")
    p.add_argument("--tier", action="append", choices=("High", "Medium", "Low"),
                   help="create: target this risk tier (repeat for several)")
    p.add_argument("--segment", action="append", metavar="NAME",
                   help="create: target this segment (repeat for several)")
    p.add_argument("--capacity", type=int, metavar="N", help="create: at most N members "
                   "(default: every customer with a positive expected profit, or the High "
                   "tier without revenue)")
    p.add_argument("--offer", action="append", metavar="ID", help="create: only customers "
                   "whose best offer is this one (repeat for several)")
    p.add_argument("--control-share", type=float, default=0.10, metavar="SHARE",
                   help="create: share held out as the control group (default 0.10)")
    p.add_argument("--seed", type=int, help="create: seed of the control group (default: "
                   "random, printed and recorded)")
    p.add_argument("--horizon-days", type=int, default=90, metavar="DAYS",
                   help="create: outcome window (default 90)")
    p.add_argument("--include-enrolled", action="store_true", help="create: also customers "
                   "already in a running campaign")
    p.add_argument("--out", metavar="FILE.csv", help="create: write the treatment list to "
                   "contact (never the control group)")
    p.add_argument("--file", metavar="PATH", help="outcomes: an outcomes file (customer id, "
                   "accepted, redeemed, churned, date)")
    p.add_argument("--from-data", action="store_true", help="outcomes: churn of the members "
                   "in --data, a later refresh of the same customers")
    p.add_argument("--rules", metavar="FILE.toml", help="rules: the enrolment rules to run on "
                   "--data (see data/rules.example.toml), then send the outbox")
    p.add_argument("--dry-run", action="store_true", help="rules: say who would be enrolled, "
                   "record nothing")


def open_store(args) -> CampaignStore:
    if args.db:
        return CampaignStore.open(args.db)
    if args.no_cache or not args.cache_dir:
        raise ChurnLensError("campaigns need a store: give --db URL (or a --cache-dir)")
    return CampaignStore.open(default_url(args.cache_dir))


def run(args, analysis, source, progress) -> None:
    """Run one action on the loaded analysis; output to stdout (JSON with --json)."""
    store = open_store(args)
    version = source.fingerprint()
    take_snapshot(store, analysis, version, source.label())
    if source.path is None:
        done = seed_demo_campaign(store, analysis, version, source.label(), seed=source.seed)
        if done:
            progress(f"recorded the demo's simulated past campaign ({done['members']:,} "
                     f"members, true uplift {done['true_uplift']:.1%})")
    result = {"list": _list, "create": _create, "outcomes": _outcomes, "report": _report,
              "rules": _rules, "close": _close}[args.action](store, args, analysis, version,
                                                             source)
    if args.json:
        print(json.dumps(result, default=str))
    store.close()


def _list(store, args, *_):
    items = records.list_campaigns(store)
    if not args.json:
        if not items:
            print(f"no campaigns in {store.name}")
        for i in items:
            print(f"{i['id']:>4}  {i['name']:<40} {i['status']:<8} {i['created_at'][:10]}  "
                  f"{i['members']:>8,} members ({i['control']:,} held out), "
                  f"{i['outcomes']:,} outcomes")
    return {"store": store.name, "campaigns": items}


def _create(store, args, analysis, version, source):
    if not args.name:
        raise ChurnLensError("campaigns create needs --name")
    c = analysis.customers
    keep = np.ones(len(c), dtype=bool)
    if args.tier:
        keep &= c[TIER].astype(str).isin(args.tier).to_numpy()
    if args.segment:
        if SEGMENT not in c:
            raise ChurnLensError("this data has no segments")
        keep &= c[SEGMENT].astype(str).isin(args.segment).to_numpy()
    rows = planner.target_rows(analysis, keep, args.capacity, tuple(args.offer or ()))
    seed = args.seed if args.seed is not None else secrets.randbelow(1_000_000)
    plan = planner.plan(analysis, rows, args.control_share, seed, store, args.include_enrolled)
    spec = records.CampaignSpec(
        name=args.name, start_date=np.datetime64("today").astype(str),
        horizon_days=args.horizon_days, offers=tuple(sorted(set(plan.members["offer"]))),
        target={"tier": args.tier, "segment": args.segment, "capacity": args.capacity,
                "offers": args.offer},
        data_version=version, source=source.label(),
        contact_cost=float(getattr(analysis.catalogue, "contact_cost", 0.0) or 0.0),
        currency=str(getattr(analysis.config, "currency", "") or ""))
    campaign_id = planner.create(store, plan, spec)
    summary = {"id": campaign_id, "name": args.name, **plan.summary()}
    if args.out:
        frame = plan.members[plan.members["arm"] == TREATMENT]
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        neutralise_frame(frame.drop(columns=["arm"])).to_csv(out, index=False)
        summary["treatment_list"] = str(out)
    if not args.json:
        mde = summary["mde"]
        print(f"campaign {campaign_id} {args.name!r}: {summary['members']:,} members, "
              f"{summary['control']:,} held out (seed {seed}); "
              f"{summary['excluded']:,} already in a running campaign left out")
        print("smallest churn reduction this campaign can detect (80% power, 5% level): "
              + (f"{mde * 100:.1f} points" if mde is not None else "unknown"))
        if args.out:
            print(f"treatment list ({summary['treatment']:,} customers) written to {args.out}")
    return summary


def _outcomes(store, args, analysis, version, source):
    if not args.campaign:
        raise ChurnLensError("campaigns outcomes needs --campaign ID|NAME")
    record = records.find_campaign(store, args.campaign)
    if args.file:
        result = oc.import_outcomes(store, record["id"], args.file)
    elif args.from_data:
        c = analysis.customers
        members = records.campaign_members(store, record["id"])["customer_id"]
        found, missing = oc.outcomes_from_refresh(
            members, c[ID].astype(str).to_numpy(), c["churn"].to_numpy(),
            c[END_DATE].to_numpy() if END_DATE in c else None, record["start_date"],
            record["horizon_days"])
        rows = oc.write_outcomes(store, record["id"], found, f"refresh {version}")
        result = {"campaign": record["id"], "rows": rows, "missing": missing,
                  "source": f"refresh {source.label()}"}
    else:
        raise ChurnLensError("campaigns outcomes needs --file PATH or --from-data")
    if not args.json:
        print(f"campaign {record['id']} {record['name']!r}: {result['rows']:,} outcomes from "
              f"{result['source']}")
    return result


def _rules(store, args, analysis, version, source):
    from analytics.campaigns import outbox, rules
    if not args.rules:
        raise ChurnLensError("campaigns rules needs --rules FILE.toml")
    ruleset = rules.load_rules(args.rules, catalogue=analysis.catalogue)
    results = rules.run_rules(store, analysis, ruleset, version, dry_run=args.dry_run,
                              source=source.label())
    sent = None if args.dry_run else outbox.deliver(store, ruleset.outbox)
    if not args.json:
        for item in results:
            print(f"{item['rule']}: {item.get('skipped') or item.get('note')}")
        if sent is not None:
            print(f"outbox: {sent['sent']} batch(es) sent, {sent['failed']} failed (kept, "
                  f"retried on the next run), {sent['pending']} pending")
    return {"rules": results, "outbox": sent}


def _close(store, args, *_):
    """A campaign that is over: its members can be enrolled again."""
    if not args.campaign:
        raise ChurnLensError("campaigns close needs --campaign ID|NAME")
    record = records.find_campaign(store, args.campaign)
    records.set_status(store, record["id"], "closed")
    if not args.json:
        print(f"campaign {record['id']} {record['name']!r} closed: its {record['members']:,} "
              "members can be enrolled in new campaigns")
    return {"campaign": record["id"], "status": "closed"}


def _report(store, args, *_):
    items = ([records.find_campaign(store, args.campaign)] if args.campaign
             else records.list_campaigns(store))
    reports = [planner.campaign_report(store, i["id"]) for i in items]
    if not args.json:
        for report in reports:
            _print_report(report)
    return {"store": store.name, "campaigns": reports}


def _pct(value) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def _print_report(r: dict) -> None:
    c, e = r["campaign"], r.get("effect") or {}
    print(f"\n{c['id']} {c['name']} ({c['status']}, {c['created_at'][:10]})"
          + ("  [simulated]" if c["simulated"] else ""))
    print(f"  members: {r['arms']['treatment']:,} treated, {r['arms']['control']:,} held out; "
          f"outcomes for {r['outcomes']:,}")
    print(f"  churn: treated {_pct(r['churn']['treatment'])}, held out "
          f"{_pct(r['churn']['control'])}")
    if e.get("uplift") is not None:
        print(f"  measured uplift: {e['uplift'] * 100:.1f} points (95% CI "
              f"{e['low'] * 100:.1f} to {e['high'] * 100:.1f}; {e['test']} p = "
              f"{e['p_value']:.3g})")
    assumed = (r.get("assumed") or {}).get("uplift_with_acceptance")
    print(f"  assumed uplift (model-implied, at the assumed acceptance): {_pct(assumed)}")
    a = r.get("acceptance") or {}
    print(f"  acceptance: measured {_pct(a.get('acceptance_measured'))}, assumed "
          f"{_pct(a.get('acceptance_assumed'))}")
    p = r.get("profit") or {}
    if p.get("realised_profit") is not None:
        print(f"  profit: realised {p['realised_profit']:,.0f} (estimate), expected "
              f"{p['expected_profit']:,.0f}; ROI "
              + ("–" if p.get("roi") is None else f"{p['roi']:.2f}"))
    if e.get("verdict"):
        print(f"  {e['verdict']}")
    if r.get("mde") is not None:
        print(f"  smallest detectable effect: {r['mde'] * 100:.1f} points")


__all__ = ["ACTIONS", "add_parser", "run"]
