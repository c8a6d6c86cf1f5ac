"""Dashboard settings: where the data is, where the cache lives, how to serve."""

from __future__ import annotations

import argparse
import ipaddress
import os
from pathlib import Path
from dataclasses import dataclass

DEFAULT_CACHE_DIR = ".cache"
DEFAULT_UPLOAD_DIR = str(Path(__file__).resolve().parent.parent / "data" / "uploads")
DEFAULT_OFFERS = str(Path(__file__).resolve().parent.parent / "data" / "offers.toml")
DEFAULT_USERS = str(Path(__file__).resolve().parent.parent / "data" / "users.toml")
DEBUG_HOST_ERROR = ("--debug serves the Werkzeug debugger (source code, tracebacks, a "
                    "console) to whoever triggers an error: it is only allowed on a local "
                    "address (127.0.0.1, localhost or ::1), not on --host {host}")


def is_loopback(host: str) -> bool:
    """True for an address only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    """Everything `create_app` needs. Plain values only (JSON-safe)."""

    data_path: str | None = None
    config_path: str | None = None    # the dataset config (default: inferred from the file)
    demo_size: int = 7043
    demo_events: bool = True          # the demo data with usage, tickets, e-mails, plans
    seed: int = 0
    as_of: str | None = None
    cache_dir: str | None = DEFAULT_CACHE_DIR
    host: str = "127.0.0.1"
    port: int = 8050
    debug: bool = False
    tier_high: float = 0.5
    tier_medium: float = 0.25
    margin: float = 0.6
    annual_discount: float = 0.10
    horizon_months: int = 60
    offers_path: str = DEFAULT_OFFERS
    compare_path: str | None = None   # a refreshed data file to check for drift
    upload_dir: str = DEFAULT_UPLOAD_DIR  # where files loaded in the browser are kept
    upload_max_mb: int = 500
    db_url: str | None = None         # the campaign store (default: SQLite beside the cache)
    rules_path: str | None = None     # enrolment rules run on each data refresh
    demo_campaign: bool = True        # record the demo's simulated past campaign
    allowed_hosts: tuple[str, ...] = ()  # Host names answered besides the bound address
    login: bool = False               # require login even on a loopback address
    users_path: str = DEFAULT_USERS   # users, roles (hashed passwords) and API tokens

    @property
    def login_required(self) -> bool:
        """Login is off on a loopback address (unless --login) and required on any other."""
        return self.login or not is_loopback(self.host)

    def __post_init__(self) -> None:
        if self.debug and not is_loopback(self.host):
            raise ValueError(DEBUG_HOST_ERROR.format(host=self.host))

    @classmethod
    def from_args(cls, argv: list[str] | None = None) -> Settings:
        """Parse `python app.py` arguments; CHURNLENS_CACHE_DIR sets the default cache."""
        parser = argparse.ArgumentParser(prog="python app.py",
                                         description="Start the ChurnLens dashboard.")
        parser.add_argument("--data", metavar="PATH",
                            help="a churn file (CSV, Excel, Parquet) or a folder of linked "
                                 "tables (default: demo data with behaviour)")
        parser.add_argument("--config", metavar="FILE.toml",
                            help="dataset config: which column is what (default: inferred; "
                                 "python -m analytics inspect --data FILE writes one)")
        parser.add_argument("--demo-size", type=int, default=7043, metavar="N",
                            help="customers of demo data when no --data (default 7043)")
        parser.add_argument("--no-demo-events", action="store_true",
                            help="demo data without its event tables (usage, tickets, "
                                 "e-mails, plan changes): the plain Telco-like demo")
        parser.add_argument("--as-of", metavar="YYYY-MM-DD",
                            help="feature date for dated data (default: first churn month, "
                                 "or the last date less the outcome window for churn events)")
        parser.add_argument("--cache-dir", metavar="DIR",
                            default=os.environ.get("CHURNLENS_CACHE_DIR", DEFAULT_CACHE_DIR),
                            help="cache directory (default .cache or $CHURNLENS_CACHE_DIR)")
        parser.add_argument("--host", default="127.0.0.1",
                            help="address to listen on (default 127.0.0.1, this machine only)")
        parser.add_argument("--port", type=int, default=8050)
        parser.add_argument("--debug", action="store_true",
                            help="Dash dev tools, reload and the Werkzeug debugger; only with "
                                 "a local --host (127.0.0.1, localhost, ::1)")
        parser.add_argument("--tier-high", type=float, default=cls.tier_high, metavar="P",
                            help="churn probability from which a customer is High risk "
                                 f"(default {cls.tier_high}; a cut-off saved from the Model "
                                 "page overrides it for that dataset: see settings.json in "
                                 "the cache folder)")
        parser.add_argument("--tier-medium", type=float, default=cls.tier_medium, metavar="P",
                            help=f"... Medium risk (default {cls.tier_medium})")
        parser.add_argument("--margin", type=float, default=cls.margin,
                            help=f"monthly margin as a share of charges (default {cls.margin})")
        parser.add_argument("--annual-discount", type=float, default=cls.annual_discount,
                            help=f"discount rate a year for CLV (default {cls.annual_discount})")
        parser.add_argument("--offers", default=DEFAULT_OFFERS, metavar="FILE.toml",
                            help="offer catalogue (default data/offers.toml)")
        parser.add_argument("--compare", metavar="PATH",
                            help="a refreshed data file (same layout as --data) to score with "
                                 "the current model and check for drift on the Model page")
        parser.add_argument("--upload-dir", default=DEFAULT_UPLOAD_DIR, metavar="DIR",
                            help="where files loaded in the browser are kept (default "
                                 "data/uploads)")
        parser.add_argument("--upload-max-mb", type=int, default=500, metavar="MB",
                            help="largest file the browser may load (default 500 MB)")
        parser.add_argument("--db", metavar="URL",
                            help="campaign store, any SQLAlchemy URL (default: SQLite beside "
                                 "the cache, <cache-dir>.campaigns.db)")
        parser.add_argument("--rules", metavar="FILE.toml",
                            help="enrolment rules run on each data refresh (see "
                                 "data/rules.example.toml)")
        parser.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                            help="a host name the server answers to (the Host header), besides "
                                 "the --host address and, on a loopback address or on 0.0.0.0 "
                                 "/ ::, localhost, 127.0.0.1 and ::1; on 0.0.0.0 or :: give "
                                 "every name users type, such as the machine's name or LAN "
                                 "address; repeat for several (any other name gets a 400)")
        parser.add_argument("--login", action="store_true",
                            help="require login on a loopback address too (it is always "
                                 "required on any other address)")
        parser.add_argument("--users", default=DEFAULT_USERS, metavar="FILE.toml",
                            help="users, roles and API tokens (default data/users.toml; "
                                 "python -m dashboard.users add NAME --role admin)")
        parser.add_argument("--horizon", type=int, default=cls.horizon_months, metavar="MONTHS",
                            help=f"CLV horizon in months (default {cls.horizon_months})")
        args = parser.parse_args(argv)
        if not 0 <= args.tier_medium < args.tier_high <= 1:
            parser.error("tier thresholds must satisfy 0 <= --tier-medium < --tier-high <= 1")
        if args.debug and not is_loopback(args.host):
            parser.error(DEBUG_HOST_ERROR.format(host=args.host))  # exit status 2
        return cls(data_path=args.data, config_path=args.config, demo_size=args.demo_size,
                   demo_events=not args.no_demo_events, as_of=args.as_of,
                   cache_dir=args.cache_dir, host=args.host, port=args.port, debug=args.debug,
                   tier_high=args.tier_high, tier_medium=args.tier_medium, margin=args.margin,
                   annual_discount=args.annual_discount, horizon_months=args.horizon,
                   offers_path=args.offers, compare_path=args.compare,
                   upload_dir=args.upload_dir, upload_max_mb=args.upload_max_mb,
                   db_url=args.db, rules_path=args.rules,
                   allowed_hosts=tuple(args.allowed_host), login=args.login,
                   users_path=args.users)
