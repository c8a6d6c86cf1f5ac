"""Data files streamed from the browser to the server's upload folder: `POST /upload`.

An analyst's own churn file (CSV/TSV/TXT, Excel, Parquet; hundreds of MB) never passes
through a Dash callback or the browser's memory as base64 (what `dcc.Upload` does): the
browser sends the `File` itself as the request body (`assets/upload.js`), and this route
writes `flask.request.stream` to disk 1 MB at a time. A stated size limit is enforced with
a message: before the body is read when the Content-Length is too large, and while reading
when a chunked body runs past it (a body is never read beyond its Content-Length).

    POST /upload?name=<original file name>
    Content-Type: application/octet-stream
    <the file's bytes>

    200 {"file": "<stored name>", "name": "<original name>", "bytes": n}
    4xx/507 {"error": "<one short sentence>"}   (403 another site's page, 411 no length,
        413 over the limit, 415 not octet-stream or a file type not accepted, 400 empty,
        no name or the upload stopped midway, 507 the disk is full)

The body goes to a hidden `.partial-*` file in the folder, which is then given its stored
name `<stem>-<8 hex>.<ext>` without ever overwriting another upload (a hard link, or a name
reserved with O_EXCL where links are not supported). A failed or refused upload leaves
nothing behind; partial files of a killed process are deleted at the next start once they
are an hour old. The app-wide 2 MB body limit (dashboard/errors.py) applies to every route
but this one: `errors._refuse_large_body` skips UPLOAD_ENDPOINT, and the view sets its own
per-request `request.max_content_length` (Flask >= 3.1) before it reads a byte.

Wiring (in `create_app`, after `errors.install(app)`)::

    from dashboard.uploads import max_bytes_from, register_uploads
    register_uploads(app.server, Path(<data folder>) / "uploads", max_bytes_from(settings))

The Data page renders the markup `assets/upload.js` attaches to (it listens on `document`,
so elements Dash renders later work too; the ids are the constants below)::

    html.Div([...a label such as "Drop a CSV, Excel or Parquet file here, or press to choose"],
             id=DROP_ID, **drop_zone_props(max_bytes)),     # role=button, tabIndex=0, limits
    html.Div(html.Div(className="progress-bar"), id=PROGRESS_ID, className="progress"),
    html.Button("Cancel", id=CANCEL_ID)                      # optional
    dcc.Store(id=STORE_ID)   # the result: {"file", "name", "bytes", "error", "at"}

and a callback on `Input(STORE_ID, "data")` reads the stored name (`resolve_upload(folder,
data["file"])` gives its path) or shows `data["error"]` (`file` is None then; `at`, the time
in ms, makes a repeated result a change). The progress element belongs to the
script: render it once and never write its props from a callback. The script creates the
hidden `<input type="file" id="data-upload-input">` in `document.body` (outside the tree
React manages) unless the page renders one itself; it gives the drop zone the class
`upload-dragover` while a file is dragged over it and `aria-busy="true"` while uploading.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
import tempfile
import time
import unicodedata
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import flask
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from dashboard.errors import UPLOAD_ENDPOINT, clip

MB = 1024 * 1024
CHUNK_BYTES = MB
DEFAULT_MAX_MB = 500
DEFAULT_MAX_BYTES = DEFAULT_MAX_MB * MB
UPLOAD_PATH = "/upload"
EXTENSIONS = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".parquet")
PARTIAL_PREFIX = ".partial-"
STALE_SECONDS = 3600
MAX_STEM = 80                   # characters of the original stem kept in the stored name
MAX_NAME_CHARS = 255            # characters of the original name echoed back

# The markup contract of assets/upload.js (the Data page renders these ids).
DROP_ID = "data-upload-drop"
INPUT_ID = "data-upload-input"
PROGRESS_ID = "data-upload-progress"
CANCEL_ID = "data-upload-cancel"
STORE_ID = "data-upload-store"

# The client refuses with the same words (assets/upload.js builds them the same way).
EMPTY_MESSAGE = "the file is empty"
EXTENSION_MESSAGE = ("only " + ", ".join(EXTENSIONS[:-1]) + " or " + EXTENSIONS[-1] +
                     " files can be uploaded")
ORIGIN_MESSAGE = "uploads are accepted from this app's own pages only"
TYPE_MESSAGE = "send the file's bytes as the body, with Content-Type: application/octet-stream"
NAME_MESSAGE = "name the file: POST /upload?name=<file name>"
LENGTH_MESSAGE = "send a Content-Length or a chunked body"
STOPPED_MESSAGE = "the upload stopped before the whole file arrived"
ROOM_MESSAGE = "the server does not have room for this file"

_STORED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def size_text(n: int) -> str:
    """'500 MB', '1.5 MB', '64 KB', '100 bytes' (MB = 1024 * 1024 bytes, as errors.py)."""
    for unit, scale in (("MB", MB), ("KB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


def too_large_message(max_bytes: int) -> str:
    return f"the file is larger than the {size_text(max_bytes)} limit"


def max_bytes_from(settings) -> int:
    """The upload limit in bytes: the settings' `upload_max_mb` when it has one, else 500 MB."""
    mb = getattr(settings, "upload_max_mb", None)
    return int(mb * MB) if mb else DEFAULT_MAX_BYTES


def drop_zone_props(max_bytes: int) -> dict:
    """Props of the drop zone `html.Div(id=DROP_ID, ...)`: a keyboard-reachable button that
    states its limits to the script (`data-max-bytes`, `data-accept`)."""
    return {"role": "button", "tabIndex": 0, "data-max-bytes": str(int(max_bytes)),
            "data-accept": ",".join(EXTENSIONS),
            "aria-label": f"Choose or drop a data file ({', '.join(EXTENSIONS)}; up to "
                          f"{size_text(max_bytes)})"}


# ----- the route --------------------------------------------------------------------------


def register_uploads(server: flask.Flask, folder: Path | str,
                     max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Add `POST /upload` to the app's Flask server: files of up to `max_bytes` are stored
    in `folder` (created on first use). Call after `errors.install(app)`."""
    folder = Path(folder)
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be positive, not {max_bytes}")
    clean_stale_partials(folder)

    @server.route(UPLOAD_PATH, methods=["POST"], endpoint=UPLOAD_ENDPOINT)
    def upload():
        return _receive(folder, max_bytes)


def _receive(folder: Path, max_bytes: int) -> flask.Response:
    request = flask.request
    # This route's own limit (Flask >= 3.1; the app's MAX_CONTENT_LENGTH stays 2 MB). One
    # byte more than allowed: Werkzeug refuses a chunked body that reaches its limit even
    # when it ends there, and the loop below refuses the byte after `max_bytes` itself.
    request.max_content_length = max_bytes + 1
    if not _same_origin(request):
        return _refuse(403, ORIGIN_MESSAGE)
    if request.mimetype != "application/octet-stream":
        return _refuse(415, TYPE_MESSAGE)
    original = request.args.get("name", "")
    if not original.strip():
        return _refuse(400, NAME_MESSAGE)
    try:
        stem, ext = safe_name(original)
    except ValueError as exc:
        return _refuse(415, str(exc))
    length = request.content_length
    if length is None and not request.environ.get("wsgi.input_terminated"):
        return _refuse(411, LENGTH_MESSAGE)  # Werkzeug would hand us an empty stream
    if length is not None and length > max_bytes:
        return _refuse(413, too_large_message(max_bytes))
    if length == 0:
        return _refuse(400, EMPTY_MESSAGE)
    folder.mkdir(parents=True, exist_ok=True)
    if length is not None and shutil.disk_usage(folder).free < length:
        return _refuse(507, ROOM_MESSAGE)
    try:
        path, size = _store(request.stream, folder, stem, ext, max_bytes)
    except _Refused as exc:
        return _refuse(exc.status, str(exc))
    flask.current_app.logger.info("upload %s: %d bytes stored as %s",
                                  clip(original, 100), size, path.name)
    return flask.jsonify(file=path.name, name=clip(original, MAX_NAME_CHARS), bytes=size)


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _store(stream, folder: Path, stem: str, ext: str, max_bytes: int) -> tuple[Path, int]:
    """Copy `stream` into a partial file in `folder` through one 1 MB buffer, then give it
    its stored name; on any failure the partial file is deleted."""
    buffer = bytearray(CHUNK_BYTES)
    view = memoryview(buffer)
    handle = tempfile.NamedTemporaryFile(dir=folder, prefix=PARTIAL_PREFIX, suffix=".part",
                                         delete=False)
    partial = Path(handle.name)
    size = 0
    try:
        with handle:
            while True:
                n = _read_into(stream, buffer, max_bytes)
                if not n:
                    break
                size += n
                if size > max_bytes:
                    raise _Refused(413, too_large_message(max_bytes))
                _write(handle, view[:n])
        if size == 0:
            raise _Refused(400, EMPTY_MESSAGE)
        return _place(partial, folder, stem, ext), size
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        view.release()


def _read_into(stream, buffer: bytearray, max_bytes: int) -> int:
    try:
        return stream.readinto(buffer) or 0
    except RequestEntityTooLarge:  # Werkzeug's limit on a chunked body
        raise _Refused(413, too_large_message(max_bytes)) from None
    except (ClientDisconnected, OSError, ValueError):  # gone, reset, or a bad chunk
        raise _Refused(400, STOPPED_MESSAGE) from None


def _write(handle, data: memoryview) -> None:
    try:
        handle.write(data)
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise _Refused(507, ROOM_MESSAGE) from None
        raise


def _place(partial: Path, folder: Path, stem: str, ext: str) -> Path:
    """Give the finished partial file a fresh `<stem>-<8 hex><ext>` name, atomically and
    never over an existing file."""
    linkable = True
    while True:
        final = folder / f"{stem}-{secrets.token_hex(4)}{ext}"
        try:
            if linkable:
                os.link(partial, final)   # fails if `final` exists; the whole file at once
                partial.unlink()
                return final
            with open(final, "xb"):       # no hard links here: reserve the name, then
                pass                      # replace it with the whole file
            os.replace(partial, final)
            return final
        except FileExistsError:
            continue
        except OSError as exc:
            if not linkable or exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV,
                                                 errno.EMLINK, errno.EACCES):
                raise
            linkable = False


def _same_origin(request: flask.Request) -> bool:
    """False when the request carries an Origin other than its Host (another site's page
    pushing a file); a request without Origin is not a browser's cross-site request."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    try:
        theirs = urlsplit(origin.strip())
        ours = urlsplit("//" + request.host)
        default = _DEFAULT_PORTS.get(theirs.scheme)
        return (default is not None and theirs.path == "" and theirs.hostname is not None
                and theirs.hostname == ours.hostname
                and (theirs.port or default) == (ours.port or default))
    except ValueError:  # a port that is not a number
        return False


def _refuse(status: int, message: str) -> flask.Response:
    """One short JSON sentence, logged as one line (as dashboard/errors.py answers)."""
    request = flask.request
    message = clip(message)
    flask.current_app.logger.warning("%s %s: %d %s", request.method, clip(request.path, 100),
                                     status, message)
    response = flask.jsonify(error=message)
    response.status_code = status
    return response


# ----- names and the folder ---------------------------------------------------------------


def safe_name(original: str) -> tuple[str, str]:
    """(stem, extension) for a stored name: the base name only (of a POSIX or Windows
    path), accents folded to ASCII, anything but letters, digits and `-_.` (spaces
    included) turned into `_`, the extension lower-cased. ValueError (EXTENSION_MESSAGE)
    for an extension not in EXTENSIONS."""
    base = re.split(r"[\\/]", original)[-1]
    base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode("ascii")
    stem, dot, ext = base.rpartition(".")
    ext = f".{ext.lower()}" if dot else ""
    if ext not in EXTENSIONS:
        raise ValueError(EXTENSION_MESSAGE)
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", stem)
    stem = re.sub(r"\.{2,}", ".", re.sub(r"_{2,}", "_", stem)).strip("._-")
    return stem[:MAX_STEM].rstrip("._-") or "upload", ext


def _is_stored_name(name: str) -> bool:
    return bool(_STORED.fullmatch(name)) and Path(name).suffix.lower() in EXTENSIONS


def list_uploads(folder: Path | str) -> list[dict]:
    """The uploaded files in `folder`, newest first: `{"name", "bytes", "modified"}` (ISO
    8601, UTC). Partial files, other files and symbolic links are not listed."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    rows = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if not _is_stored_name(entry.name) or not entry.is_file(follow_symlinks=False):
                continue
            stat = entry.stat(follow_symlinks=False)
            rows.append((stat.st_mtime, entry.name, stat.st_size))
    rows.sort(reverse=True)
    return [{"name": name, "bytes": size,
             "modified": datetime.fromtimestamp(mtime, timezone.utc).isoformat(
                 timespec="seconds")}
            for mtime, name, size in rows]


def resolve_upload(folder: Path | str, stored_name: str) -> Path:
    """The path of the uploaded file `stored_name`, directly in `folder` (it may have been
    deleted since: check `is_file()`). ValueError for anything else: a path (`..`,
    absolute, any separator), a hidden or partial file, another type, or a name that is a
    symbolic link, a folder or anything but a regular file."""
    if not isinstance(stored_name, str) or not _is_stored_name(stored_name):
        raise ValueError(f"not the name of an uploaded file: {clip(repr(stored_name), 80)}")
    root = Path(folder).resolve()
    path = root / stored_name
    if path.is_symlink() or (path.exists() and not path.is_file()) or \
            path.resolve().parent != root:
        raise ValueError(f"{stored_name!r} is not an uploaded file")
    return path


def clean_stale_partials(folder: Path | str, max_age: float = STALE_SECONDS,
                         now: float | None = None) -> int:
    """Delete partial files older than `max_age` seconds from `folder` (left by a process
    killed mid-upload); returns how many. Younger ones may be an upload in progress."""
    now = time.time() if now is None else now
    removed = 0
    for path in Path(folder).glob(PARTIAL_PREFIX + "*"):
        try:
            if path.is_symlink() or not path.is_file() or now - path.stat().st_mtime <= max_age:
                continue
            path.unlink()
        except OSError:
            continue
        removed += 1
    return removed
