"""Errors as application/problem+json (RFC 9457) with `errors: [{field, message}]` in Chinese."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.errors import ServiceError

TITLES = {
    400: "请求无效",
    401: "未登录或登录已过期",
    403: "无权办理",
    404: "未找到",
    405: "方法不允许",
    409: "与当前状态冲突",
    422: "输入不符合要求",
    429: "尝试次数过多",
    500: "服务器错误",
    503: "服务暂不可用",
}

_PYDANTIC_MESSAGES = {
    "missing": "必填",
    "string_type": "应为字符串",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "bool_parsing": "应为 true 或 false",
    "enum": "取值不在允许范围内",
    "literal_error": "取值不在允许范围内",
    "dict_type": "应为对象",
    "list_type": "应为数组",
    "json_invalid": "不是有效的 JSON",
    "string_too_long": "过长",
    "string_too_short": "不能为空",
    "greater_than_equal": "过小",
    "less_than_equal": "过大",
    "extra_forbidden": "不允许的字段",
    "model_attributes_type": "应为对象",
}


def problem(
    status: int, errors: list[dict[str, str]], detail: str | None = None, headers: dict | None = None
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(status, "错误"),
        "status": status,
        "errors": errors,
    }
    body["detail"] = detail or "；".join(f"{e['field']}: {e['message']}" for e in errors) or body["title"]
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    out = []
    for e in exc.errors():
        kind = e.get("type", "")
        message = _PYDANTIC_MESSAGES.get(kind, "格式不正确")
        if kind in ("enum", "literal_error") and e.get("ctx", {}).get("expected"):
            message += f"，应为 {e['ctx']['expected']}"
        out.append({"field": _field(tuple(e.get("loc", ()))), "message": message})
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return problem(exc.status, [{"field": p.field, "message": p.message} for p in exc.problems])

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(422, validation_errors(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if not request.url.path.startswith("/api/"):
            from fastapi.exception_handlers import http_exception_handler

            return await http_exception_handler(request, exc)
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem(
            exc.status_code,
            [{"field": "request", "message": detail or TITLES.get(exc.status_code, "错误")}],
            headers=getattr(exc, "headers", None),
        )
