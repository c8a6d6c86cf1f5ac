"""The store's tables (SQLAlchemy Core). The schema itself is made and changed only by the
Alembic migrations in `migrations/versions`; a test checks they match these definitions."""

from __future__ import annotations

from sqlalchemy import (Boolean, Column, DateTime, Float, ForeignKey, Index, Integer,
                        LargeBinary, MetaData, String, Table, Text, UniqueConstraint)

metadata = MetaData()

campaigns = Table(
    "campaigns", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("status", String(20), nullable=False, default="running"),  # running / closed
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("start_date", String(10), nullable=False),     # ISO date the outcome window opens
    Column("horizon_days", Integer, nullable=False),
    Column("control_share", Float, nullable=False),
    Column("seed", Integer, nullable=False),
    Column("strata", Text, nullable=False),                # JSON list of column names
    Column("offers", Text, nullable=False),                # JSON list of offer ids
    Column("target", Text, nullable=False),                # JSON: filters, size rule, capacity
    Column("data_version", String(64), nullable=False),
    Column("source", Text, nullable=False, default=""),
    Column("contact_cost", Float, nullable=False, default=0.0),
    Column("currency", String(8), nullable=False, default=""),
    Column("members", Integer, nullable=False),
    Column("control", Integer, nullable=False),
    Column("expected_profit", Float, nullable=True),
    Column("mde", Float, nullable=True),                   # at creation, fraction of customers
    Column("simulated", Boolean, nullable=False, default=False),
    Column("rule", String(200), nullable=True),            # the rule that enrolled them
)

members = Table(
    "members", metadata,
    Column("campaign_id", Integer, ForeignKey("campaigns.id", ondelete="CASCADE"),
           primary_key=True),
    Column("customer_id", String(200), primary_key=True),
    Column("arm", String(10), nullable=False),             # treatment / control
    Column("offer", String(100), nullable=False),
    Column("promo_code", String(40), nullable=False, default=""),
    Column("p0", Float, nullable=False),
    Column("p1", Float, nullable=True),
    Column("expected_profit", Float, nullable=True),
    Column("clv", Float, nullable=True),
    Column("acceptance", Float, nullable=True),
    Column("offer_cost", Float, nullable=True),
    Column("tier", String(20), nullable=False),
    Column("segment", String(200), nullable=True),
    Column("data_version", String(64), nullable=False),
    Index("ix_members_customer", "customer_id"),
)

outcomes = Table(
    "outcomes", metadata,
    Column("campaign_id", Integer, ForeignKey("campaigns.id", ondelete="CASCADE"),
           primary_key=True),
    Column("customer_id", String(200), primary_key=True),
    Column("accepted", Boolean, nullable=True),
    Column("redeemed", Boolean, nullable=True),
    Column("churned", Boolean, nullable=True),
    Column("outcome_date", String(10), nullable=True),
    Column("source", Text, nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
)

imports = Table(
    "outcome_imports", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", Integer, ForeignKey("campaigns.id", ondelete="CASCADE"),
           nullable=False),
    Column("source", Text, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
)

# --- revision 0002: risk over time, rules, the outbox, catalogue changes -------------------
snapshots = Table(
    "snapshots", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("taken_at", DateTime(timezone=True), nullable=False),
    Column("data_version", String(64), nullable=False, unique=True),
    Column("source", Text, nullable=False, default=""),
    Column("as_of", String(10), nullable=True),
    Column("customers", Integer, nullable=False),
    Column("summary", Text, nullable=False),              # JSON: churn, risk mix, revenue
    Column("sample", LargeBinary, nullable=True),          # Parquet: a feature sample (drift)
)

snapshot_chunks = Table(
    "snapshot_chunks", metadata,
    Column("snapshot_id", Integer, ForeignKey("snapshots.id", ondelete="CASCADE"),
           primary_key=True),
    Column("chunk", Integer, primary_key=True),
    Column("rows", Integer, nullable=False),
    Column("ids", LargeBinary, nullable=False),            # zlib of newline-joined ids
    Column("probability", LargeBinary, nullable=False),    # zlib of float32
    Column("tier", LargeBinary, nullable=False),           # zlib of int8 (0 Low, 1 Med, 2 High)
)

rule_runs = Table(
    "rule_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule", String(200), nullable=False),
    Column("data_version", String(64), nullable=False),
    Column("ran_at", DateTime(timezone=True), nullable=False),
    Column("matched", Integer, nullable=False),
    Column("enrolled", Integer, nullable=False),
    Column("held_out", Integer, nullable=False),
    Column("campaign_id", Integer, ForeignKey("campaigns.id", ondelete="SET NULL"),
           nullable=True),
    UniqueConstraint("rule", "data_version", name="uq_rule_runs_rule_version"),
)

outbox = Table(
    "outbox", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", Integer, ForeignKey("campaigns.id", ondelete="CASCADE"),
           nullable=False),
    Column("batch", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("payload", Text, nullable=False),               # JSON list of treated members
    Column("rows", Integer, nullable=False),
    Column("status", String(10), nullable=False),          # pending / sent / failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("campaign_id", "batch", name="uq_outbox_campaign_batch"),
)

catalogue_changes = Table(
    "catalogue_changes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Column("offer", String(100), nullable=False),
    Column("field", String(40), nullable=False),
    Column("old", Float, nullable=True),
    Column("new", Float, nullable=True),
    Column("evidence", Text, nullable=False),              # JSON: campaigns, n, interval
)
