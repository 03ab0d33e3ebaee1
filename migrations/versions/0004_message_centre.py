"""the message centre: notification_reads, which account has read which notice (read state per
account: one admin reading a notice addressed to their org does not mark it for another)

Revision ID: 0004_message_centre
Revises: 0003_uploads
Create Date: 2026-12-02 10:00:00.000000
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


revision: str = '0004_message_centre'
down_revision: Union[str, None] = '0003_uploads'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('notification_reads',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('notification_id', sa.Integer(), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('user_id', 'notification_id')
    )


def downgrade() -> None:
    op.drop_table('notification_reads')
