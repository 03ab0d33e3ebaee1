import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from models import Member, Org
from models.db import DatabaseNotMigrated, session_scope
from web.app import create_app


def _settings(database_url: str, temporal_address: str, tmp_path) -> Settings:
    return Settings(database_url=database_url, temporal_address=temporal_address, data_dir=tmp_path)


def _address(env) -> str:
    return env.client.service_client.config.target_host


async def test_home_page_is_chinese_and_counts_rows(engine, database_url, dev_env, tmp_path):
    async with session_scope(engine) as session:
        org = Org(code="HB", name="共青团湖北省委", kind="province", approval_authority=True)
        session.add(org)
        await session.flush()
        branch = Org(code="HB-B1", name="某团支部", kind="branch", parent_id=org.id, branch_level=True)
        session.add(branch)
        await session.flush()
        session.add(Member(id_number="11010519491231002X", name="张三", branch_id=branch.id))
    with TestClient(create_app(_settings(database_url, _address(dev_env), tmp_path))) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "团组织关系转接" in page.text and 'lang="zh-CN"' in page.text
        assert '<div class="num">2</div><div class="label">团组织</div>' in page.text
        assert '<div class="num">1</div><div class="label">团员</div>' in page.text
        css = client.get("/static/app.css")
        assert css.status_code == 200 and "--red" in css.text
        assert "https://" not in page.text  # every asset is local


async def test_healthz_reports_database_and_temporal(database_url, dev_env, tmp_path):
    with TestClient(create_app(_settings(database_url, _address(dev_env), tmp_path))) as client:
        ok = client.get("/healthz")
    assert ok.status_code == 200
    body = ok.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["temporal"] == "ok"
    assert body["database_revision"]


async def test_healthz_is_503_when_temporal_is_down(database_url, tmp_path):
    with TestClient(create_app(_settings(database_url, "127.0.0.1:1", tmp_path))) as client:
        resp = client.get("/healthz")
    assert resp.status_code == 503
    assert resp.json()["temporal"].startswith("error") and resp.json()["database"] == "ok"


def test_app_refuses_an_unmigrated_database(empty_database_url, tmp_path):
    app = create_app(_settings(empty_database_url, "127.0.0.1:1", tmp_path))
    with pytest.raises(DatabaseNotMigrated, match="zhtj migrate"), TestClient(app):
        pass


async def test_openapi_is_served(database_url, tmp_path):
    with TestClient(create_app(_settings(database_url, "127.0.0.1:1", tmp_path))) as client:
        spec = client.get("/openapi.json").json()
    assert spec["info"]["title"] == "zhtj-transfer"
    assert "/healthz" in spec["paths"]
