"""ClickHouse credentials and TLS, against a stand-in HTTPS server on 127.0.0.1 (no ClickHouse
server runs here): it answers every request as a server that refuses the login, with
ClickHouse's error 516, and records what it was sent.

* over ``https`` with ``SFERUM_STORE_CA_FILE`` the certificate is accepted and the user and
  password of ``SFERUM_STORE_USER`` / ``SFERUM_STORE_PASSWORD_FILE`` are sent;
* without that CA the certificate is refused before anything is sent;
* either way the command prints one line, exits 1, and the password is in no output.
"""

from __future__ import annotations

import base64
import http.server
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.integration

PASSWORD = "ch-password-9d1e7"
REFUSED = (
    b"Code: 516. DB::Exception: sferum_worker: Authentication failed: password is incorrect, or there is no user "
    b"with such name. (AUTHENTICATION_FAILED) (version 26.3.1.1)\n"
)


def make_tls(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it."""

    def openssl(*args: str) -> None:
        done = subprocess.run(["openssl", *args], capture_output=True, cwd=tmp_path)
        assert done.returncode == 0, done.stderr

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=test CA", "-addext", "basicConstraints=critical,CA:TRUE")  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=ch")
    (tmp_path / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n", encoding="utf-8")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "san.ext")  # fmt: skip
    return tmp_path / "ca.pem", tmp_path / "server.pem", tmp_path / "server.key"


class Refusing(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []

    def _refuse(self) -> None:
        Refusing.seen.append({k.lower(): v for k, v in self.headers.items()})
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(516)
        self.send_header("X-ClickHouse-Exception-Code", "516")
        self.send_header("Content-Length", str(len(REFUSED)))
        self.end_headers()
        self.wfile.write(REFUSED)

    do_GET = do_POST = _refuse

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    ca, cert, key = make_tls(tmp_path)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    Refusing.seen = []
    yield httpd.server_address[1], ca
    httpd.shutdown()
    httpd.server_close()


def credentials_sent(headers: dict[str, str]) -> tuple[str | None, str | None]:
    if "authorization" in headers:
        user, _, password = base64.b64decode(headers["authorization"].split()[1]).decode().partition(":")
        return user, password
    return headers.get("x-clickhouse-user"), headers.get("x-clickhouse-key")


def test_https_store_with_its_ca_gets_the_user_and_password_and_names_no_password(
    server: tuple[int, Path], tmp_path: Path
) -> None:
    port, ca = server
    (tmp_path / "password").write_text(PASSWORD + "\n", encoding="utf-8")
    env = {
        "SFERUM_STORE": f"https://127.0.0.1:{port}",
        "SFERUM_STORE_USER": "sferum_worker",
        "SFERUM_STORE_PASSWORD_FILE": str(tmp_path / "password"),
        "SFERUM_STORE_CA_FILE": str(ca),
    }
    result = run_cli("sql", "SELECT 1", env=env, timeout=120)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sferum-kpi: error: ") and "516" in lines[0], result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    assert Refusing.seen, "nothing reached the server over TLS"
    assert credentials_sent(Refusing.seen[0]) == ("sferum_worker", PASSWORD)


def test_https_store_without_its_ca_is_refused_before_anything_is_sent(server: tuple[int, Path]) -> None:
    port, _ = server
    env = {"SFERUM_STORE": f"https://sferum_worker:{PASSWORD}@127.0.0.1:{port}"}
    result = run_cli("sql", "SELECT 1", env=env, timeout=120)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "CERTIFICATE_VERIFY_FAILED" in lines[0], result.stderr
    assert PASSWORD not in result.stdout + result.stderr and "***" in lines[0]
    assert Refusing.seen == []


def test_help_shows_no_password(tmp_path: Path) -> None:
    env = {"SFERUM_STORE": f"https://u:{PASSWORD}@127.0.0.1:9", "SFERUM_STORE_PASSWORD": PASSWORD}
    for command in (["--help"], ["worker", "--help"], ["sql", "--help"], ["dead-letters", "summary", "--help"]):
        result = run_cli(*command, env=env)
        assert PASSWORD not in result.stdout + result.stderr
