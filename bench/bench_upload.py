"""Upload benchmark: a generated CSV streamed to POST /upload of a real server.

Starts a minimal app (a Dash app with the error policy and the upload route, as the
dashboard has them) in a Werkzeug server subprocess on a free port in 8200-8299, writes a
CSV of demo customers of `--mb` MB (default 200) to a temp folder, and streams it with
`http.client` in `--chunk-kb` chunks (default 1024), `--repeats` times, with a
Content-Length (as a browser sends a File) and once chunked. Prints per upload the time,
MB/s and the server's peak RSS growth (Linux: its peak is reset before each upload through
/proc/<pid>/clear_refs), checks the stored file equals the source (SHA-256), and for
reference the time of a plain copy of the file on the same disk. Figures only.

    PYTHONPATH=. .venv/bin/python bench/bench_upload.py [--mb 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MB = 1024 * 1024
SERVER_CODE = """
import sys
from pathlib import Path
import dash
from dash import html
from werkzeug.serving import make_server
from dashboard import errors
from dashboard.uploads import register_uploads
app = dash.Dash(__name__)
app.layout = html.Div()
errors.install(app)
register_uploads(app.server, Path(sys.argv[1]), int(sys.argv[2]))
for port in range(8200, 8300):
    try:
        server = make_server("127.0.0.1", port, app.server, threaded=True)
        break
    except OSError:
        continue
else:
    sys.exit("no free port in 8200-8299")
print(server.server_port, flush=True)
server.serve_forever()
"""


def make_csv(path: Path, size: int) -> str:
    """A CSV of demo customers (the header once, then the rows over and over) of `size`
    bytes; returns its SHA-256."""
    from analytics.demo import generate_demo

    text = generate_demo(20_000, seed=1).to_csv(index=False)
    header, body = text.split("\n", 1)
    block = body.encode()
    sha = hashlib.sha256()
    with open(path, "wb") as handle:
        first = (header + "\n").encode()
        handle.write(first)
        sha.update(first)
        written = len(first)
        while written < size:
            part = block[:size - written]
            handle.write(part)
            sha.update(part)
            written += len(part)
    return sha.hexdigest()


def file_sha(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def status_kb(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak(pid: int) -> int | None:
    """Reset the process's peak RSS to its current RSS (Linux >= 4.0); the RSS in KiB."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return status_kb(pid, "VmHWM")  # no reset: growth over the peak so far
    return status_kb(pid, "VmRSS")


def upload(port: int, path: Path, chunk: int, chunked: bool) -> tuple[float, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    size = path.stat().st_size
    clock = time.perf_counter()
    connection.putrequest("POST", f"/upload?name={path.name}")
    connection.putheader("Content-Type", "application/octet-stream")
    if chunked:
        connection.putheader("Transfer-Encoding", "chunked")
    else:
        connection.putheader("Content-Length", str(size))
    connection.endheaders()
    with open(path, "rb") as handle:
        while data := handle.read(chunk):
            connection.send(b"%x\r\n%b\r\n" % (len(data), data) if chunked else data)
    if chunked:
        connection.send(b"0\r\n\r\n")
    response = connection.getresponse()
    answer = json.loads(response.read())
    seconds = time.perf_counter() - clock
    connection.close()
    if response.status != 200:
        raise RuntimeError(f"upload failed: {response.status} {answer}")
    return seconds, answer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=200, help="file size in MB (default 200)")
    parser.add_argument("--chunk-kb", type=int, default=1024, help="client chunk (1024 KB)")
    parser.add_argument("--repeats", type=int, default=3, help="uploads with a length (3)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="churnlens-bench-upload-"))
    folder = work / "uploads"
    process = None
    try:
        source = work / "churn.csv"
        clock = time.perf_counter()
        digest = make_csv(source, args.mb * MB)
        print(f"generated {source.stat().st_size / MB:.0f} MB CSV in "
              f"{time.perf_counter() - clock:.1f} s")
        clock = time.perf_counter()
        shutil.copyfile(source, work / "copy.csv")
        copy_s = time.perf_counter() - clock
        (work / "copy.csv").unlink()
        print(f"reference: a plain copy on this disk {copy_s:.2f} s "
              f"({args.mb / copy_s:.0f} MB/s)")
        process = subprocess.Popen(
            [sys.executable, "-c", SERVER_CODE, str(folder), str((args.mb + 1) * MB)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        port = int(process.stdout.readline())
        warm = work / "warm.csv"
        make_csv(warm, MB)
        upload(port, warm, args.chunk_kb * 1024, False)  # warm-up: first request, buffers
        for stored in folder.iterdir():
            stored.unlink()
        print(f"server pid {process.pid} on port {port}; server RSS "
              f"{(status_kb(process.pid, 'VmRSS') or 0) / 1024:.0f} MB after warm-up")
        print(f"{'mode':<16}{'seconds':>9}{'MB/s':>9}{'peak RSS growth':>18}  identical")
        runs = [("content-length", False)] * args.repeats + [("chunked", True)]
        for mode, chunked in runs:
            baseline = reset_peak(process.pid)
            seconds, answer = upload(port, source, args.chunk_kb * 1024, chunked)
            peak = status_kb(process.pid, "VmHWM")
            growth = f"{(peak - baseline) / 1024:.1f} MB" if peak and baseline else "n/a"
            stored = folder / answer["file"]
            same = file_sha(stored) == digest
            stored.unlink()
            print(f"{mode:<16}{seconds:>9.2f}{args.mb / seconds:>9.0f}{growth:>18}  {same}")
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
