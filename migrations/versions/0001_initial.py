"""initial schema: orgs, members, users, transfers, approval steps, notifications,
membership history and the append-only audit log

Revision ID: 0001_initial
Revises: 
Create Date: 2026-11-26 18:37:25.541868
"""
from __future__ import annotations

from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0001_initial'
down_revision: Union[str, None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


APPEND_ONLY_MESSAGE = "audit_log is append-only"


def _create_append_only_guard() -> None:
    """The audit log refuses UPDATE and DELETE at the database, on both engines."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"""
            CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
            BEGIN
              RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}';
            END;
            $$ LANGUAGE plpgsql
            """
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
                f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
            )


def _drop_append_only_guard() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('entity', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('entity_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index('ix_audit_log_entity', ['entity', 'entity_id'], unique=False)

    op.create_table('orgs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('partition', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('province', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('city', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('county', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('township', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('branch_level', sa.Boolean(), nullable=False),
    sa.Column('approval_authority', sa.Boolean(), nullable=False),
    sa.Column('can_receive', sa.Boolean(), nullable=False),
    sa.Column('new_student', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['orgs.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('orgs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_orgs_code'), ['code'], unique=True)
        batch_op.create_index(batch_op.f('ix_orgs_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_orgs_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_orgs_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index('ix_orgs_partition_kind', ['partition', 'kind'], unique=False)
        batch_op.create_index('ix_orgs_region', ['province', 'city', 'county', 'township'], unique=False)

    op.create_table('members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('id_number', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('school_id', sa.Integer(), nullable=True),
    sa.Column('joined_on', sa.Date(), nullable=True),
    sa.Column('graduation_year', sa.Integer(), nullable=True),
    sa.Column('hukou_address', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('residence_address', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('graduating', sa.Boolean(), nullable=False),
    sa.Column('delayed_graduation', sa.Boolean(), nullable=False),
    sa.Column('mobile', sa.Boolean(), nullable=False),
    sa.Column('abroad_retention', sa.Boolean(), nullable=False),
    sa.Column('in_special_unit_db', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['branch_id'], ['orgs.id'], ),
    sa.ForeignKeyConstraint(['school_id'], ['orgs.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_members_branch_id'), ['branch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_members_graduation_year'), ['graduation_year'], unique=False)
        batch_op.create_index(batch_op.f('ix_members_id_number'), ['id_number'], unique=True)
        batch_op.create_index(batch_op.f('ix_members_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_members_school_id'), ['school_id'], unique=False)

    op.create_table('transfers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workflow_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('run_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('request_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('type', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('from_org_id', sa.Integer(), nullable=False),
    sa.Column('target_org_id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=True),
    sa.Column('current_node_org_id', sa.Integer(), nullable=True),
    sa.Column('form', sa.JSON(), nullable=False),
    sa.Column('route_clause', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('route_explanation', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('initiated_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['branch_id'], ['orgs.id'], ),
    sa.ForeignKeyConstraint(['current_node_org_id'], ['orgs.id'], ),
    sa.ForeignKeyConstraint(['from_org_id'], ['orgs.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ),
    sa.ForeignKeyConstraint(['target_org_id'], ['orgs.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('request_id'),
    sa.UniqueConstraint('run_id')
    )
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_transfers_created_at'), ['created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_transfers_current_node_org_id'), ['current_node_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_transfers_from_org_id'), ['from_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_transfers_member_id'), ['member_id'], unique=False)
        batch_op.create_index('ix_transfers_member_status', ['member_id', 'status'], unique=False)
        batch_op.create_index('ix_transfers_status_created', ['status', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_transfers_target_org_id'), ['target_org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_transfers_type'), ['type'], unique=False)
        batch_op.create_index(batch_op.f('ix_transfers_workflow_id'), ['workflow_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('password_hash', sqlmodel.sql.sqltypes.AutoString(length=256), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('display_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_member_id'), ['member_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_users_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_users_username'), ['username'], unique=True)

    op.create_table('approval_steps',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transfer_id', sa.Integer(), nullable=False),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('remind_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('reason_code', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('comment', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=True),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], ),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('transfer_id', 'round', 'seq', name='uq_approval_steps_transfer_round_seq')
    )
    with op.batch_alter_table('approval_steps', schema=None) as batch_op:
        batch_op.create_index('ix_approval_steps_org_status_deadline', ['org_id', 'status', 'deadline'], unique=False)
        batch_op.create_index(batch_op.f('ix_approval_steps_transfer_id'), ['transfer_id'], unique=False)

    op.create_table('membership_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('from_branch_id', sa.Integer(), nullable=True),
    sa.Column('to_branch_id', sa.Integer(), nullable=False),
    sa.Column('transfer_id', sa.Integer(), nullable=True),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['from_branch_id'], ['orgs.id'], ),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ),
    sa.ForeignKeyConstraint(['to_branch_id'], ['orgs.id'], ),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('membership_history', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_membership_history_member_id'), ['member_id'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('recipient_org_id', sa.Integer(), nullable=True),
    sa.Column('recipient_user_id', sa.Integer(), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('transfer_id', sa.Integer(), nullable=True),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('body', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], ),
    sa.ForeignKeyConstraint(['recipient_org_id'], ['orgs.id'], ),
    sa.ForeignKeyConstraint(['recipient_user_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['transfer_id'], ['transfers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_notifications_member_id'), ['member_id'], unique=False)
        batch_op.create_index('ix_notifications_org_read', ['recipient_org_id', 'read_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_recipient_user_id'), ['recipient_user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_transfer_id'), ['transfer_id'], unique=False)

    _create_append_only_guard()


def downgrade() -> None:
    _drop_append_only_guard()

    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_transfer_id'))
        batch_op.drop_index(batch_op.f('ix_notifications_recipient_user_id'))
        batch_op.drop_index('ix_notifications_org_read')
        batch_op.drop_index(batch_op.f('ix_notifications_member_id'))

    op.drop_table('notifications')
    with op.batch_alter_table('membership_history', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_membership_history_member_id'))

    op.drop_table('membership_history')
    with op.batch_alter_table('approval_steps', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_approval_steps_transfer_id'))
        batch_op.drop_index('ix_approval_steps_org_status_deadline')

    op.drop_table('approval_steps')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_username'))
        batch_op.drop_index(batch_op.f('ix_users_org_id'))
        batch_op.drop_index(batch_op.f('ix_users_member_id'))

    op.drop_table('users')
    with op.batch_alter_table('transfers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_transfers_workflow_id'))
        batch_op.drop_index(batch_op.f('ix_transfers_type'))
        batch_op.drop_index(batch_op.f('ix_transfers_target_org_id'))
        batch_op.drop_index('ix_transfers_status_created')
        batch_op.drop_index('ix_transfers_member_status')
        batch_op.drop_index(batch_op.f('ix_transfers_member_id'))
        batch_op.drop_index(batch_op.f('ix_transfers_from_org_id'))
        batch_op.drop_index(batch_op.f('ix_transfers_current_node_org_id'))
        batch_op.drop_index(batch_op.f('ix_transfers_created_at'))

    op.drop_table('transfers')
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_members_school_id'))
        batch_op.drop_index(batch_op.f('ix_members_name'))
        batch_op.drop_index(batch_op.f('ix_members_id_number'))
        batch_op.drop_index(batch_op.f('ix_members_graduation_year'))
        batch_op.drop_index(batch_op.f('ix_members_branch_id'))

    op.drop_table('members')
    with op.batch_alter_table('orgs', schema=None) as batch_op:
        batch_op.drop_index('ix_orgs_region')
        batch_op.drop_index('ix_orgs_partition_kind')
        batch_op.drop_index(batch_op.f('ix_orgs_parent_id'))
        batch_op.drop_index(batch_op.f('ix_orgs_name'))
        batch_op.drop_index(batch_op.f('ix_orgs_kind'))
        batch_op.drop_index(batch_op.f('ix_orgs_code'))

    op.drop_table('orgs')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_entity')
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')
