"""POST /upload (dashboard/uploads.py): files streamed to the upload folder, names made
safe and unique, types and the size limit refused with a message, nothing left behind by a
refused or broken upload, same-origin only, the app-wide 2 MB limit intact elsewhere, and
memory bounded whatever the file's size.

Each test gets a small Dash app of its own (`errors.install` and the route, a 64 KB limit)
and the Flask test client; bodies are generated on demand by `Generated`, never held whole.
`real_server` runs the same app in a subprocess for what only a real socket shows: chunked
bodies, a client that hangs up midway, the server process's peak RSS.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import os
import re
import subprocess
import sys
import tracemalloc
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import dash
import flask
import pytest
from dash import Input, Output, dcc, html

from dashboard import errors
from dashboard.settings import Settings
from dashboard.uploads import (DEFAULT_MAX_BYTES, EMPTY_MESSAGE, EXTENSION_MESSAGE, MB,
                               ORIGIN_MESSAGE, PARTIAL_PREFIX, STOPPED_MESSAGE,
                               clean_stale_partials, list_uploads, max_bytes_from,
                               register_uploads, resolve_upload, safe_name, size_text,
                               too_large_message)

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 64 * 1024
OCTETS = "application/octet-stream"
STORED = re.compile(r"(?P<stem>.+)-(?P<hex>[0-9a-f]{8})(?P<ext>\.[a-z]+)")
CALLBACK = "/_dash-update-component"
PORTS = range(8200, 8300)


class Generated(io.RawIOBase):
    """`size` bytes of CSV-like text made as they are read (seekable, so the test client
    can measure it). Byte i is BLOCK[i % len(BLOCK)]; `explode` makes any read fail."""

    BLOCK = b"".join(b"C%07d,Month-to-month,70.35,Yes\n" % i for i in range(2000))

    def __init__(self, size: int, explode: bool = False) -> None:
        self.size, self.pos, self.explode = size, 0, explode

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = {0: 0, 1: self.pos, 2: self.size}[whence] + offset
        return self.pos

    def readinto(self, buffer) -> int:
        if self.explode:
            raise AssertionError("the body was read")
        view = memoryview(buffer).cast("B")
        n = min(len(view), self.size - self.pos)
        done = 0
        while done < n:
            start = (self.pos + done) % len(self.BLOCK)
            part = min(n - done, len(self.BLOCK) - start)
            view[done:done + part] = self.BLOCK[start:start + part]
            done += part
        self.pos += n
        return n

    @classmethod
    def digest(cls, size: int) -> str:
        stream, sha = cls(size), hashlib.sha256()
        buffer = bytearray(MB)
        while n := stream.readinto(buffer):
            sha.update(memoryview(buffer)[:n])
        return sha.hexdigest()


def file_digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def build_app(folder: Path, max_bytes: int = LIMIT) -> dash.Dash:
    """A Dash app with one callback, a plain POST route, the error policy and /upload."""
    app = dash.Dash(__name__, assets_folder=str(ROOT / "assets"), serve_locally=True)
    app.layout = html.Div([dcc.Input(id="t-in"), html.Div(id="t-out")])

    @app.callback(Output("t-out", "children"), Input("t-in", "value"))
    def echo(value):
        return value

    errors.install(app)
    register_uploads(app.server, folder, max_bytes)

    @app.server.route("/t-echo", methods=["POST"])
    def body_length():
        return str(len(flask.request.get_data()))

    return app


@pytest.fixture
def folder(tmp_path) -> Path:
    return tmp_path / "data" / "uploads"


@pytest.fixture
def client(folder):
    return build_app(folder).server.test_client()


def post(client, name: str | None, body, **kwargs):
    """POST /upload?name=... with `body` (bytes, or a stream) as application/octet-stream."""
    kwargs.setdefault("content_type", OCTETS)
    query = {} if name is None else {"name": name}
    if isinstance(body, (bytes, bytearray)):
        return client.post("/upload", query_string=query, data=bytes(body), **kwargs)
    return client.post("/upload", query_string=query, input_stream=body, **kwargs)


def chunked(client, name: str, body, **kwargs):
    """The same as a chunked request: no Content-Length, a stream the server terminates."""
    return post(client, name, body, headers={"Transfer-Encoding": "chunked"},
                environ_overrides={"wsgi.input_terminated": True}, **kwargs)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def error_of(response) -> str:
    assert response.mimetype == "application/json", response.data[:200]
    assert len(response.data) < 400
    return response.get_json()["error"]


# ----- the round trip -----------------------------------------------------------------------


def test_a_file_is_stored_byte_for_byte_under_a_safe_unique_name(folder):
    client = build_app(folder, max_bytes=8 * MB).server.test_client()
    body = os.urandom(3 * MB + 17)            # over the app's 2 MB limit
    response = post(client, "Q3 churn.CSV", body)
    assert response.status_code == 200, response.data[:300]
    answer = response.get_json()
    assert answer["name"] == "Q3 churn.CSV" and answer["bytes"] == len(body)
    match = STORED.fullmatch(answer["file"])
    assert match and match["stem"] == "Q3_churn" and match["ext"] == ".csv"
    assert (folder / answer["file"]).read_bytes() == body
    assert leftovers(folder) == [answer["file"]]


def test_the_same_name_twice_gives_two_files(client, folder):
    first = post(client, "churn.csv", b"a,b\n1,2\n").get_json()["file"]
    second = post(client, "churn.csv", b"a,b\n3,4\n").get_json()["file"]
    assert first != second
    assert (folder / first).read_bytes() == b"a,b\n1,2\n"
    assert (folder / second).read_bytes() == b"a,b\n3,4\n"
    assert leftovers(folder) == sorted([first, second])


@pytest.mark.parametrize("original, stem, ext", [
    ("churn.csv", "churn", ".csv"),
    ("my data (1).CSV", "my_data_1", ".csv"),
    ("../../etc/passwd.csv", "passwd", ".csv"),
    ("C:\\Users\\ana\\Q3 export.XLSX", "Q3_export", ".xlsx"),
    ("données clients.parquet", "donnees_clients", ".parquet"),
    ("a\x00b;rm -rf.tsv", "a_b_rm_-rf", ".tsv"),
    ("...csv", "upload", ".csv"),
    (".csv", "upload", ".csv"),
    ("日本語.xlsm", "upload", ".xlsm"),
    ("v1..2.txt", "v1.2", ".txt"),
    ("x" * 300 + ".csv", "x" * 80, ".csv"),
])
def test_names_are_made_safe(original, stem, ext):
    assert safe_name(original) == (stem, ext)


def test_a_hostile_name_is_stored_inside_the_folder(client, folder):
    response = post(client, "../../../tmp/evil name.csv", b"x\n1\n")
    stored = response.get_json()["file"]
    assert STORED.fullmatch(stored)["stem"] == "evil_name"
    assert leftovers(folder) == [stored]


# ----- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["data.exe", "data", "data.csv.exe", "data.json", "csv",
                                  "data.xls", "report.csv/"])
def test_other_file_types_are_refused_naming_the_allowed_ones(client, folder, name):
    response = post(client, name, b"a,b\n1,2\n")
    assert response.status_code == 415
    message = error_of(response)
    assert message == EXTENSION_MESSAGE
    assert all(ext in message for ext in (".csv", ".tsv", ".txt", ".xlsx", ".xlsm",
                                          ".parquet"))
    assert leftovers(folder) == []


def test_a_content_length_over_the_limit_is_refused_unread(client, folder):
    response = post(client, "big.csv", Generated(LIMIT + 1, explode=True))
    assert response.status_code == 413
    assert error_of(response) == "the file is larger than the 64 KB limit"
    assert leftovers(folder) == []


def test_exactly_the_limit_is_accepted_both_ways(client, folder):
    for send in (post, chunked):
        response = send(client, "edge.csv", Generated(LIMIT))
        assert response.status_code == 200, response.data[:300]
        assert response.get_json()["bytes"] == LIMIT
    assert len(list_uploads(folder)) == 2


@pytest.mark.parametrize("size", [LIMIT + 1, LIMIT + MB, 20 * MB])
def test_a_stream_over_the_limit_is_stopped_and_its_partial_file_deleted(client, folder, size):
    response = chunked(client, "big.csv", Generated(size))
    assert response.status_code == 413
    assert error_of(response) == too_large_message(LIMIT)
    assert leftovers(folder) == []


def test_a_body_shorter_than_its_length_leaves_nothing(client, folder):
    response = post(client, "cut.csv", Generated(LIMIT // 2),
                    environ_overrides={"CONTENT_LENGTH": str(LIMIT)})
    assert response.status_code == 400 and error_of(response) == STOPPED_MESSAGE
    assert leftovers(folder) == []


@pytest.mark.parametrize("send", [post, chunked])
def test_an_empty_body_is_refused(client, folder, send):
    response = send(client, "empty.csv", Generated(0))
    assert response.status_code == 400 and error_of(response) == EMPTY_MESSAGE
    assert leftovers(folder) == []


@pytest.mark.parametrize("kwargs, status", [
    ({"content_type": "text/csv"}, 415),
    ({"content_type": "multipart/form-data; boundary=x"}, 415),
    ({"content_type": "application/x-www-form-urlencoded"}, 415),
])
def test_only_raw_bytes_are_accepted(client, folder, kwargs, status):
    response = post(client, "a.csv", b"a,b\n", **kwargs)
    assert response.status_code == status and "octet-stream" in error_of(response)
    assert leftovers(folder) == []


@pytest.mark.parametrize("name", [None, "", "   "])
def test_a_missing_name_is_refused(client, name):
    response = post(client, name, b"a,b\n")
    assert response.status_code == 400 and "name" in error_of(response)


def test_only_post_uploads(client, folder):
    response = client.put("/upload?name=a.csv", data=b"a\n", content_type=OCTETS)
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
    assert client.get("/upload?name=a.csv").mimetype == "text/html"  # Dash's page route
    assert leftovers(folder) == []


# ----- same origin --------------------------------------------------------------------------


@pytest.mark.parametrize("origin", ["http://evil.example", "http://localhost.evil.example",
                                    "http://localhost:8080", "https://localhost:8443", "null",
                                    "file://", "http://localhost:x", "http://localhost/path",
                                    "javascript:alert(1)"])
def test_a_cross_site_page_cannot_push_a_file(client, folder, origin):
    response = post(client, "a.csv", b"a,b\n", headers={"Origin": origin})
    assert response.status_code == 403 and error_of(response) == ORIGIN_MESSAGE
    assert leftovers(folder) == []


@pytest.mark.parametrize("origin", ["http://localhost", "http://localhost:80",
                                    "HTTP://LOCALHOST", "https://localhost"])
def test_the_apps_own_pages_can(client, origin):
    assert post(client, "a.csv", b"a,b\n", headers={"Origin": origin}).status_code == 200


def test_the_origin_is_compared_with_the_host_and_port(folder):
    client = build_app(folder).server.test_client()
    base = {"base_url": "http://127.0.0.1:8250/"}
    good = post(client, "a.csv", b"1\n", headers={"Origin": "http://127.0.0.1:8250"}, **base)
    bad = post(client, "a.csv", b"1\n", headers={"Origin": "http://127.0.0.1:8251"}, **base)
    assert (good.status_code, bad.status_code) == (200, 403)


# ----- the app-wide limit still holds elsewhere -------------------------------------------


def test_the_2_mb_limit_still_applies_to_every_other_route(client):
    three_mb = b"9" * (3 * MB)
    assert post(client, "a.csv", b"x\n").status_code == 200  # an upload first: no leak
    for path in (CALLBACK, "/t-echo"):
        response = client.post(path, data=three_mb, content_type="application/json")
        assert response.status_code == 413, path
        assert "2 MB" in response.get_data(as_text=True)
    streamed = client.post("/t-echo", input_stream=Generated(3 * MB), content_type=OCTETS,
                           headers={"Transfer-Encoding": "chunked"},
                           environ_overrides={"wsgi.input_terminated": True})
    # Werkzeug's get_data() stops at the limit on a chunked body (or a read past it is 413).
    assert streamed.status_code == 413 or int(streamed.data) <= errors.MAX_BODY_BYTES
    assert client.post("/t-echo", data=b"9" * MB).get_data(as_text=True) == str(MB)
    assert client.application.config["MAX_CONTENT_LENGTH"] == errors.MAX_BODY_BYTES


def test_a_callback_still_runs(client):
    body = {"output": "t-out.children", "outputs": {"id": "t-out", "property": "children"},
            "inputs": [{"id": "t-in", "property": "value", "value": "hi"}],
            "changedPropIds": ["t-in.value"], "state": []}
    response = client.post(CALLBACK, json=body)
    assert response.status_code == 200 and "hi" in response.get_data(as_text=True)


# ----- memory ---------------------------------------------------------------------------


def traced_upload(folder: str) -> None:
    """POST a 50 MB body with tracemalloc on and print the status, the peak growth and the
    stored name as JSON. Run in a child process of its own: tracemalloc.stop() while other
    threads allocate can crash CPython 3.11 (gh-128679), and the test process has threads."""
    client = build_app(Path(folder), max_bytes=64 * MB).server.test_client()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before, _ = tracemalloc.get_traced_memory()
        response = post(client, "fifty.csv", Generated(50 * MB))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(json.dumps({"status": response.status_code, "growth": peak - before,
                      "body": response.get_data(as_text=True)}))


def test_a_50_mb_upload_holds_about_one_chunk_in_memory(folder):
    code = f"from tests.ui.test_uploads import traced_upload; traced_upload({str(folder)!r})"
    child = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                           text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-2000:]
    result = json.loads(child.stdout.strip().splitlines()[-1])
    assert result["status"] == 200, result["body"]
    growth = result["growth"]
    assert growth < 8 * MB, f"peak Python memory grew by {growth / MB:.1f} MB for 50 MB"
    stored = folder / json.loads(result["body"])["file"]
    assert stored.stat().st_size == 50 * MB and file_digest(stored) == Generated.digest(50 * MB)


# ----- the folder ---------------------------------------------------------------------------


def test_list_uploads_lists_stored_files_newest_first(client, folder):
    assert list_uploads(folder) == []  # not created yet
    old = post(client, "old.csv", b"a\n1\n").get_json()["file"]
    new = post(client, "new.parquet", b"PAR1").get_json()["file"]
    os.utime(folder / old, (1_600_000_000, 1_600_000_000))
    (folder / f"{PARTIAL_PREFIX}abc.part").write_bytes(b"partial")
    (folder / "notes.md").write_text("not data")
    (folder / "link.csv").symlink_to(folder / new)
    rows = list_uploads(folder)
    assert [r["name"] for r in rows] == [new, old]
    assert [r["bytes"] for r in rows] == [4, 4]
    assert datetime.fromisoformat(rows[1]["modified"]).timestamp() == 1_600_000_000
    assert rows[1]["modified"].endswith("+00:00")


def test_resolve_upload_gives_the_path_of_a_stored_file(client, folder):
    stored = post(client, "a.csv", b"a\n1\n").get_json()["file"]
    assert resolve_upload(folder, stored) == (folder / stored).resolve()
    assert resolve_upload(str(folder), stored).read_bytes() == b"a\n1\n"
    gone = resolve_upload(folder, "deleted-0123abcd.csv")  # a name, whether or not kept
    assert gone.parent == folder.resolve() and not gone.exists()


@pytest.mark.parametrize("name", ["../secret.csv", "../uploads/a.csv", "/etc/passwd",
                                  "/etc/hosts.csv", "sub/a.csv", "sub\\a.csv", "..", ".", "",
                                  "a.csv\x00", f"{PARTIAL_PREFIX}x.part", ".hidden.csv",
                                  "a.exe", "C:a.csv", "a.toml", "a.csv.toml", None, 3,
                                  "link.csv", "dir.csv"])
def test_resolve_upload_refuses_anything_but_a_file_directly_in_the_folder(folder, name):
    folder.mkdir(parents=True)
    (folder.parent / "secret.csv").write_text("outside")
    (folder / "link.csv").symlink_to(folder.parent / "secret.csv")
    (folder / "dir.csv").mkdir()
    (folder / "sub").mkdir()
    (folder / "sub" / "a.csv").write_text("nested")
    with pytest.raises(ValueError):
        resolve_upload(folder, name)


def test_stale_partial_files_are_deleted_at_start(folder):
    folder.mkdir(parents=True)
    stale = folder / f"{PARTIAL_PREFIX}old.part"
    fresh = folder / f"{PARTIAL_PREFIX}new.part"
    kept = folder / "kept-0123abcd.csv"
    for path in (stale, fresh, kept):
        path.write_bytes(b"x")
    os.utime(stale, (1_600_000_000, 1_600_000_000))
    os.utime(kept, (1_600_000_000, 1_600_000_000))
    build_app(folder)
    assert leftovers(folder) == sorted([fresh.name, kept.name])
    assert clean_stale_partials(folder / "absent") == 0


def test_the_limit_comes_from_the_settings_and_reads_as_the_server_says_it():
    assert max_bytes_from(Settings()) == DEFAULT_MAX_BYTES == 500 * MB
    assert max_bytes_from(SimpleNamespace(upload_max_mb=10)) == 10 * MB
    assert [size_text(n) for n in (500 * MB, 1536 * 1024, 64 * 1024, 1000, 5)] == \
        ["500 MB", "1.5 MB", "64 KB", "1000 bytes", "5 bytes"]
    assert too_large_message(DEFAULT_MAX_BYTES) == "the file is larger than the 500 MB limit"
    with pytest.raises(ValueError):
        register_uploads(flask.Flask("t"), "x", 0)


def test_the_script_defaults_to_the_data_pages_ids_and_reads_a_zones_own():
    """assets/upload.js: the Data page's ids (the constants here) are its defaults, and a
    drop zone may name its own store, progress bar, input and cancel button (the Score
    page's "Score a file" does; tests/e2e/test_upload_flow.py drives two on one page)."""
    from dashboard.uploads import CANCEL_ID, DROP_ID, INPUT_ID, PROGRESS_ID, STORE_ID

    script = (ROOT / "assets" / "upload.js").read_text(encoding="utf-8")
    for name, value in (("DROP_ID", DROP_ID), ("INPUT_ID", INPUT_ID),
                        ("PROGRESS_ID", PROGRESS_ID), ("CANCEL_ID", CANCEL_ID),
                        ("STORE_ID", STORE_ID)):
        assert f'var {name} = "{value}";' in script, name
    assert 'var ZONES = ".upload-drop, [data-upload-store], #" + DROP_ID;' in script
    for attribute in ("data-upload-store", "data-upload-progress", "data-upload-input",
                      "data-upload-cancel", "data-max-bytes", "data-accept"):
        assert f'"{attribute}"' in script, attribute


def test_refusals_are_logged_as_one_line_without_a_traceback(client, caplog):
    with caplog.at_level("WARNING"):
        post(client, "a.exe", b"x")
        chunked(client, "big.csv", Generated(LIMIT * 2))
    lines = [r.getMessage() for r in caplog.records]
    assert any("415" in line for line in lines) and any("413" in line for line in lines)
    assert not any(r.exc_info for r in caplog.records)


# ----- a real server ------------------------------------------------------------------------

SERVER_CODE = """
import sys
from werkzeug.serving import make_server
from tests.ui.test_uploads import build_app
app = build_app(__import__("pathlib").Path(sys.argv[1]), int(sys.argv[2]))
server = make_server("127.0.0.1", 0, app.server, threaded=False)  # a free port
print(server.server_port, flush=True)
server.serve_forever()
"""


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@pytest.fixture(scope="module")
def real_server(tmp_path_factory):
    """build_app(folder, 64 MB) served by Werkzeug in a subprocess (one request at a time,
    so an answer means the request before it is finished): `.port`, `.folder`, `.pid`."""
    folder = tmp_path_factory.mktemp("real-uploads")
    process = subprocess.Popen([sys.executable, "-c", SERVER_CODE, str(folder), str(64 * MB)],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    try:
        line = process.stdout.readline()
        if not line.strip().isdigit():
            pytest.fail(f"the upload server did not start (exit {process.poll()})")
        yield SimpleNamespace(port=int(line), folder=folder, pid=process.pid)
    finally:
        process.terminate()
        process.wait(timeout=10)


def send(server, name: str, size: int, *, length: int | None = None, close_after=None,
         chunked_body=False):
    """POST `size` generated bytes with http.client; the (status, JSON) answer, or None
    when the connection was dropped before one arrived."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    headers = {"Content-Type": OCTETS}
    if chunked_body:
        headers["Transfer-Encoding"] = "chunked"
    else:
        headers["Content-Length"] = str(size if length is None else length)
    stream, buffer = Generated(size), bytearray(256 * 1024)
    try:
        connection.putrequest("POST", f"/upload?name={name}")
        for key, value in headers.items():
            connection.putheader(key, value)
        connection.endheaders()
        sent = 0
        while n := stream.readinto(buffer):
            data = memoryview(buffer)[:n]
            connection.send(b"%x\r\n%b\r\n" % (n, bytes(data)) if chunked_body else data)
            sent += n
            if close_after is not None and sent >= close_after:
                connection.close()
                return None
        if chunked_body:
            connection.send(b"0\r\n\r\n")
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    except (BrokenPipeError, ConnectionResetError):
        return None  # the server answered early and closed: the follow-up request tells
    finally:
        connection.close()


def test_a_real_server_stores_a_chunked_upload_and_stops_one_over_the_limit(real_server):
    status, answer = send(real_server, "chunked.csv", 3 * MB, chunked_body=True)
    assert status == 200 and answer["bytes"] == 3 * MB
    stored = real_server.folder / answer["file"]
    assert file_digest(stored) == Generated.digest(3 * MB)
    over = send(real_server, "over.csv", 70 * MB, chunked_body=True)
    assert over is None or over == (413, {"error": too_large_message(64 * MB)})
    assert send(real_server, "next.csv", 10)[0] == 200  # the one before is finished
    names = leftovers(real_server.folder)
    assert not any(n.startswith(PARTIAL_PREFIX) or n.startswith("over") for n in names)


def test_a_client_that_hangs_up_midway_leaves_nothing(real_server):
    before = set(leftovers(real_server.folder))
    assert send(real_server, "gone.csv", 8 * MB, close_after=2 * MB) is None
    assert send(real_server, "after.csv", 10)[0] == 200  # the one before is finished
    added = set(leftovers(real_server.folder)) - before
    assert len(added) == 1 and next(iter(added)).startswith("after-")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_the_server_process_grows_by_far_less_than_a_50_mb_upload(real_server):
    assert send(real_server, "warm.csv", 2 * MB)[0] == 200  # code paths and buffers warm
    try:  # reset the peak to the current RSS (Linux >= 4.0), so startup's peak is not in it
        Path(f"/proc/{real_server.pid}/clear_refs").write_text("5")
        baseline = _kib(real_server.pid, "VmRSS")
    except OSError:
        baseline = _kib(real_server.pid, "VmHWM")
    status, answer = send(real_server, "fifty.csv", 50 * MB)
    assert status == 200 and answer["bytes"] == 50 * MB
    growth = _kib(real_server.pid, "VmHWM") - baseline
    assert growth < 12 * MB, f"the server's peak RSS grew by {growth / MB:.1f} MB for 50 MB"
