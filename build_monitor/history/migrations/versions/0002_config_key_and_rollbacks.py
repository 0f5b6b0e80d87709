"""builds.config_key, rollbacks and rollback_steps

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 10:31:41.548748
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollbacks",
        sa.Column("service", sa.String(length=63), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("strategy", sa.String(length=16), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("triggered_by", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("from_commit", sa.String(length=64), nullable=True),
        sa.Column("to_commit", sa.String(length=64), nullable=True),
        sa.Column("culprit", sa.String(length=64), nullable=True),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "running",
                "succeeded",
                "failed",
                "refused",
                "dry_run",
                "noop",
                "interrupted",
                name="rollbackstatus",
            ),
            nullable=False,
        ),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("gates", sa.Text(), nullable=True),
        sa.Column("verification", sa.String(length=16), nullable=True),
        sa.Column("verification_detail", sa.Text(), nullable=True),
        sa.Column("revert_commit", sa.String(length=64), nullable=True),
        sa.Column("pushed_ref", sa.String(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("flow_run_id", sa.String(), nullable=True),
        sa.Column("host", sa.String(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rollbacks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rollbacks_automatic"), ["automatic"], unique=False)
        batch_op.create_index(batch_op.f("ix_rollbacks_service"), ["service"], unique=False)
        batch_op.create_index(batch_op.f("ix_rollbacks_status"), ["status"], unique=False)

    op.create_table(
        "rollback_steps",
        sa.Column("rollback_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("undo", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["rollback_id"],
            ["rollbacks.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rollback_steps", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rollback_steps_rollback_id"), ["rollback_id"], unique=False
        )

    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("config_key", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_builds_config_key"), ["config_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_builds_config_key"))
        batch_op.drop_column("config_key")

    with op.batch_alter_table("rollback_steps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rollback_steps_rollback_id"))

    op.drop_table("rollback_steps")
    with op.batch_alter_table("rollbacks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rollbacks_status"))
        batch_op.drop_index(batch_op.f("ix_rollbacks_service"))
        batch_op.drop_index(batch_op.f("ix_rollbacks_automatic"))

    op.drop_table("rollbacks")
    sa.Enum(name="rollbackstatus").drop(op.get_bind(), checkfirst=True)  # PostgreSQL's enum type
