"""Refuse text with NUL characters before it reaches a handler.

PostgreSQL cannot store or compare U+0000 in text ("invalid byte sequence for encoding UTF8"),
so a query string, form or JSON body carrying one would end in a 500 deep inside a query. It is
never meaningful input: answer 422 naming the rule, for the API as problem+json.
"""

from __future__ import annotations

import json
from typing import Any

NUL_MESSAGES = (b"%00", b"\\u0000", b"\x00")
#: Uploads of binary files (an XLSX is a zip: NUL bytes are its content); their handlers refuse a
#: file whose text holds NUL and keep NUL out of the fields they read (service/upload_check.py).
BINARY_UPLOADS = ("/api/uploads", "/ui/uploads")


def _has_nul(data: bytes) -> bool:
    return any(m in data for m in NUL_MESSAGES)


def _binary_upload(scope: dict) -> bool:
    headers = dict(scope.get("headers") or [])
    multipart = headers.get(b"content-type", b"").lower().startswith(b"multipart/form-data")
    return multipart and scope["method"] == "POST" and scope["path"].startswith(BINARY_UPLOADS)


class NulGuard:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(("/api/", "/ui/")):
            await self.app(scope, receive, send)
            return
        if _has_nul(scope.get("query_string", b"")) or "\x00" in scope["path"]:
            await self._refuse(scope, send, "query")
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, receive, send)
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if _has_nul(body) and not _binary_upload(scope):
            await self._refuse(scope, send, "body")
            return
        sent = False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(scope: dict, send: Any, field: str) -> None:
        message = "不能包含空字符（NUL, U+0000）"
        problem = {
            "type": "about:blank",
            "title": "输入不符合要求",
            "status": 422,
            "errors": [{"field": field, "message": message}],
            "detail": f"{field}: {message}",
        }
        body = json.dumps(problem, ensure_ascii=False).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 422,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
