"""An async client for the zhtj-transfer REST API (typed with `starter.models`).

    async with ZhtjClient("http://127.0.0.1:8000") as api:
        await api.login("whu", password)
        route = await api.validate_transfer(req)          # every check, nothing started
        transfer, created = await api.start_transfer(req, idempotency_key="row-42")
        results = await api.bulk_start([{**row, "idempotency_key": "row-43"}, ...])  # ≤ 500 rows

Errors: every non-2xx answer raises `ApiError(status, errors, detail)` parsed from the server's
application/problem+json (`errors` = [FieldErrorOut(field, message)], Chinese messages); a server
that cannot be reached raises `ApiConnectionError` (an ApiError with status 0).

Retries (exponential backoff with jitter, `retries` times): calls that are safe to repeat (GET,
POST /api/transfers/validate, POST /api/transfers *with* an Idempotency-Key, and
POST /api/transfers/bulk as a dry run or with a key on every row) are retried on
connection errors, timeouts and 502/503/504 (honouring Retry-After); any other call is retried
only when the connection could not be opened at all (the request never left).

Needs only httpx and pydantic: another service can use it without the server's dependencies.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import httpx
from pydantic import BaseModel

from starter.models import (
    BatchResponse,
    BatchResult,
    BulkStartResponse,
    BulkStartResult,
    BulkStartRow,
    FieldErrorOut,
    MeOut,
    OrgOut,
    Problem,
    RouteOut,
    StartTransferRequest,
    TokenResponse,
    TransferOut,
    TransferPage,
    TransferSummary,
    ValidateResponse,
)

USER_AGENT = "zhtj-starter/0.1"
RETRY_STATUSES = frozenset({502, 503, 504})
DEFAULT_TIMEOUT = 30.0


class ApiError(Exception):
    """A refused or failed API call: HTTP status, field errors and the problem's detail."""

    def __init__(
        self,
        status: int,
        errors: Sequence[FieldErrorOut] | None = None,
        detail: str = "",
        *,
        title: str = "",
        method: str = "",
        url: str = "",
    ) -> None:
        self.status = status
        self.errors: list[FieldErrorOut] = list(errors or [])
        self.detail = detail or "；".join(f"{e.field}: {e.message}" for e in self.errors) or title
        self.title = title
        self.method = method
        self.url = url
        super().__init__(str(self))

    @property
    def fields(self) -> list[str]:
        return [e.field for e in self.errors]

    def __str__(self) -> str:
        where = f" ({self.method} {self.url})" if self.method else ""
        return f"HTTP {self.status}{where}: {self.detail}"

    @classmethod
    def from_response(cls, r: httpx.Response) -> ApiError:
        method, url = r.request.method, str(r.request.url.path)
        try:
            body = r.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            try:
                p = Problem.model_validate(body)
            except ValueError:
                p = None
            if p is not None:
                detail = (
                    p.detail or "；".join(f"{e.field}: {e.message}" for e in p.errors) or p.title or r.reason_phrase
                )
                return cls(r.status_code, p.errors, detail, title=p.title, method=method, url=url)
        text = r.text.strip()[:500] if r.content else ""
        return cls(r.status_code, [], text or r.reason_phrase, method=method, url=url)


class ApiConnectionError(ApiError):
    """The server could not be reached (or did not answer in time): status 0."""

    def __init__(self, detail: str, *, method: str = "", url: str = "") -> None:
        super().__init__(0, [], detail, title="无法连接服务", method=method, url=url)


def _dump(body: BaseModel | Mapping[str, Any]) -> Any:
    """A request body: a model without its unset optional fields, or a mapping as it is (the
    server is the one validator, so a caller always gets an ApiError for a bad body)."""
    if isinstance(body, BaseModel):
        return body.model_dump(mode="json", exclude_none=True)
    return dict(body)


def _clean(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


def token_claims(token: str) -> dict[str, Any]:
    """The claims of a bearer token, NOT verified (only the server can): username, role, expiry.
    Useful for messages ("logged in as whu, role admin"); never for decisions."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


class ZhtjClient:
    """Async client of /api; use as `async with ZhtjClient(url) as api: ...`."""

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retries: int = 3,
        backoff: float = 0.25,
        max_backoff: float = 8.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._http = httpx.AsyncClient(
            base_url=self.base_url, transport=transport, timeout=timeout, headers={"User-Agent": USER_AGENT}
        )

    async def __aenter__(self) -> ZhtjClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ---- plumbing ------------------------------------------------------------------------------
    def _delay(self, attempt: int, response: httpx.Response | None = None) -> float:
        if response is not None:
            after = response.headers.get("Retry-After", "")
            if after.isdigit():
                return min(float(after), self.max_backoff)
        base = min(self.max_backoff, self.backoff * 2.0**attempt)
        return base * (0.5 + random.random() / 2)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = False,
        auth: bool = True,
    ) -> httpx.Response:
        """Send with retries; return the 2xx response or raise ApiError / ApiConnectionError."""
        h = dict(headers or {})
        if auth and self.token:
            h["Authorization"] = f"Bearer {self.token}"
        attempt = 0
        while True:
            try:
                r = await self._http.request(method, path, json=json_body, params=params, headers=h)
            except httpx.TransportError as e:
                never_sent = isinstance(e, (httpx.ConnectError, httpx.ConnectTimeout))
                if (idempotent or never_sent) and attempt < self.retries:
                    await asyncio.sleep(self._delay(attempt))
                    attempt += 1
                    continue
                raise ApiConnectionError(
                    f"无法连接 {self.base_url}：{type(e).__name__}: {e}", method=method, url=path
                ) from e
            if r.status_code in RETRY_STATUSES and idempotent and attempt < self.retries:
                await asyncio.sleep(self._delay(attempt, r))
                attempt += 1
                continue
            if r.is_success:
                return r
            raise ApiError.from_response(r)

    # ---- auth ----------------------------------------------------------------------------------
    async def login(self, username: str, password: str) -> str:
        """POST /api/auth/token; keeps the token for later calls and returns it."""
        r = await self._send(
            "POST", "/api/auth/token", json_body={"username": username, "password": password}, auth=False
        )
        self.token = TokenResponse.model_validate(r.json()).access_token
        return self.token

    @property
    def claims(self) -> dict[str, Any]:
        """The current token's (unverified) claims: usr, role, exp."""
        return token_claims(self.token) if self.token else {}

    async def me(self, org: str | None = None) -> MeOut:
        """GET /api/me: the logged-in account; with `org`, whether it may act for that org."""
        params = {"org": org} if org is not None else None
        r = await self._send("GET", "/api/me", params=params, idempotent=True)
        return MeOut.model_validate(r.json())

    # ---- orgs ----------------------------------------------------------------------------------
    async def orgs(
        self, q: str | None = None, partition: str | None = None, kind: str | None = None, limit: int = 50
    ) -> list[OrgOut]:
        params = {
            k: v for k, v in {"q": q, "partition": partition, "kind": kind, "limit": limit}.items() if v is not None
        }
        r = await self._send("GET", "/api/orgs", params=params, idempotent=True)
        return [OrgOut.model_validate(o) for o in r.json()]

    # ---- transfers -----------------------------------------------------------------------------
    async def validate_transfer(
        self, req: StartTransferRequest | Mapping[str, Any], idempotency_key: str | None = None
    ) -> RouteOut:
        """POST /api/transfers/validate: every check of a start and the route; starts nothing.
        With the key of a start already made, it answers for that transfer (no checks again)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        r = await self._send("POST", "/api/transfers/validate", json_body=_dump(req), headers=headers, idempotent=True)
        return ValidateResponse.model_validate(r.json()).route

    async def start_transfer(
        self, req: StartTransferRequest | Mapping[str, Any], idempotency_key: str | None = None
    ) -> tuple[TransferOut, bool]:
        """POST /api/transfers → (transfer, created). created is False when the server returned
        the member's open transfer or the one this Idempotency-Key already started (HTTP 200)."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        r = await self._send(
            "POST", "/api/transfers", json_body=_dump(req), headers=headers, idempotent=idempotency_key is not None
        )
        return TransferOut.model_validate(r.json()), r.status_code == 201

    async def bulk_start(
        self, rows: Sequence[BulkStartRow | Mapping[str, Any]], *, dry_run: bool = False
    ) -> list[BulkStartResult]:
        """POST /api/transfers/bulk (1–500 rows, each a start request with its `idempotency_key`):
        one result per row, in order. A refused row is a result (ok=False, its status_code and
        errors), not an exception; a new transfer is named by `workflow_id`, its `transfer_id`
        being known only for a key that started it before. `dry_run`: every check, nothing started."""
        body = [_dump(r) for r in rows]
        idempotent = dry_run or all(isinstance(r, dict) and r.get("idempotency_key") for r in body)
        r = await self._send(
            "POST", "/api/transfers/bulk", json_body={"rows": body, "dry_run": dry_run}, idempotent=idempotent
        )
        return BulkStartResponse.model_validate(r.json()).results

    async def get_transfer(self, transfer_id: int) -> TransferOut:
        r = await self._send("GET", f"/api/transfers/{int(transfer_id)}", idempotent=True)
        return TransferOut.model_validate(r.json())

    async def list_transfers(
        self,
        *,
        node_org: str | None = None,
        from_org: str | None = None,
        to_org: str | None = None,
        status: str | None = None,
        type: str | None = None,
        overdue: bool | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> TransferPage:
        params: dict[str, Any] = {
            "node_org": node_org,
            "from_org": from_org,
            "to_org": to_org,
            "status": status,
            "type": type,
            "page": page,
            "page_size": page_size,
        }
        if overdue is not None:
            params["overdue"] = "true" if overdue else "false"
        r = await self._send(
            "GET", "/api/transfers", params={k: v for k, v in params.items() if v is not None}, idempotent=True
        )
        return TransferPage.model_validate(r.json())

    async def iter_transfers(self, *, page_size: int = 100, **filters: Any) -> AsyncIterator[TransferSummary]:
        """Every transfer matching the filters, page after page."""
        page = 1
        while True:
            p = await self.list_transfers(page=page, page_size=page_size, **filters)
            for item in p.items:
                yield item
            if page * page_size >= p.total or not p.items:
                return
            page += 1

    # ---- decisions -----------------------------------------------------------------------------
    async def approve(self, transfer_id: int, comment: str | None = None) -> TransferOut:
        r = await self._send(
            "POST",
            f"/api/transfers/{int(transfer_id)}/approve",
            json_body={"comment": comment} if comment is not None else {},
        )
        return TransferOut.model_validate(r.json())

    async def return_request(self, transfer_id: int, reason_code: str, reason_text: str = "") -> TransferOut:
        r = await self._send(
            "POST",
            f"/api/transfers/{int(transfer_id)}/return",
            json_body={"reason_code": reason_code, "reason_text": reason_text},
        )
        return TransferOut.model_validate(r.json())

    async def withdraw(self, transfer_id: int, reason: str) -> TransferOut:
        r = await self._send("POST", f"/api/transfers/{int(transfer_id)}/withdraw", json_body={"reason": reason})
        return TransferOut.model_validate(r.json())

    async def resubmit(
        self,
        transfer_id: int,
        form: Mapping[str, Any],
        target_org_code: str | None = None,
        partition: str | None = None,
    ) -> TransferOut:
        r = await self._send(
            "POST",
            f"/api/transfers/{int(transfer_id)}/resubmit",
            json_body=_clean({"form": dict(form), "target_org_code": target_org_code, "partition": partition}),
        )
        return TransferOut.model_validate(r.json())

    async def assign_branch(self, transfer_id: int, branch_code: str) -> TransferOut:
        r = await self._send(
            "POST", f"/api/transfers/{int(transfer_id)}/assign-branch", json_body={"branch_code": branch_code}
        )
        return TransferOut.model_validate(r.json())

    async def batch_approve(self, ids: Sequence[int]) -> list[BatchResult]:
        """POST /api/transfers/batch/approve (1–200 ids): one result per id, in order."""
        r = await self._send("POST", "/api/transfers/batch/approve", json_body={"ids": list(ids)})
        return BatchResponse.model_validate(r.json()).results

    async def batch_return(self, ids: Sequence[int], reason_code: str, reason_text: str = "") -> list[BatchResult]:
        """POST /api/transfers/batch/return (1–200 ids, one reason): one result per id, in order."""
        r = await self._send(
            "POST",
            "/api/transfers/batch/return",
            json_body={"ids": list(ids), "reason_code": reason_code, "reason_text": reason_text},
        )
        return BatchResponse.model_validate(r.json()).results


__all__ = ["ApiConnectionError", "ApiError", "ZhtjClient", "token_claims"]
