"""the §6 flows that keep a member at school: abroad-study retention applications (the
abroad-study register) and holdings (mobile branch ≤ 6 months, county temp branch ≤ 1 year)

Revision ID: 0002_stay_at_school
Revises: 0001_initial
Create Date: 2026-11-26 19:03:30.925044
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0002_stay_at_school'
down_revision: Union[str, None] = '0001_initial'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('abroad_retentions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workflow_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('run_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('request_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=False),
    sa.Column('from_branch_id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=True),
    sa.Column('abroad_place', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('abroad_from', sa.Date(), nullable=False),
    sa.Column('abroad_to', sa.Date(), nullable=False),
    sa.Column('contact_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('contact_phone', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('initiated_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('remind_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('auto_approved', sa.Boolean(), nullable=False),
    sa.Column('reason_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('comment', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['orgs.id'], ),
    sa.ForeignKeyConstraint(['from_branch_id'], ['orgs.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ),
    sa.ForeignKeyConstraint(['school_id'], ['orgs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('request_id'),
    sa.UniqueConstraint('run_id')
    )
    with op.batch_alter_table('abroad_retentions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_abroad_retentions_member_id'), ['member_id'], unique=False)
        batch_op.create_index('ix_abroad_retentions_school_status', ['school_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_abroad_retentions_workflow_id'), ['workflow_id'], unique=False)

    op.create_table('holdings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workflow_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('run_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('request_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('notify_org_id', sa.Integer(), nullable=False),
    sa.Column('from_branch_id', sa.Integer(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reminders_sent', sa.Integer(), nullable=False),
    sa.Column('last_reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('overdue_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('released_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('release_reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('transfer_workflow_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('started_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['from_branch_id'], ['orgs.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ),
    sa.ForeignKeyConstraint(['notify_org_id'], ['orgs.id'], ),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('request_id'),
    sa.UniqueConstraint('run_id')
    )
    with op.batch_alter_table('holdings', schema=None) as batch_op:
        batch_op.create_index('ix_holdings_kind_status_due', ['kind', 'status', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_holdings_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_holdings_notify_org_id'), ['notify_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_holdings_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_holdings_workflow_id'), ['workflow_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('holdings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_holdings_workflow_id'))
        batch_op.drop_index(batch_op.f('ix_holdings_org_id'))
        batch_op.drop_index(batch_op.f('ix_holdings_notify_org_id'))
        batch_op.drop_index(batch_op.f('ix_holdings_member_id'))
        batch_op.drop_index('ix_holdings_kind_status_due')

    op.drop_table('holdings')
    with op.batch_alter_table('abroad_retentions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_abroad_retentions_workflow_id'))
        batch_op.drop_index('ix_abroad_retentions_school_status')
        batch_op.drop_index(batch_op.f('ix_abroad_retentions_member_id'))

    op.drop_table('abroad_retentions')