"""history tables before builds.config_key

Revision ID: 0001
Revises:
Create Date: 2026-12-01 10:31:34.491689
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bisections",
        sa.Column("service", sa.String(length=63), nullable=False),
        sa.Column("good", sa.String(length=64), nullable=False),
        sa.Column("bad", sa.String(length=64), nullable=False),
        sa.Column("trigger", sa.String(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "running",
                "confirmed",
                "inconclusive",
                "error",
                "interrupted",
                name="bisectionstatus",
            ),
            nullable=False,
        ),
        sa.Column("culprit", sa.String(length=64), nullable=True),
        sa.Column("culprit_author", sa.String(), nullable=True),
        sa.Column("culprit_subject", sa.String(), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("signature", sa.String(), nullable=True),
        sa.Column("builds", sa.Integer(), nullable=False),
        sa.Column("suspects", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("report", sa.Text(), nullable=True),
        sa.Column("log_excerpt", sa.Text(), nullable=True),
        sa.Column("flow_run_id", sa.String(), nullable=True),
        sa.Column("host", sa.String(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("bisections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bisections_service"), ["service"], unique=False)
        batch_op.create_index(batch_op.f("ix_bisections_status"), ["status"], unique=False)

    op.create_table(
        "builds",
        sa.Column("service", sa.String(length=63), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=False),
        sa.Column("author", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("builder", sa.String(), nullable=False),
        sa.Column("trigger", sa.String(), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("running", "passed", "failed", "error", "interrupted", name="buildstatus"),
            nullable=False,
        ),
        sa.Column("stage", sa.Enum("build", "test", "health", name="buildstage"), nullable=True),
        sa.Column("signature", sa.String(), nullable=True),
        sa.Column("log_excerpt", sa.Text(), nullable=True),
        sa.Column("image", sa.String(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("flow_run_id", sa.String(), nullable=True),
        sa.Column("host", sa.String(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_builds_commit"), ["commit"], unique=False)
        batch_op.create_index(batch_op.f("ix_builds_service"), ["service"], unique=False)
        batch_op.create_index(batch_op.f("ix_builds_status"), ["status"], unique=False)

    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sa.String(length=255), nullable=False),
        sa.Column("channel", sa.String(length=255), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=63), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedup_key", "channel", name="uq_notification_dedup"),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notifications_channel"), ["channel"], unique=False)
        batch_op.create_index(batch_op.f("ix_notifications_dedup_key"), ["dedup_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_notifications_service"), ["service"], unique=False)

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("forge", sa.String(length=16), nullable=False),
        sa.Column("delivery_id", sa.String(length=255), nullable=False),
        sa.Column("service", sa.String(length=63), nullable=True),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("emitted", sa.Boolean(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("emitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("forge", "delivery_id", name="uq_webhook_delivery"),
    )
    op.create_table(
        "bisect_probes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bisection_id", sa.Integer(), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("cached", sa.Boolean(), nullable=False),
        sa.Column("build_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bisection_id"],
            ["bisections.id"],
        ),
        sa.ForeignKeyConstraint(
            ["build_id"],
            ["builds.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("bisect_probes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bisect_probes_bisection_id"), ["bisection_id"], unique=False
        )

    op.create_table(
        "services",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("repo", sa.String(), nullable=False),
        sa.Column("branch", sa.String(), nullable=False),
        sa.Column(
            "state", sa.Enum("healthy", "failing", "unknown", name="servicestate"), nullable=False
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_build_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["last_build_id"],
            ["builds.id"],
        ),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("services")
    with op.batch_alter_table("bisect_probes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bisect_probes_bisection_id"))

    op.drop_table("bisect_probes")
    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notifications_service"))
        batch_op.drop_index(batch_op.f("ix_notifications_dedup_key"))
        batch_op.drop_index(batch_op.f("ix_notifications_channel"))

    op.drop_table("notifications")
    with op.batch_alter_table("builds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_builds_status"))
        batch_op.drop_index(batch_op.f("ix_builds_service"))
        batch_op.drop_index(batch_op.f("ix_builds_commit"))

    op.drop_table("builds")
    with op.batch_alter_table("bisections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bisections_status"))
        batch_op.drop_index(batch_op.f("ix_bisections_service"))

    op.drop_table("bisections")
    for enum in ("bisectionstatus", "buildstatus", "buildstage", "servicestate"):
        sa.Enum(name=enum).drop(op.get_bind(), checkfirst=True)  # PostgreSQL's enum types
