"""Download grants: the files a signed-in session may fetch, each behind an unguessable token
that stops working when the session signs out, when the grant expires, or when the account no
longer stands (the route checks that again at every fetch).

Streamlit's own media files (`st.download_button`, `st.image` with bytes) are served from
`/media/<id>` to anyone holding the address, for as long as the media manager keeps them,
which outlives sign-out. Files of the programme go through `/download/<token>` instead (see
streamlit_app.py and README "Downloads").

The registry lives in this process on purpose: a token is worth only as much as the session
that asked for it, and with several processes behind a proxy, sticky sessions send a browser's
fetch to the process that holds its session."""
from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Callable

GRANT_SECONDS = 600
Loader = Callable[[], tuple[str, str, bytes]]     # () -> (file name, mime type, content)


@dataclass(frozen=True)
class Grant:
    """What a token opens: one file for one user of one signed-in session."""

    session_key: str
    user_id: int
    what: str                  # a stable key of the file within the session (e.g. evidence:12)
    loader: Loader
    inline: bool               # may be shown in the page (images, PDF) rather than saved
    expires: float             # time.monotonic() deadline


_grants: dict[str, Grant] = {}
_by_session: dict[tuple[str, str], str] = {}
_lock = threading.Lock()


def grant(session_key: str, user_id: int, what: str, loader: Loader, *, inline: bool = False,
          seconds: int = GRANT_SECONDS, now: float | None = None) -> str:
    """A token for this file in this session: the same one while it is valid (page reruns do
    not pile up tokens), a new one once it has expired."""
    now = time.monotonic() if now is None else now
    with _lock:
        _drop_expired(now)
        token = _by_session.get((session_key, what))
        if token in _grants:
            return token
        token = secrets.token_urlsafe(24)
        _grants[token] = Grant(session_key, user_id, what, loader, inline, now + seconds)
        _by_session[(session_key, what)] = token
        return token


def redeem(token: str, now: float | None = None) -> Grant | None:
    """The grant behind a token, or None when it is unknown, expired or revoked."""
    now = time.monotonic() if now is None else now
    with _lock:
        found = _grants.get(token)
        if found is None or found.expires <= now:
            return None
        return found


def revoke_session(session_key: str) -> int:
    """Withdraw every grant of a session (sign-out, expiry, a changed account); returns how
    many."""
    with _lock:
        gone = [t for t, g in _grants.items() if g.session_key == session_key]
        for token in gone:
            g = _grants.pop(token)
            _by_session.pop((g.session_key, g.what), None)
        return len(gone)


def _drop_expired(now: float) -> None:
    for token in [t for t, g in _grants.items() if g.expires <= now]:
        g = _grants.pop(token)
        _by_session.pop((g.session_key, g.what), None)
