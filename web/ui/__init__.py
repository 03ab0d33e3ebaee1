"""The Chinese web UI (Jinja2 pages under /ui): login, 操作中心, 审批, 办理转出/转入, 个人中心, 名册."""

from web.ui.routes import router

__all__ = ["router"]
