"""Sending: e-mail through `smtplib` (STARTTLS or SSL, login) and robot webhooks by HTTP POST
(`urllib`). No database.

Both senders hold back the last bytes of a message (SMTP: the "." that ends DATA; HTTP: the
last byte of the body) and call `before_final()` first. The caller records its claim there, in
its own transaction: if the process dies before that, the receiver has an incomplete message
and drops it (nothing was delivered, the message is sent again later); if it dies after, the
claim is on record and the message is not sent again. `before_final()` may raise `Abandon` to
stop the message without its last bytes. Each sender returns a `Delivery` saying how far the
message got; it never raises for a network or protocol failure.
"""
from __future__ import annotations

import fcntl
import http.client
import os
import re
import smtplib
import socket
import ssl
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

DEFAULT_TIMEOUT_S = 20.0


class Abandon(Exception):
    """Raised by `before_final()`: the message must not leave (someone else claimed it)."""


class RunBusy(Exception):
    """Another reminder run holds the lock."""

    def __init__(self, path: Path):
        super().__init__(f"another reminder run holds {path}")
        self.path = path


@dataclass(frozen=True)
class Delivery:
    """How far one message got. `final_sent`: its last bytes left, so the receiver may have it;
    `code`: the SMTP reply code or HTTP status (None when no reply came); `reply`: the HTTP
    body or SMTP reply text; `error`: what went wrong; `abandoned`: stopped by Abandon."""

    final_sent: bool
    code: int | None = None
    reply: bytes = b""
    error: str = ""
    abandoned: bool = False


@contextmanager
def run_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive lock on `path` for a run (released by the kernel if the process dies).
    Raises RunBusy when another process holds it."""
    path = Path(path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunBusy(path) from None
        yield
    finally:
        os.close(fd)


# --- e-mail ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpConfig:
    """How to reach and log in to the mail server. security: 'starttls', 'ssl' or 'none'."""

    host: str
    port: int
    security: str = "starttls"
    username: str = ""
    password: str = ""
    ca_file: str = ""
    timeout: float = DEFAULT_TIMEOUT_S


class _HoldFinal:
    """smtplib's DATA command with a call before the "." that ends the message."""

    before_final: Callable[[], None] | None = None
    final_sent = False

    def data(self, msg: bytes):  # type: ignore[override]
        self.putcmd("data")  # type: ignore[attr-defined]
        code, repl = self.getreply()  # type: ignore[attr-defined]
        if code != 354:
            raise smtplib.SMTPDataError(code, repl)
        q = re.sub(rb"(?m)^\.", b"..", msg)
        if not q.endswith(b"\r\n"):
            q += b"\r\n"
        self.send(q)  # type: ignore[attr-defined]
        if self.before_final is not None:
            self.before_final()
        self.final_sent = True
        self.send(b".\r\n")  # type: ignore[attr-defined]
        return self.getreply()  # type: ignore[attr-defined]


class _SMTP(_HoldFinal, smtplib.SMTP):
    pass


class _SMTPSSL(_HoldFinal, smtplib.SMTP_SSL):
    pass


def _context(ca_file: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_file or None)


class MailSession:
    """One connection to the mail server for a run (opened on first use, reopened after a
    failure), logged in once."""

    def __init__(self, cfg: SmtpConfig):
        self.cfg = cfg
        self._smtp: _SMTP | _SMTPSSL | None = None

    def _open(self) -> _SMTP | _SMTPSSL:
        cfg = self.cfg
        if cfg.security == "ssl":
            smtp: _SMTP | _SMTPSSL = _SMTPSSL(cfg.host, cfg.port, timeout=cfg.timeout,
                                              context=_context(cfg.ca_file))
        else:
            smtp = _SMTP(cfg.host, cfg.port, timeout=cfg.timeout)
            if cfg.security == "starttls":
                smtp.starttls(context=_context(cfg.ca_file))
                smtp.ehlo()
        if cfg.username:
            smtp.login(cfg.username, cfg.password)
        return smtp

    def _drop(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            except OSError:
                pass
        self._smtp = None

    def send(self, sender: str, to: str, data: bytes, before_final: Callable[[], None]
             ) -> Delivery:
        """Send one message (envelope from `sender` to `to`). A server that cannot be reached
        or refuses the login gives a Delivery without a code (try again later), whatever the
        reply code, since the message itself was not judged."""
        if self._smtp is None:
            try:
                self._smtp = self._open()
            except (smtplib.SMTPException, OSError, ssl.SSLError) as ex:
                self._drop()
                return Delivery(False, None, error=f"{type(ex).__name__}: {ex}")
        smtp = self._smtp
        try:
            smtp.before_final, smtp.final_sent = before_final, False
            smtp.sendmail(sender, [to], data)
            return Delivery(True, 250)
        except Abandon:
            self._drop()
            return Delivery(False, abandoned=True)
        except smtplib.SMTPResponseException as ex:
            final = smtp.final_sent
            if ex.smtp_code == 421 or not final:
                self._drop()
            return Delivery(final, ex.smtp_code, _text(ex.smtp_error),
                            f"SMTP {ex.smtp_code} {_text(ex.smtp_error).decode(errors='replace')}")
        except smtplib.SMTPRecipientsRefused as ex:
            code, reply = next(iter(ex.recipients.values()), (550, b""))
            return Delivery(False, code, _text(reply),
                            f"SMTP {code} {_text(reply).decode(errors='replace')}")
        except (smtplib.SMTPException, OSError, ssl.SSLError) as ex:
            final = smtp.final_sent
            self._drop()
            return Delivery(final, None, error=f"{type(ex).__name__}: {ex}")

    def close(self) -> None:
        """Say QUIT and close, ignoring a server that is already gone."""
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
        self._drop()


def _text(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8", "replace")


# --- webhooks ----------------------------------------------------------------------------------


def post_json(url: str, body: bytes, before_final: Callable[[], None], *,
              headers: dict[str, str] | None = None,
              timeout: float = DEFAULT_TIMEOUT_S) -> Delivery:
    """POST a JSON body to a webhook, holding back its last byte until `before_final()`.
    `headers` are added (ASCII values)."""
    state = {"final": False}

    def chunks() -> Iterator[bytes]:
        if len(body) > 1:
            yield body[:-1]
        before_final()
        state["final"] = True
        yield body[-1:]

    request = urllib.request.Request(url, data=chunks(), method="POST", headers={
        **(headers or {}), "Content-Type": "application/json; charset=utf-8",
        "Content-Length": str(len(body))})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Delivery(True, response.status, response.read(65536))
    except Abandon:
        return Delivery(False, abandoned=True)
    except urllib.error.HTTPError as ex:
        reply = ex.read(65536) if ex.fp is not None else b""
        return Delivery(state["final"], ex.code, reply, f"HTTP {ex.code} {ex.reason}")
    except (OSError, http.client.HTTPException, socket.timeout) as ex:
        reason = getattr(ex, "reason", ex)
        return Delivery(state["final"], None, error=f"{type(ex).__name__}: {reason}")
