"""Host check, security headers, compression and cache headers on every answer of the app.

`install(app, settings)` (called by the app factory right after `errors.install(app)`, whose
body-size limit and short error answers it relies on) sets up on the Dash app's Flask server:

- The host check, the first before-request hook: only a Host header naming this server is
  answered (its host name, lower case, port and IPv6 brackets stripped, IP addresses in
  their usual form). Answered: the bound `--host` address, every `--allowed-host` name and,
  when bound to a loopback address or to all addresses (0.0.0.0, ::), also localhost,
  127.0.0.1 and ::1. Any other name gets a 400 saying which name was refused and how to
  allow it, before any other hook or view runs: a web page whose DNS name is re-pointed at
  this server (DNS rebinding) reads nothing, even on 127.0.0.1.
- Security headers on every answer, errors included: a Content-Security-Policy that Dash's
  pages satisfy (scripts from this server and Dash's own inline scripts, by their hashes;
  no framing), X-Frame-Options, nosniff, Referrer-Policy, Cross-Origin-Opener-Policy,
  Cross-Origin-Resource-Policy and a Permissions-Policy that turns off what the app never
  uses.
- Compression: brotli when the browser accepts it, else gzip, for HTML, JavaScript, CSS,
  JSON (layouts and callback answers), SVG, icons and text of COMPRESS_MIN_SIZE bytes or
  more. Answers made per request go through Flask-Compress (fast levels); static files
  (Dash's component files, assets/) are compressed once and kept (`StaticFiles`: brotli
  level 10 made in the background, kept in the cache directory). Downloads under /export/
  are sent as they are: streamed from disk with their Content-Length (a CSV or workbook
  download keeps its streaming and its progress bar; a workbook is a zip already).
- Cache headers: fingerprinted component files (`.v4_4_1m<mtime>.js`), files of assets/
  requested with Dash's `?m=<mtime>` and Dash's versioned favicon are cached for a year as
  immutable (a new version has a new URL); other static files are revalidated on each use
  (`no-cache` with their ETag and Last-Modified); everything else (pages, layouts,
  callback answers, the API, exports, errors) carries customer data and is `no-store`.
"""

from __future__ import annotations

import gzip
import hashlib
import ipaddress
import logging
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import brotli
import dash
import flask
from dash.fingerprint import check_fingerprint
from flask_compress import Compress

from dashboard.errors import ClientError
from dashboard.services.checks import lower_priority
from dashboard.services.idle import IDLE
from dashboard.settings import is_loopback

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
ALL_ADDRESSES = ("0.0.0.0", "::", "")
SHOWN_HOST = 60                 # characters of a refused host name repeated in the answer
# Host header: a name or IPv4 address, or an IPv6 address in brackets; then maybe a port.
HOST_RE = re.compile(r"(?:\[(?P<ip6>[0-9a-f:.]+(?:%[\w.~-]+)?)\]|(?P<name>[^\[\]:]+))"
                     r"(?::(?P<port>[0-9]{1,5}))?", re.ASCII | re.IGNORECASE)
NAME_RE = re.compile(r"[a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?", re.ASCII)

YEAR = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
NO_STORE = "no-store"
EXTENSION = "churnlens_static_files"  # app.server.extensions key of the StaticFiles
ASSETS_ENDPOINT = "_dash_assets.static"
SUITES_PREFIX = "/_dash-component-suites/"
EXPORT_PREFIX = "/export/"

COMPRESSED_TYPES = ("text/html", "text/css", "text/plain", "text/javascript",
                    "application/javascript", "application/x-javascript", "application/json",
                    "image/svg+xml", "image/x-icon", "image/vnd.microsoft.icon")
ALGORITHMS = ("br", "gzip")     # brotli first when the browser takes both
COMPRESS_MIN_SIZE = 500
DYNAMIC_BR_LEVEL = 4            # answers made per request (pages, JSON): fast
FAST_BR_LEVEL = 5               # a static file the first time it is asked for
BEST_BR_LEVEL = 10              # ... then, in the background, once per file version
GZIP_LEVEL = 9
STATIC_CACHE_BYTES = 64 * 2**20  # compressed static files kept in memory at most
STATIC_FOLDER = "static-br"     # the best-compressed files, in the cache directory
STATIC_FOLDER_BYTES = 64 * 2**20  # ... at most; the least recently used go first

# What every page needs besides its scripts (checked in headless Chromium on every page,
# tests/e2e/test_security_flow.py). No 'unsafe-eval': plotly.js, AG Grid and the renderer
# run without it, dev tools included. Styles need 'unsafe-inline': React, plotly.js and AG
# Grid set style attributes and add <style> elements (style-src 'self' alone: ~400 refusals
# over the pages); a style cannot run a script.
CSP_REST = ("style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
            "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
            "base-uri 'self'; form-action 'self'; object-src 'none'")
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
STATIC_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Addresses carry customer ids (/customer/<id>) and export state: other sites are
    # never told where a user came from; same-origin requests keep it (nothing needs it).
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": PERMISSIONS_POLICY,
}


def install(app: dash.Dash, settings) -> None:
    """Set up the host check, headers and compression on the app's Flask server."""
    server = app.server
    allowed = allowed_hosts(settings)
    hooks = server.before_request_funcs.setdefault(None, [])

    def refuse_other_hosts() -> None:
        check_host(allowed)

    hooks.insert(0, refuse_other_hosts)  # before errors.py's body-size check and the rest
    server.config.update(
        COMPRESS_REGISTER=False,  # run from `finish` below, for answers made per request
        COMPRESS_MIMETYPES=list(COMPRESSED_TYPES),
        COMPRESS_ALGORITHM=list(ALGORITHMS),
        COMPRESS_MIN_SIZE=COMPRESS_MIN_SIZE,
        COMPRESS_BR_LEVEL=DYNAMIC_BR_LEVEL,
        COMPRESS_LEVEL=6,
        # A streamed answer (a download) is sent as it is, with its Content-Length.
        COMPRESS_STREAMS=False,
    )
    compress = Compress(server)
    static = StaticFiles(Path(settings.cache_dir) / STATIC_FOLDER if settings.cache_dir
                         else None)
    server.extensions[EXTENSION] = static

    @server.after_request
    def finish(response: flask.Response) -> flask.Response:
        """Security and cache headers on every answer; compression where it helps."""
        response.headers.update(STATIC_HEADERS)
        response.headers["Content-Security-Policy"] = content_security_policy(app)
        caching = cache_control(response)
        response.headers["Cache-Control"] = caching
        response.headers.pop("Expires", None)  # Cache-Control says it
        if flask.request.path.startswith(EXPORT_PREFIX) or response.status_code != 200:
            return response  # downloads as they are; 304s, redirects and errors are small
        if caching != NO_STORE:  # a static file
            return static.compress(response)
        return compress.after_request(response)


# ----- the host check -------------------------------------------------------------------


def host_name(value: str | None) -> str | None:
    """The host name of a Host header value: lower case, without port or IPv6 brackets, an
    IP address in its usual form; None when it is not a valid host."""
    match = HOST_RE.fullmatch((value or "").strip())
    if match is None:
        return None
    if match["ip6"] is not None:
        try:
            return ipaddress.IPv6Address(match["ip6"]).compressed
        except ValueError:
            return None
    name = match["name"].lower()
    name = name[:-1] if name.endswith(".") else name  # "localhost." is "localhost"
    try:
        return ipaddress.IPv4Address(name).compressed
    except ValueError:
        pass
    return name if NAME_RE.fullmatch(name) else None


def configured_name(value: str) -> str:
    """A --host or --allowed-host value as `host_name` gives it ("::1", "[::1]:8050",
    "Example.COM:443" are all understood)."""
    text = value.strip()
    try:
        return ipaddress.ip_address(text.strip("[]")).compressed
    except ValueError:
        return host_name(text) or text.lower()


def allowed_hosts(settings) -> frozenset[str]:
    """The host names this server answers to (see the module docstring)."""
    names = {configured_name(name) for name in settings.allowed_hosts}
    bound = settings.host.strip().strip("[]")
    if bound in ALL_ADDRESSES or is_loopback(bound):
        names.update(LOOPBACK_NAMES)
    if bound not in ALL_ADDRESSES:
        names.add(configured_name(bound))
    return frozenset(names)


def check_host(allowed: frozenset[str]) -> None:
    """Refuse (400) a request whose Host header is not one of the `allowed` names."""
    header = flask.request.headers.get("Host")
    if host_name(header) in allowed:
        return
    if not header:
        raise ClientError("the request has no Host header; this server answers only "
                          "requests naming it")
    shown = shown_host(header)
    raise ClientError(f"this server does not answer to the host name {shown}; to allow it, "
                      f"start the server with --allowed-host {shown}")


def shown_host(header: str) -> str:
    """The refused host as it may be repeated: its name without the port (a malformed
    value as sent), printable ASCII only (anything else, quotes and <>& as ?), clipped."""
    name = host_name(header) or header.strip()
    name = "".join(ch if " " < ch < "\x7f" and ch not in "<>&\"'\\`" else "?" for ch in name)
    return name if len(name) <= SHOWN_HOST else name[:SHOWN_HOST - 1] + "…"


# ----- headers ----------------------------------------------------------------------------


def content_security_policy(app: dash.Dash) -> str:
    """The CSP every answer carries; Dash's inline scripts are allowed by their hashes."""
    scripts = " ".join(["'self'", *app.csp_hashes()])
    return f"default-src 'self'; script-src {scripts}; {CSP_REST}"


def cache_control(response: flask.Response) -> str:
    """How long the browser may keep this answer (see the module docstring)."""
    request = flask.request
    if response.status_code not in (200, 304):
        return NO_STORE
    path = request.path
    if path.startswith(SUITES_PREFIX):
        return YEAR if check_fingerprint(path)[1] else REVALIDATE
    if request.url_rule is not None and request.url_rule.endpoint == ASSETS_ENDPOINT:
        return YEAR if request.args.get("m") else REVALIDATE
    if path == "/_favicon.ico":
        return YEAR if request.args.get("v") == dash.__version__ else REVALIDATE
    return NO_STORE


# ----- compressed static files -----------------------------------------------------------


class StaticFiles:
    """Static files (Dash's component files, files of assets/) compressed once and kept in
    memory (at most STATIC_CACHE_BYTES; past that, compressed per request).

    A file is first compressed fast (brotli FAST_BR_LEVEL, gzip GZIP_LEVEL), then, for
    brotli, again at BEST_BR_LEVEL in one background thread (plotly.js: 1.41 MB at level 4,
    1.13 MB at level 10, about 7 s of one core). The result is kept in `folder` (in the
    cache directory) by the file's SHA-256, so the next start and the other workers serve
    it at once. A compressed answer gets its own strong ETag (the file's digest and the
    encoding), and a request that names it is answered 304.
    """

    def __init__(self, folder: str | Path | None) -> None:
        self.folder = Path(folder) if folder else None
        self.files: dict[tuple, tuple[bytes, str]] = {}
        self.size = 0
        self.lock = threading.Lock()
        self.pending: set[tuple] = set()
        self.executor: ThreadPoolExecutor | None = None

    def compress(self, response: flask.Response) -> flask.Response:
        response.vary.add("Accept-Encoding")
        algorithm = flask.request.accept_encodings.best_match(ALGORITHMS)
        if algorithm is None or response.mimetype not in COMPRESSED_TYPES or \
                "Content-Encoding" in response.headers:
            return response
        response.direct_passthrough = False  # a file from disk: read it whole (it is small)
        data = response.get_data()
        if len(data) < COMPRESS_MIN_SIZE:
            return response
        key = (algorithm, flask.request.path, response.get_etag()[0])
        found = self.files.get(key)
        if found is None:
            found = self._first(key, data)
        encoded, etag = found
        response.set_data(encoded)
        response.headers["Content-Encoding"] = algorithm
        response.set_etag(etag)
        return response.make_conditional(flask.request)

    def _first(self, key: tuple, data: bytes) -> tuple[bytes, str]:
        algorithm = key[0]
        digest = hashlib.sha256(data).hexdigest()
        best = self._load(digest) if algorithm == "br" else None
        if best is not None:
            return self._keep(key, best, f"{digest[:32]}-br{BEST_BR_LEVEL}")
        if algorithm == "br":
            found = self._keep(key, brotli.compress(data, quality=FAST_BR_LEVEL),
                               f"{digest[:32]}-br{FAST_BR_LEVEL}")
            self._improve(key, digest, data)
            return found
        return self._keep(key, gzip.compress(data, GZIP_LEVEL, mtime=0),
                          f"{digest[:32]}-gzip{GZIP_LEVEL}")

    def _keep(self, key: tuple, encoded: bytes, etag: str) -> tuple[bytes, str]:
        with self.lock:
            old = self.files.get(key)
            grown = len(encoded) - (len(old[0]) if old else 0)
            if self.size + grown <= STATIC_CACHE_BYTES:
                self.files[key] = (encoded, etag)
                self.size += grown
        return encoded, etag

    def _path(self, digest: str) -> Path | None:
        return self.folder / f"{digest}.br{BEST_BR_LEVEL}" if self.folder else None

    def _load(self, digest: str) -> bytes | None:
        path = self._path(digest)
        try:
            if path is None:
                return None
            data = path.read_bytes()
            os.utime(path)  # in use: the pruning keeps the files read last
            return data
        except OSError:
            return None

    def prune(self, limit: int = STATIC_FOLDER_BYTES) -> int:
        """Delete the least recently used files past `limit` bytes (older versions of the
        packages' files pile up otherwise); the number deleted."""
        if self.folder is None:
            return 0
        try:
            entries = [(p.stat().st_mtime, p.stat().st_size, p)
                       for p in self.folder.glob(f"*.br{BEST_BR_LEVEL}")]
        except OSError:
            return 0
        total, deleted = 0, 0
        for _mtime, size, path in sorted(entries, key=lambda e: e[0], reverse=True):
            total += size
            if total > limit:
                path.unlink(missing_ok=True)  # another worker may read it: it recompresses
                deleted += 1
        return deleted

    def _improve(self, key: tuple, digest: str, data: bytes) -> None:
        """Compress `data` at BEST_BR_LEVEL in the background (one file at a time)."""
        with self.lock:
            if key in self.pending:
                return
            self.pending.add(key)
            if self.executor is None:
                self.executor = ThreadPoolExecutor(1, thread_name_prefix="churnlens-brotli",
                                                   initializer=lower_priority)
        self.executor.submit(self._best, key, digest, data)

    def _best(self, key: tuple, digest: str, data: bytes) -> None:
        IDLE.wait()  # after the first page: it is served at FAST_BR_LEVEL meanwhile
        try:
            encoded = self._load(digest) or brotli.compress(data, quality=BEST_BR_LEVEL)
            self._keep(key, encoded, f"{digest[:32]}-br{BEST_BR_LEVEL}")
            path = self._path(digest)
            if path is not None and not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                partial = path.with_name(f"{path.name}.{os.getpid()}.part")
                partial.write_bytes(encoded)
                os.replace(partial, path)  # whole or not at all (workers may race)
                self.prune()
        except Exception:  # noqa: BLE001 - the fast version stays in service
            logging.getLogger(__name__).exception("compressing a static file failed")
        finally:
            with self.lock:
                self.pending.discard(key)

