"""Starter: an async, typed client for the zhtj-transfer REST API, and bulk start from a file.

- `starter.client.ZhtjClient` / `ApiError`: the client (needs only httpx and pydantic).
- `starter.models`: the request and response bodies (mirroring web.api.schemas).
- `starter.bulk`: `zhtj transfers import FILE --as ORG` (reads CSV/XLSX with imports.reader,
  checks every row, then starts one transfer per row with bounded concurrency).
- `starter.cli.transfers_app`: the Typer sub-app registered as `zhtj transfers`.
"""

from starter.client import ApiConnectionError, ApiError, ZhtjClient

__all__ = ["ApiConnectionError", "ApiError", "ZhtjClient"]
