"""Stand-ins for the outside world of reminders: a real SMTP server on localhost (aiosmtpd) and
one local HTTP server answering as the three robot vendors do, checking their signatures the
way the vendors document. Both keep what they received, so that tests can count deliveries.
A message whose last bytes never arrived (its sender died first) is not counted: a real mail
server drops an unfinished DATA, a real web server an unfinished body."""
from __future__ import annotations

import base64
import email
import hashlib
import hmac
import json
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
import urllib.parse
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as DEFAULT_POLICY
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

SMTP_USER, SMTP_PASSWORD = "tracker", "mail-secret-1"
DING_SECRET = "SECding-signing-secret"
FEISHU_SECRET = "feishu-signing-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- mail ----------------------------------------------------------------------------------------


@dataclass
class Received:
    """One message the SMTP server accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=DEFAULT_POLICY)  # type: ignore[return-value]

    @property
    def key(self) -> str:
        return str(self.message["X-Audit-Reminder-Key"])


@dataclass
class Mailbox:
    """The aiosmtpd handler: keeps accepted messages; can refuse the next ones, or kill a
    process on accepting the n-th (the message is then delivered, its sender never hears)."""

    received: list[Received] = field(default_factory=list)
    refuse: list[str] = field(default_factory=list)   # replies for the next DATA, in turn
    kill_pid: int | None = None
    kill_on: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        with self.lock:
            if self.refuse:
                return self.refuse.pop(0)
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                          envelope.original_content or envelope.content))
            n = len(self.received)
        if self.kill_pid and n == self.kill_on:
            os.kill(self.kill_pid, signal.SIGKILL)
            time.sleep(0.5)
        return "250 Message accepted for delivery"

    def keys(self) -> list[str]:
        with self.lock:
            return [r.key for r in self.received]


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = (getattr(auth_data, "login", b"") == SMTP_USER.encode()
          and getattr(auth_data, "password", b"") == SMTP_PASSWORD.encode())
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost (cert, key), made with openssl."""
    cert, key = folder / "localhost.pem", folder / "localhost.key"
    if not cert.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)], check=True,
                       capture_output=True)
    return cert, key


@contextmanager
def smtp_server(*, security: str = "none", cert: tuple[Path, Path] | None = None,
                ) -> Iterator[tuple[Mailbox, int]]:
    """A running SMTP server on localhost: (mailbox, port). security 'none' (no login),
    'starttls' (TLS, then a required login) or 'ssl' (implicit TLS, then a required login)."""
    box = Mailbox()
    port = free_port()
    # Implicit TLS is TLS already: aiosmtpd only counts STARTTLS towards auth_require_tls.
    kwargs: dict = {"auth_require_tls": security == "starttls"}
    if security != "none":
        kwargs.update(authenticator=_authenticator, auth_required=True)
    if security in ("starttls", "ssl"):
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))  # type: ignore[index]
        if security == "starttls":
            kwargs.update(tls_context=ctx, require_starttls=True)
        else:
            kwargs.update(ssl_context=ctx)
    controller = Controller(box, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


# --- robots ------------------------------------------------------------------------------------


@dataclass
class Post:
    """One complete POST a robot endpoint received."""

    path: str
    query: dict[str, str]
    body: bytes
    headers: dict[str, str]

    @property
    def json(self) -> dict:
        return json.loads(self.body.decode("utf-8"))

    @property
    def vendor(self) -> str:
        return self.path.strip("/").split("/")[0]


def dingtalk_expected_sign(secret: str, timestamp: str) -> str:
    """DingTalk's documented algorithm, written out again for the test."""
    string_to_sign = f"{timestamp}\n{secret}"
    code = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"),
                    digestmod=hashlib.sha256).digest()
    return base64.b64encode(code).decode()


def feishu_expected_sign(secret: str, timestamp: str) -> str:
    """Feishu's documented algorithm: the string to sign is the HMAC key, the message empty."""
    string_to_sign = f"{timestamp}\n{secret}"
    code = hmac.new(string_to_sign.encode("utf-8"), digestmod=hashlib.sha256).digest()
    return base64.b64encode(code).decode()


class RobotEndpoints(ThreadingHTTPServer):
    """/wecom/…, /dingtalk/…, /feishu/…: each answers like its vendor, after checking the
    signature with the secret it was configured with."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _RobotHandler)
        self.posts: list[Post] = []
        self.incomplete = 0
        self.fail_next: list[tuple[int, dict]] = []  # (HTTP status, JSON reply), in turn
        self.kill_pid: int | None = None
        self.kill_on = 0
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def urls(self) -> dict[str, str]:
        """The webhook address of each vendor's stand-in (tokens in the query, as real)."""
        return {"wecom": f"{self.base}/wecom/cgi-bin/webhook/send?key=wecom-key-123",
                "dingtalk": f"{self.base}/dingtalk/robot/send?access_token=ding-token-456",
                "feishu": f"{self.base}/feishu/open-apis/bot/v2/hook/feishu-hook-789"}

    def of(self, vendor: str) -> list[Post]:
        with self.lock:
            return [p for p in self.posts if p.vendor == vendor]


def _signature_error(vendor: str, post: Post) -> dict | None:
    if vendor == "dingtalk":
        ts, sign = post.query.get("timestamp", ""), post.query.get("sign", "")
        if not ts or sign != dingtalk_expected_sign(DING_SECRET, ts):
            return {"errcode": 310000, "errmsg": "sign not match"}
    if vendor == "feishu":
        body = post.json
        if body.get("sign") != feishu_expected_sign(FEISHU_SECRET, str(body.get("timestamp"))):
            return {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}
    return None


_OK = {"wecom": {"errcode": 0, "errmsg": "ok"}, "dingtalk": {"errcode": 0, "errmsg": "ok"},
       "feishu": {"code": 0, "msg": "success", "data": {}}}


class _RobotHandler(BaseHTTPRequestHandler):
    server: RobotEndpoints

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def _reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except BrokenPipeError:
            pass  # the sender was killed before our answer (a test that kills it on purpose)

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if len(body) < length:
            with self.server.lock:
                self.server.incomplete += 1
            return
        parts = urllib.parse.urlsplit(self.path)
        post = Post(parts.path, dict(urllib.parse.parse_qsl(parts.query)), body,
                    dict(self.headers.items()))
        vendor = post.vendor
        with self.server.lock:
            if self.server.fail_next:
                status, payload = self.server.fail_next.pop(0)
                self._reply(status, payload)
                return
        error = _signature_error(vendor, post)
        if error is not None:
            self._reply(200, error)
            return
        with self.server.lock:
            self.server.posts.append(post)
            n = len(self.server.posts)
        if self.server.kill_pid and n == self.server.kill_on:
            os.kill(self.server.kill_pid, signal.SIGKILL)
            time.sleep(0.5)
        self._reply(200, _OK.get(vendor, {"errcode": 0}))


@contextmanager
def robot_endpoints() -> Iterator[RobotEndpoints]:
    """The three vendors' stand-ins, running."""
    server = RobotEndpoints()
    server.thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
