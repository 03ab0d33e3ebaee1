"""Starter: an async, typed client for the zhtj-transfer REST API, standalone.

It imports no server package (an import-linter contract says so): a backend service installs it
with httpx and pydantic only.

- `starter.client.ZhtjClient` / `ApiError`: the client.
- `starter.models`: the request and response bodies (mirroring web.api.schemas; a test keeps
  them in step).
- `starter.pool.gather_limited`: many calls with bounded concurrency.

`zhtj transfers import FILE --as ORG` (bulk 办理转出 from CSV/XLSX through this client) is
server-side tooling in imports/ (imports.transfer_start): it checks rows with the server's own
rules and reads files with the one table reader.
"""

from starter.client import ApiConnectionError, ApiError, ZhtjClient

__all__ = ["ApiConnectionError", "ApiError", "ZhtjClient"]
