"""UI sessions in one signed cookie, and CSRF tokens bound to them.

The cookie is ``<payload>.<signature>``: the payload is base64url JSON
``{"uid": user id or null, "csrf": token, "iat": issued, "exp": expiry}`` and the signature an
HMAC-SHA256 over it with a key derived from the app's signing key (so a UI cookie is never a valid
API token and the other way round). Nothing secret is in it: it says who is logged in, until when,
and the CSRF token every POST form must carry. It is HttpOnly, SameSite=Lax and Secure when the
request came over https (or when settings say so).

A visitor who is not logged in gets an anonymous session (uid null) so the login form has a CSRF
token too; logging in issues a new session with a new token (no session fixation); logging out
replaces it with a fresh anonymous one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "zhtj_session"
CSRF_FIELD = "csrf_token"
ANONYMOUS_TTL = 2 * 3600  # seconds a login form stays usable


@dataclass(frozen=True)
class UISession:
    uid: int | None
    csrf: str
    iat: int
    exp: int

    @property
    def authenticated(self) -> bool:
        return self.uid is not None


def _key(signing_key: str) -> bytes:
    return hmac.new(signing_key.encode(), b"zhtj-ui-session-v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(s: UISession, signing_key: str) -> str:
    payload = _b64(
        json.dumps({"uid": s.uid, "csrf": s.csrf, "iat": s.iat, "exp": s.exp}, separators=(",", ":")).encode()
    )
    sig = _b64(hmac.new(_key(signing_key), payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{sig}"


def decode(token: str | None, signing_key: str, *, now: float | None = None) -> UISession | None:
    """The session of a cookie, or None when it is missing, forged, malformed or expired."""
    if not token or token.count(".") != 1 or len(token) > 4096:
        return None
    payload, sig = token.split(".")
    want = _b64(hmac.new(_key(signing_key), payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(sig, want):
        return None
    try:
        data = json.loads(_unb64(payload))
        s = UISession(uid=data["uid"], csrf=str(data["csrf"]), iat=int(data["iat"]), exp=int(data["exp"]))
    except (ValueError, KeyError, TypeError):
        return None
    if s.uid is not None and not isinstance(s.uid, int):
        return None
    if s.exp <= (now if now is not None else time.time()) or len(s.csrf) < 20:
        return None
    return s


def new_session(uid: int | None, ttl_seconds: int) -> UISession:
    now = int(time.time())
    return UISession(uid=uid, csrf=secrets.token_urlsafe(32), iat=now, exp=now + ttl_seconds)


def csrf_ok(s: UISession | None, submitted: str | None) -> bool:
    """The submitted token equals the session's (constant-time)."""
    if s is None or not submitted:
        return False
    return hmac.compare_digest(s.csrf.encode(), submitted.encode())


def cookie_secure(request: Request) -> bool:
    configured = getattr(request.app.state.settings, "cookie_secure", None)
    if configured is not None:
        return bool(configured)
    return request.url.scheme == "https"


def set_cookie(response: Response, request: Request, s: UISession, signing_key: str) -> None:
    response.set_cookie(
        COOKIE,
        encode(s, signing_key),
        max_age=max(s.exp - int(time.time()), 0),
        path="/",
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request),
    )
