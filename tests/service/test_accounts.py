import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.passwords import verify_password
from domain.roles import Role
from models import AuditLog, Member, Org, User
from models.db import session_scope
from service.accounts import AccountError, add_user

ZHTJ = str(Path(sys.executable).parent / "zhtj")
ID = "11010519491231002X"


@pytest.fixture
async def directory(engine):
    async with session_scope(engine) as session:
        org = Org(code="WHU", name="武汉大学团委", kind="school", approval_authority=True)
        session.add(org)
        await session.flush()
        branch = Org(code="WHU-B1", name="2022级1班团支部", kind="branch", parent_id=org.id, branch_level=True)
        session.add(branch)
        await session.flush()
        session.add(Member(id_number=ID, name="张三", branch_id=branch.id, school_id=org.id))
    return engine


async def _count(engine, model) -> int:
    async with session_scope(engine) as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_admin_member_and_service_logins(directory):
    admin = await add_user(directory, "whu-admin", "s3cret-pass", Role.ADMIN, org_code="WHU")
    member = await add_user(directory, "zhangsan", "s3cret-pass", Role.MEMBER, id_number=ID.lower())
    service = await add_user(directory, "sis-whu", "s3cret-pass", Role.SERVICE)
    bound = await add_user(directory, "sis-whu-2", "s3cret-pass", Role.SERVICE, org_code="WHU")
    assert admin.org_id is not None and admin.display_name == "武汉大学团委"
    assert bound.org_id == admin.org_id  # a service account acting for its school
    assert member.member_id is not None and member.display_name == "张三"
    assert service.org_id is None and service.member_id is None
    async with session_scope(directory) as session:
        stored = (await session.execute(select(User).where(User.username == "whu-admin"))).scalar_one()
    assert stored.password_hash != "s3cret-pass" and stored.password_hash.startswith("$argon2id$")
    assert verify_password(stored.password_hash, "s3cret-pass")
    assert not verify_password(stored.password_hash, "wrong-pass")
    assert await _count(directory, AuditLog) == 4


@pytest.mark.parametrize(
    "args, kwargs, fields",
    [
        (("x", "s3cret-pass", Role.ADMIN), {"org_code": "WHU"}, ["username"]),
        (("whu-admin", "short", Role.ADMIN), {"org_code": "WHU"}, ["password"]),
        (("whu-admin", "s3cret-pass", "root"), {}, ["role"]),
        (("whu-admin", "s3cret-pass", Role.ADMIN), {}, ["org"]),
        (("whu-admin", "s3cret-pass", Role.ADMIN), {"org_code": "NOPE"}, ["org"]),
        (("zs", "s3cret-pass", Role.MEMBER), {}, ["username", "id_number"]),
        (("zhangsan", "s3cret-pass", Role.MEMBER), {"id_number": "130402198207290622"}, ["id_number"]),
        (("zhangsan", "s3cret-pass", Role.MEMBER), {"id_number": "440524188001010014"}, ["id_number"]),
        (("zs2", "s3cret-pass", Role.MEMBER), {"id_number": ID, "org_code": "WHU"}, ["org"]),
        (("svc1", "s3cret-pass", Role.SERVICE), {"org_code": "NOPE"}, ["org"]),
    ],
)
async def test_refusals_name_the_field_and_write_nothing(directory, args, kwargs, fields):
    with pytest.raises(AccountError) as info:
        await add_user(directory, *args, **kwargs)
    assert [e.field for e in info.value.errors] == fields
    assert all(e.message for e in info.value.errors)
    assert await _count(directory, User) == 0 and await _count(directory, AuditLog) == 0


async def test_duplicate_username_refused(directory):
    await add_user(directory, "sis-whu", "s3cret-pass", Role.SERVICE)
    with pytest.raises(AccountError, match="已存在"):
        await add_user(directory, "sis-whu", "other-pass1", Role.SERVICE)
    assert await _count(directory, User) == 1


async def test_cli_users_add(directory, cli_env):
    ok = subprocess.run(
        [ZHTJ, "users", "add", "whu-admin", "--password", "s3cret-pass", "--role", "admin", "--org", "WHU"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    assert "created admin login 'whu-admin'" in ok.stdout
    bad = subprocess.run(
        [
            ZHTJ,
            "users",
            "add",
            "zs-login",
            "--password",
            "s3cret-pass",
            "--role",
            "member",
            "--id-number",
            "440524188001010014",
        ],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert "id_number" in bad.stderr and "440524********0014" in bad.stderr
    assert "440524188001010014" not in bad.stderr + bad.stdout
    assert await _count(directory, User) == 1
