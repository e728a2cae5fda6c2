"""An upstream on 127.0.0.1 that answers HTTPS and plain HTTP on the same port, for the redirect tests:
a redirect from ``https://127.0.0.1:P/`` to ``http://127.0.0.1:P/`` changes the scheme and nothing else.

Its certificate is self-signed, made by the ``openssl`` command line; wagi_nb's client trusts it when
``SSL_CERT_FILE`` names it (OpenSSL reads the variable each time a default TLS context is made).
"""
from __future__ import annotations

import http.server
import socket
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Tuple
from urllib.parse import parse_qs, urlsplit

#: The first byte of a TLS connection (a handshake record).
HANDSHAKE = b"\x16"


def self_signed(folder: Path) -> Tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=120)
    return cert, key


class _Handler(http.server.BaseHTTPRequestHandler):
    """``/redirect?to=URL`` answers 302 to URL; any other path echoes the scheme and the headers."""

    server: "_Server"

    def do_GET(self) -> None:
        scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
        parts = urlsplit(self.path)
        self.server.seen.append((scheme, parts.path, {k.lower(): v for k, v in self.headers.items()}))
        if parts.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", parse_qs(parts.query)["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        lines = [f"scheme={scheme}", f"path={self.path}"]
        lines += [f"h:{k.lower()}={v}" for k, v in sorted(self.headers.items())]
        data = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, tls: ssl.SSLContext):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.tls = tls
        self.seen: list = []

    def finish_request(self, request, client_address) -> None:
        # In the connection's own thread: a client that opens with a handshake gets TLS.
        request.settimeout(10)
        if request.recv(1, socket.MSG_PEEK) != HANDSHAKE:
            super().finish_request(request, client_address)
            return
        with self.tls.wrap_socket(request, server_side=True) as secure:
            super().finish_request(secure, client_address)


class BothSchemes:
    """The upstream: ``url(scheme, path)``, and ``seen`` (``(scheme, path, headers)`` of each request)."""

    def __init__(self, cert: Path, key: Path):
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
        self.server = _Server(tls)
        self.port = self.server.server_address[1]
        self.seen = self.server.seen
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, scheme: str, path: str) -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
