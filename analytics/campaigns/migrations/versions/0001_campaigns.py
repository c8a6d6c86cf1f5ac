"""Campaigns, their members, outcomes and outcome imports.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("start_date", sa.String(10), nullable=False),
        sa.Column("horizon_days", sa.Integer, nullable=False),
        sa.Column("control_share", sa.Float, nullable=False),
        sa.Column("seed", sa.Integer, nullable=False),
        sa.Column("strata", sa.Text, nullable=False),
        sa.Column("offers", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("data_version", sa.String(64), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("contact_cost", sa.Float, nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("members", sa.Integer, nullable=False),
        sa.Column("control", sa.Integer, nullable=False),
        sa.Column("expected_profit", sa.Float, nullable=True),
        sa.Column("mde", sa.Float, nullable=True),
        sa.Column("simulated", sa.Boolean, nullable=False),
        sa.Column("rule", sa.String(200), nullable=True),
    )
    op.create_table(
        "members",
        sa.Column("campaign_id", sa.Integer,
                  sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("customer_id", sa.String(200), primary_key=True),
        sa.Column("arm", sa.String(10), nullable=False),
        sa.Column("offer", sa.String(100), nullable=False),
        sa.Column("promo_code", sa.String(40), nullable=False),
        sa.Column("p0", sa.Float, nullable=False),
        sa.Column("p1", sa.Float, nullable=True),
        sa.Column("expected_profit", sa.Float, nullable=True),
        sa.Column("clv", sa.Float, nullable=True),
        sa.Column("acceptance", sa.Float, nullable=True),
        sa.Column("offer_cost", sa.Float, nullable=True),
        sa.Column("tier", sa.String(20), nullable=False),
        sa.Column("segment", sa.String(200), nullable=True),
        sa.Column("data_version", sa.String(64), nullable=False),
    )
    op.create_index("ix_members_customer", "members", ["customer_id"])
    op.create_table(
        "outcomes",
        sa.Column("campaign_id", sa.Integer,
                  sa.ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("customer_id", sa.String(200), primary_key=True),
        sa.Column("accepted", sa.Boolean, nullable=True),
        sa.Column("redeemed", sa.Boolean, nullable=True),
        sa.Column("churned", sa.Boolean, nullable=True),
        sa.Column("outcome_date", sa.String(10), nullable=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("imported_at", TZ, nullable=False),
    )
    op.create_table(
        "outcome_imports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.Integer,
                  sa.ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("imported_at", TZ, nullable=False),
    )


def downgrade() -> None:
    for name in ("outcome_imports", "outcomes", "members", "campaigns"):
        op.drop_table(name)
