"""Residents propose corrections to a venue's facts (or a new venue) with photos; staff decide.

A proposal holds the facts the resident gives (only the venue's input fields, checked like an
import), optional photos (EXIF stripped, gis.photos) and, privately, how to reach the proposer.
Approving applies the facts to the venue — or creates it — in one transaction; rejecting keeps
the venue as it was. Every change of a venue's facts, whatever made it (approval, import, staff
edit), lands in ``venue_history`` through a trigger (migration 0011).
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

from gis.models import geometry, metadata

PROPOSAL_STATUSES = ("pending", "approved", "rejected")

venue_proposal = sa.Table(
    "venue_proposal", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("venue_id", sa.Integer, sa.ForeignKey("venue.id", ondelete="CASCADE")),  # NULL: a new venue
    sa.Column("hromada_id", sa.Integer, sa.ForeignKey("hromada.id", ondelete="CASCADE"), nullable=False),
    sa.Column("facts", pg.JSONB, nullable=False),  # field name → proposed value (input fields only)
    sa.Column("geom", geometry("POINT")),  # where a new venue is (or where a venue really is)
    sa.Column("comment", sa.Text),
    # Personal data: staff side only.
    sa.Column("proposer_name", sa.Text),
    sa.Column("proposer_email", sa.Text),
    sa.Column("status", sa.Text, nullable=False, server_default="pending"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("decided_by", sa.Integer, sa.ForeignKey("app_user.id", ondelete="SET NULL")),
    sa.Column("decision_note", sa.Text),
    sa.CheckConstraint(f"status IN {PROPOSAL_STATUSES}", name="status"),
    sa.CheckConstraint("venue_id IS NOT NULL OR geom IS NOT NULL", name="new_venue_has_place"),
    sa.Index("ix_venue_proposal_status", "status"),
)

venue_proposal_photo = sa.Table(
    "venue_proposal_photo", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("proposal_id", sa.Integer, sa.ForeignKey("venue_proposal.id", ondelete="CASCADE"), nullable=False),
    sa.Column("position", sa.SmallInteger, nullable=False),
    sa.Column("width", sa.Integer, nullable=False),
    sa.Column("height", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),  # JPEG, EXIF stripped
    sa.Column("thumb", sa.LargeBinary, nullable=False),
    sa.UniqueConstraint("proposal_id", "position"),
)

# Filled by the trigger venue_history on venue: one row per insert/update/delete with the fields
# that changed (before and after); the proposal that caused it, when there was one.
venue_history = sa.Table(
    "venue_history", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("venue_id", sa.Integer, nullable=False),  # no FK: the history outlives a deleted venue
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("operation", sa.Text, nullable=False),  # insert, update, delete
    sa.Column("before", pg.JSONB),
    sa.Column("after", pg.JSONB),
    sa.Column("proposal_id", sa.Integer, sa.ForeignKey("venue_proposal.id", ondelete="SET NULL")),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="SET NULL")),
    sa.Index("ix_venue_history_venue_id", "venue_id"),
)
