"""deploy/nginx/petition.conf as shipped: `nginx -t` accepts it on the nginx this machine
has (Debian 12's 1.22 in CI: scripts/system-deps.sh installs it), and nginx running it in
front of gunicorn keeps the site answering while slow clients hold connections open.

Only what an operator edits is replaced: certificate and log paths, and, for the running
test, the listening ports and the upstream's address."""
from __future__ import annotations

import datetime
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request

import pytest

from tests.conftest import free_port
from tests.production.servers import ROOT, app_env, start_gunicorn

SHIPPED = ROOT / "deploy" / "nginx" / "petition.conf"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)

pytestmark = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (scripts/system-deps.sh nginx installs Debian's; .ci/run does)")


def self_signed(directory) -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "letters.example.org")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "fullchain.pem", directory / "privkey.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def site_config(tmp_path, *, ports: tuple[int, int] | None = None, upstream: int | None = None) -> str:
    cert, key = self_signed(tmp_path)
    text = SHIPPED.read_text()
    text = text.replace("/etc/letsencrypt/live/letters.example.org/fullchain.pem", cert)
    text = text.replace("/etc/letsencrypt/live/letters.example.org/privkey.pem", key)
    text = text.replace("/var/log/nginx/", f"{tmp_path}/")
    text = text.replace("/srv/petition/static/", f"{ROOT}/static/")
    if ports:
        http, https = ports
        text = re.sub(r"listen \[::\]:\d+[^;]*;\n", "", text)
        text = re.sub(r"listen 80;", f"listen 127.0.0.1:{http};", text)
        text = re.sub(r"listen 443 ", f"listen 127.0.0.1:{https} ", text)
    if upstream:
        text = text.replace("server 127.0.0.1:8000", f"server 127.0.0.1:{upstream}")
    return text


def main_config(tmp_path, site: str) -> str:
    (tmp_path / "site.conf").write_text(site)
    for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / name).mkdir(exist_ok=True)
    temp = "\n".join(f"  {name}_temp_path {tmp_path}/{name.split('_')[0]};" for name in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    temp = temp.replace(f"{tmp_path}/client;", f"{tmp_path}/body;")
    main = tmp_path / "nginx.conf"
    main.write_text(f"""user root;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/main-error.log;
worker_processes 1;
events {{ worker_connections 256; }}
http {{
  access_log off;
{temp}
  include {tmp_path}/site.conf;
}}
""")
    return str(main)


def test_the_shipped_config_passes_nginx_t(tmp_path):
    """Debian 12's nginx 1.22 refused `http2 on;` (1.25.1+): the site would not load."""
    conf = main_config(tmp_path, site_config(tmp_path))
    result = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", conf], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@pytest.mark.slow
def test_behind_nginx_slow_clients_hold_no_worker(make_app, tmp_path):
    """Sixteen stalled connections to nginx (silent, or half a request) and one sync
    gunicorn worker behind it: a real request is still answered at once, because nginx
    waits for whole requests itself and passes gunicorn only complete ones."""
    if os.geteuid() != 0:
        pytest.skip("nginx's running test needs root (its master process opens the logs)")
    app = make_app()
    server = start_gunicorn(app_env(app.config["SQLALCHEMY_DATABASE_URI"], tmp_path, GUNICORN_CLIENT_TIMEOUT="30"),
                            tmp_path, "web", workers=1, threads=1)
    http, https = free_port(), free_port()
    conf = main_config(tmp_path, site_config(tmp_path, ports=(http, https), upstream=server.port))
    nginx = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", conf, "-g", "daemon off;"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stalled = []
    try:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", https), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and nginx.poll() is None, nginx.stderr.read() if nginx.poll() else ""
                time.sleep(0.1)
        for i in range(16):
            raw = socket.create_connection(("127.0.0.1", https), timeout=30)
            if i % 2:
                conn = context.wrap_socket(raw, server_hostname="letters.example.org")
                conn.sendall(b"GET /en/ HTTP/1.1\r\nHost: letters.example.org\r\nX-Slow: ")
            else:
                conn = raw  # not even a TLS hello
            stalled.append(conn)
        started = time.monotonic()
        request = urllib.request.Request(f"https://127.0.0.1:{https}/en/", headers={"Host": "letters.example.org"})
        with urllib.request.urlopen(request, timeout=20, context=context) as response:
            assert response.status == 200
            assert "<html" in response.read().decode()
        assert time.monotonic() - started < 3
    finally:
        for conn in stalled:
            conn.close()
        nginx.terminate()
        nginx.wait(10)
        server.stop()
