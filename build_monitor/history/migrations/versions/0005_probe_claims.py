"""probe_claims: probes of a distributed bisection, claimed by one worker run at a time

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 15:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "probe_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bisection_id", sa.Integer(), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["bisection_id"], ["bisections.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("probe_claims", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_probe_claims_bisection_id"), ["bisection_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("probe_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_probe_claims_bisection_id"))
    op.drop_table("probe_claims")
