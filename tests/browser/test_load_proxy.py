"""Two app processes on one SQLite file behind nginx, with deploy/nginx-audit.conf as
docs/DEPLOY.md gives it (ports substituted): both processes serve the app through the proxy,
the cookie keeps a browser on its process, the websocket upgrades, and a write made through one
process is seen through the other. Skipped only when nginx is absent (.ci/run installs
nginx-light); the part driving real browsers needs Chromium too."""
from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from audit import accounts_service
from audit.store.db import open_database
from tests.browser.conftest import CHROMIUM, _free_port, login, start_app, wait_idle
from tests.conftest import AT

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "deploy" / "nginx-audit.conf"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
PASSWORD = "correct horse 1"

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx not installed")


def _nginx_conf(tmp: Path, port_a: int, port_b: int, port_proxy: int) -> Path:
    site = (CONF.read_text(encoding="utf-8").replace("127.0.0.1:8501", f"127.0.0.1:{port_a}")
            .replace("127.0.0.1:8502", f"127.0.0.1:{port_b}")
            .replace("listen 8080;", f"listen 127.0.0.1:{port_proxy};"))
    (tmp / "audit.conf").write_text(site, encoding="utf-8")
    for d in ("client", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp / d).mkdir(exist_ok=True)
    user = "user root;\n" if os.geteuid() == 0 else ""
    main = tmp / "nginx.conf"
    main.write_text(f"""{user}worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/audit.conf;
}}
""", encoding="utf-8")
    return main


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("proxy")
    db_path = tmp / "app.db"
    db = open_database(db_path)
    accounts_service.create_user(db, None, "admin", PASSWORD, "admin", at=AT)
    accounts_service.create_user(db, None, "clerk", PASSWORD, "admin", at=AT)
    db.conn.close()
    (proc_a, url_a), (proc_b, url_b) = (start_app(db_path, tmp / "a.log"),
                                        start_app(db_path, tmp / "b.log"))
    port_a, port_b = int(url_a.rsplit(":", 1)[1]), int(url_b.rsplit(":", 1)[1])
    port = _free_port()
    conf = _nginx_conf(tmp, port_a, port_b, port)
    nginx = subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(conf)],
                             stdout=subprocess.DEVNULL, stderr=open(tmp / "nginx.out", "wb"))
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if nginx.poll() is not None:
                    raise RuntimeError((tmp / "nginx.out").read_text())
                time.sleep(0.2)
        yield {"port": port, "db": db_path}
    finally:
        for proc in (nginx, proc_a, proc_b):
            proc.terminate()
        for proc in (nginx, proc_a, proc_b):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _get(port: int, path: str, cookie: str | None = None) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    r = conn.getresponse()
    body = r.read()
    node = ""
    for k, v in r.getheaders():
        if k.lower() == "set-cookie" and v.startswith("audit_node="):
            node = v.split(";", 1)[0].split("=", 1)[1]
    conn.close()
    return r.status, node, body


def test_both_processes_serve_the_app_through_the_proxy_and_the_cookie_keeps_a_browser_on_one(
        proxy):
    port = proxy["port"]
    first = {_get(port, "/")[1] for _ in range(6)}
    assert first == {"a", "b"}, "first visits are shared between the two processes"
    for node in ("a", "b"):
        for _ in range(3):
            status, answered, body = _get(port, "/", f"audit_node={node}")
            assert status == 200 and answered == node and b"<div id=\"root\">" in body
        assert _get(port, "/_stcore/health", f"audit_node={node}")[:2] == (200, node)


def test_the_websocket_upgrades_through_the_proxy(proxy):
    sock = socket.create_connection(("127.0.0.1", proxy["port"]), timeout=10)
    try:
        sock.sendall(b"GET /_stcore/stream HTTP/1.1\r\n"
                     b"Host: 127.0.0.1:" + str(proxy["port"]).encode() + b"\r\n"
                     b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     b"Sec-WebSocket-Version: 13\r\n"
                     b"Sec-WebSocket-Protocol: streamlit\r\n"
                     b"Cookie: audit_node=b\r\n\r\n")
        head = sock.recv(4096).decode("latin-1")
    finally:
        sock.close()
    assert head.startswith("HTTP/1.1 101"), head


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium not installed")
def test_a_write_through_one_process_is_seen_through_the_other(proxy, browser):
    """Five wrong passwords through process a lock the account (a write to the shared file);
    the right password through process b is then refused, after both admitted it."""
    base = f"http://127.0.0.1:{proxy['port']}"

    def session(browser, node: str):
        context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
        context.add_cookies([{"name": "audit_node", "value": node, "url": base}])
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(base)
        wait_idle(page)
        return context, page

    # The run's one Chromium (a second sync Playwright in the same worker would fail).
    for node in ("a", "b"):
        context, page = session(browser, node)
        login(page, "admin", PASSWORD)
        page.get_by_test_id("stSidebar").get_by_text("退出登录").wait_for()
        context.close()
    context, page = session(browser, "a")
    for _ in range(5):
        login(page, "clerk", "wrong password")
    context.close()
    context, page = session(browser, "b")
    login(page, "clerk", PASSWORD)
    page.get_by_test_id("stAlert").wait_for()
    assert page.get_by_test_id("stSidebar").get_by_text("退出登录").count() == 0
    context.close()
    db = open_database(proxy["db"], migrate=False)
    assert db.conn.execute("SELECT locked_until IS NOT NULL FROM users WHERE username = 'clerk'"
                           ).fetchone()[0] == 1
