"""The explorer's web server: Python's ThreadingHTTPServer (one thread per request, so several tabs work at once)
serving the page's three bundled files (static/) and the JSON API (api.ROUTES). Nothing else is served: a path
that is not one of those is a 404, a path that tries to climb out ('..', encoded or not) is refused with a 400,
and a request whose Host or Origin is not this server (DNS rebinding, another site's page) with a 403.

The page asks for nothing outside this server (its Content-Security-Policy says so to the browser too).
"""

from __future__ import annotations

import json
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from urllib.parse import parse_qs, unquote, urlsplit

from . import api

MAX_BODY = 12 << 20  # bytes of a POST body: an 8 MiB image as a base64 data URL fits, anything larger is refused
STATIC = {
    "/": ("index.html", "text/html"),
    "/index.html": ("index.html", "text/html"),
    "/app.js": ("app.js", "text/javascript"),
    "/style.css": ("style.css", "text/css"),
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _assets() -> dict[str, bytes]:
    folder = resources.files(__package__) / "static"
    return {name: (folder / name).read_bytes() for name, _ in STATIC.values()}


class ExplorerServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer holding the Explorer and the page's files; request threads are daemons."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, explorer, host: str = "127.0.0.1", port: int = 8000, log=None):
        self.explorer = explorer
        self.assets = _assets()
        self.log = log  # a callable for one line per request, or None (quiet)
        try:
            super().__init__((host, port), Handler)
        except OSError as err:
            raise RuntimeError(
                f"cannot listen on {host}:{port} ({err.strerror or err}); choose another --port"
            ) from None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def allowed_hosts(self) -> set[str] | None:
        """The Host headers this server answers (None: any, when it listens on all interfaces as asked)."""
        host, port = self.server_address[:2]
        if host in ("0.0.0.0", "::", ""):
            return None
        names = {host, f"[{host}]"} | (set(LOOPBACK) | {"[::1]"} if host in LOOPBACK else set())
        return {f"{n}:{port}" for n in names}


class Handler(BaseHTTPRequestHandler):
    server: ExplorerServer
    server_version = "toynn-explore"
    protocol_version = "HTTP/1.1"

    # -- dispatch ------------------------------------------------------------------------------------------------
    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def do_HEAD(self):
        self._handle("GET", head=True)

    def _handle(self, method: str, head: bool = False) -> None:
        try:
            refused = self._refused(method)
            if refused:
                return self._json(*refused, head=head)
            parts = urlsplit(self.path)
            path = parts.path
            if path in STATIC:
                if method != "GET":
                    return self._json(405, f"{method} {path}: the page's files are read with GET")
                name, kind = STATIC[path]
                return self._send(200, self.server.assets[name], f"{kind}; charset=utf-8", head=head)
            route = api.ROUTES.get((method, path))
            if route is None:
                known = [p for m, p in api.ROUTES if p == path]
                if known:
                    return self._json(405, f"{method} {path}: use {' or '.join(m for m, p in api.ROUTES if p == path)}")
                return self._json(404, f"not found: {path} (this server has the page at / and its API under /api/)")
            q = self._body() if method == "POST" else {k: v[-1] for k, v in parse_qs(parts.query).items()}
            if isinstance(q, tuple):  # an error from _body
                return self._json(*q)
            return self._json(200, route(self.server.explorer, q), head=head)
        except api.ApiError as err:
            return self._json(err.status, err.message)
        except Exception as err:  # a bug: say so in the page and on the terminal; the server goes on
            traceback.print_exc(file=sys.stderr)
            return self._json(500, f"internal error in {self.path.split('?')[0]}: {type(err).__name__}: {err}")

    def _refused(self, method: str) -> tuple[int, str] | None:
        """(status, message) for a request refused before routing: path traversal, a foreign Host or Origin."""
        raw = urlsplit(self.path).path
        decoded = raw
        for _ in range(3):  # %252e%252e is '..' after two decodings
            decoded = unquote(decoded)
        segments = decoded.replace("\\", "/").split("/")
        if ".." in segments or "\x00" in decoded or not raw.startswith("/"):
            return 400, f"refused: {raw[:100]!r} climbs out of the served folder (path traversal)"
        allowed = self.server.allowed_hosts()
        host = self.headers.get("Host", "")
        if allowed is not None and host not in allowed:
            return 403, f"refused: Host {host[:100]!r} is not this server ({', '.join(sorted(allowed))})"
        origin = self.headers.get("Origin")
        if method == "POST" and origin is not None and origin != f"http://{host}":
            return 403, f"refused: a request from the page of {origin[:100]!r}, not this server's"
        return None

    def _body(self):
        """The POST body as a dict, or (status, message) when it is missing, too large or not a JSON object."""
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            return 411, "POST needs a Content-Length"
        n = int(length)
        if n > MAX_BODY:
            self.close_connection = True  # the body is not read: the connection cannot be reused
            return 413, f"request of {n / 1e6:.1f} MB is over the limit of {MAX_BODY >> 20} MiB (an image of 8 MiB)"
        try:
            body = json.loads(self.rfile.read(n) or b"{}")
        except (ValueError, UnicodeDecodeError) as err:
            return 400, f"the request body is not JSON ({str(err)[:120]})"
        if not isinstance(body, dict):
            return 400, f"the request body should be a JSON object; got {type(body).__name__}"
        return body

    # -- answers -------------------------------------------------------------------------------------------------
    def _json(self, status: int, payload, head: bool = False) -> None:
        if isinstance(payload, str):
            payload = {"error": payload}
        self._send(status, json.dumps(payload, allow_nan=False).encode(), "application/json", head=head)

    def _send(self, status: int, body: bytes, kind: str, head: bool = False) -> None:
        try:
            self._write(status, body, kind, head)
        except (BrokenPipeError, ConnectionResetError):  # the tab was closed or reloaded meanwhile: nobody to tell
            self.close_connection = True

    def _write(self, status: int, body: bytes, kind: str, head: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("Referrer-Policy", "no-referrer")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format, *args):
        if self.server.log is not None:
            self.server.log(f"{self.address_string()} {format % args}")


def make_server(explorer, host: str = "127.0.0.1", port: int = 8000, log=None) -> ExplorerServer:
    """The server for explorer on host:port (port 0: any free port; its address is server.url). Call
    serve_forever() on it (in a thread for tests) and shutdown() to stop."""
    return ExplorerServer(explorer, host, port, log)
