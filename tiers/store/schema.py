"""Tables of the state store (SQLAlchemy Core); actions add their own (coupon codes, rep
assignments) through ``Action.tables()``. The current shape; see migrations.py for how a
store written by an older tiers is brought up to it."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version", metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", sa.DateTime, nullable=False),
)

runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ruleset", sa.String(200), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("as_of", sa.DateTime, nullable=False),
    # running -> recorded (state committed, applying) -> done | done_with_failures | failed;
    # abandoned when a killed run's lock is recovered
    sa.Column("status", sa.String(30), nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("customers", sa.Integer),
    sa.Column("changed", sa.Integer),
    sa.Column("intents_planned", sa.Integer),
    sa.Column("intents_done", sa.Integer),
    sa.Column("intents_failed", sa.Integer),
    sa.Column("events", sa.Text),    # JSON {event: count}
    sa.Column("timings", sa.Text),   # JSON {step: seconds}
    sa.Column("error", sa.Text),
    sa.Column("pid", sa.Integer),
    sa.Column("host", sa.String(255)),
    sa.Index("ix_runs_ruleset", "ruleset", "id"),
)

run_locks = sa.Table(
    "run_locks", metadata,
    sa.Column("ruleset", sa.String(200), primary_key=True),
    sa.Column("run_id", sa.Integer, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("acquired_at", sa.DateTime, nullable=False),
)

current_tiers = sa.Table(
    "current_tiers", metadata,
    sa.Column("ruleset", sa.String(200), primary_key=True),
    sa.Column("customer_id", sa.String(200), primary_key=True),
    sa.Column("tier", sa.String(100), nullable=False),
    sa.Column("tier_rank", sa.SmallInteger, nullable=False),
    sa.Column("since", sa.DateTime, nullable=False),
    sa.Column("held_until", sa.DateTime),
    # segment labels joined by U+001F (empty = none); split back columnar in previous()
    sa.Column("segments", sa.Text, nullable=False, server_default=""),
    sa.Column("updated_run", sa.Integer, nullable=False),
)

# current_tiers of one ruleset as compressed Arrow, in parts (see snapshot.py)
state_snapshots = sa.Table(
    "state_snapshots", metadata,
    sa.Column("ruleset", sa.String(200), primary_key=True),
    sa.Column("part", sa.Integer, primary_key=True),
    sa.Column("rows", sa.BigInteger, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

tier_history = sa.Table(
    "tier_history", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("ruleset", sa.String(200), nullable=False),
    sa.Column("run_id", sa.Integer, nullable=False),
    sa.Column("customer_id", sa.String(200), nullable=False),
    sa.Column("from_tier", sa.String(100)),
    sa.Column("to_tier", sa.String(100), nullable=False),
    sa.Column("event", sa.String(40), nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Index("ix_tier_history_customer", "ruleset", "customer_id"),
)

ledger = sa.Table(
    "ledger", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("ruleset", sa.String(200), nullable=False),
    sa.Column("action", sa.String(200), nullable=False),
    sa.Column("action_type", sa.String(100), nullable=False),
    sa.Column("customer_id", sa.String(200), nullable=False),
    sa.Column("event", sa.String(40), nullable=False),
    sa.Column("detail", sa.String(200)),
    sa.Column("period", sa.String(20), nullable=False),
    # pending -> sending (external effect under way) -> done | failed
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.Text),
    sa.Column("result", sa.Text),    # JSON: coupon code, rep id, Message-ID...
    sa.Column("payload", sa.Text),   # JSON: what the effect needs, so a resumed intent is identical
    sa.Column("planned_run", sa.Integer, nullable=False),
    sa.Column("done_run", sa.Integer),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Index("ix_ledger_status", "ruleset", "status"),
    sa.Index("ix_ledger_customer", "ruleset", "customer_id"),
    sa.Index("ix_ledger_run", "planned_run"),
)

secrets = sa.Table(
    "secrets", metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)
