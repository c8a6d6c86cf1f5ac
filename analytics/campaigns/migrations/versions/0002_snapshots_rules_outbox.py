"""Risk snapshots across refreshes, rule runs, the outbox and catalogue changes.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("taken_at", TZ, nullable=False),
        sa.Column("data_version", sa.String(64), nullable=False, unique=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("as_of", sa.String(10), nullable=True),
        sa.Column("customers", sa.Integer, nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("sample", sa.LargeBinary, nullable=True),
    )
    op.create_table(
        "snapshot_chunks",
        sa.Column("snapshot_id", sa.Integer,
                  sa.ForeignKey("snapshots.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("chunk", sa.Integer, primary_key=True),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("ids", sa.LargeBinary, nullable=False),
        sa.Column("probability", sa.LargeBinary, nullable=False),
        sa.Column("tier", sa.LargeBinary, nullable=False),
    )
    op.create_table(
        "rule_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("data_version", sa.String(64), nullable=False),
        sa.Column("ran_at", TZ, nullable=False),
        sa.Column("matched", sa.Integer, nullable=False),
        sa.Column("enrolled", sa.Integer, nullable=False),
        sa.Column("held_out", sa.Integer, nullable=False),
        sa.Column("campaign_id", sa.Integer,
                  sa.ForeignKey("campaigns.id", ondelete="SET NULL"), nullable=True),
        sa.UniqueConstraint("rule", "data_version", name="uq_rule_runs_rule_version"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("campaign_id", sa.Integer,
                  sa.ForeignKey("campaigns.id", ondelete="CASCADE"), nullable=False),
        sa.Column("batch", sa.Integer, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("sent_at", TZ, nullable=True),
        sa.UniqueConstraint("campaign_id", "batch", name="uq_outbox_campaign_batch"),
    )
    op.create_table(
        "catalogue_changes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("changed_at", TZ, nullable=False),
        sa.Column("offer", sa.String(100), nullable=False),
        sa.Column("field", sa.String(40), nullable=False),
        sa.Column("old", sa.Float, nullable=True),
        sa.Column("new", sa.Float, nullable=True),
        sa.Column("evidence", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for name in ("catalogue_changes", "outbox", "rule_runs", "snapshot_chunks", "snapshots"):
        op.drop_table(name)
