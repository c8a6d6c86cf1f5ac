"""Cache faults: planted, corrupt and misplaced entries, unusable folders, kill -9, two starts.

Every case ends with an analysis served (trained when the cache could not help) and a message
that says what happened. Subprocesses run the repository's code with a bounded wait and are
killed when a test fails.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import pickle
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analytics.pipeline import AnalysisSettings, ChurnAnalysis
from analytics.runner import DataSource, cache_key, load_or_train
from analytics.store import HEADER, LEGACY_MAGIC, MAGIC, ArtifactStore
from tests.conftest import copy_cache

ROOT = Path(__file__).resolve().parents[2]
FAST = AnalysisSettings(n_splits=2, baselines=())
SOURCE = DataSource(demo_size=300, seed=5)
TIMEOUT = 120.0  # seconds a child may take to reach a stage (generous for a busy machine)

# A child that runs load_or_train on SOURCE and prints every progress message. With a stage,
# it stops at the first message starting with it until the file `go` exists.
TRAIN = """
import pathlib, sys, time
from analytics.offers import load_catalogue
from analytics.pipeline import AnalysisSettings
from analytics.runner import DataSource, load_or_train
cache, stage, go, offers = sys.argv[1:5]

def progress(message):
    print(message, flush=True)
    if stage and message.startswith(stage):
        deadline = time.monotonic() + 120
        while not pathlib.Path(go).exists() and time.monotonic() < deadline:
            time.sleep(0.02)

catalogue = load_catalogue(offers) if offers else None
analysis, cached = load_or_train(DataSource(demo_size=300, seed=5),
                                 AnalysisSettings(n_splits=2, baselines=()), cache_dir=cache,
                                 progress=progress, catalogue=catalogue)
print(f"RESULT cached={cached} n={len(analysis.customers)}", flush=True)
"""


class Payload:
    """Unpickling this runs code: it creates `marker`."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"import pathlib; pathlib.Path({self.marker!r}).touch()",))


class Child:
    """A Python subprocess on the repository whose output can be awaited line by line."""

    def __init__(self, script: str, *args: str, preexec_fn=None) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-c", script, *args], cwd=ROOT, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, preexec_fn=preexec_fn)
        self.output = ""

    def wait_for(self, text: str, timeout: float = TIMEOUT) -> str:
        """The output up to the first line containing `text` (AssertionError on timeout/exit)."""
        selector = selectors.DefaultSelector()
        selector.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        try:
            while text not in self.output:
                left = deadline - time.monotonic()
                assert left > 0, f"timed out waiting for {text!r}:\n{self.output}"
                if selector.select(left):
                    chunk = os.read(self.proc.stdout.fileno(), 65536)
                    assert chunk, f"exited before {text!r}:\n{self.output}"
                    self.output += chunk.decode(errors="replace")
        finally:
            selector.close()
        return self.output

    def finish(self, timeout: float = TIMEOUT) -> str:
        rest, _ = self.proc.communicate(timeout=timeout)
        self.output += rest.decode(errors="replace")
        assert self.proc.returncode == 0, self.output
        return self.output

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


@pytest.fixture
def spawn():
    children = []

    def start(script: str, *args: str, **kwargs) -> Child:
        children.append(Child(script, *args, **kwargs))
        return children[-1]

    yield start
    for child in children:
        child.kill()
        for stream in (child.proc.stdin, child.proc.stdout):
            stream.close()


@pytest.fixture(scope="module")
def trained_cache(tmp_path_factory) -> Path:
    """A cache (and its key, beside it) holding SOURCE's analysis, trained once."""
    cache = tmp_path_factory.mktemp("trained") / "cache"
    _train(cache)
    return cache


@pytest.fixture
def warm(trained_cache, tmp_path) -> Path:
    """A copy of `trained_cache` for one test: a server that has run before."""
    cache = tmp_path / "cache"
    return copy_cache(trained_cache, cache)


def _entry(cache: Path) -> Path:
    return ArtifactStore(cache).path(cache_key(SOURCE, FAST))


def _train(cache, messages=None):
    return load_or_train(SOURCE, FAST, cache_dir=cache,
                         progress=(messages.append if messages is not None else lambda m: None))


def _trained(messages) -> bool:
    return any(m.startswith("cross-validation fold") for m in messages)


# --- entries that must not be served --------------------------------------------------------

def _unsigned(body: bytes) -> bytes:
    return MAGIC + hashlib.sha256(body).hexdigest().encode() + b"0" * 64 + body


def _legacy(body: bytes) -> bytes:  # exactly the format of the previous version
    return LEGACY_MAGIC + hashlib.sha256(body).hexdigest().encode() + body


def _other_key(payload: Payload, tmp_path: Path) -> bytes:
    """The entry as a store with another key writes it: valid format and checksum."""
    other = ArtifactStore(tmp_path / "other", key_path=tmp_path / "other.key")
    return other.put(cache_key(SOURCE, FAST), payload).read_bytes()


@pytest.mark.parametrize("kind", ["unsigned", "legacy", "other-key"])
def test_a_planted_entry_never_runs_and_is_retrained(warm, tmp_path, kind):
    cache = warm
    marker = tmp_path / "pwned"
    payload = Payload(marker)
    body = pickle.dumps(payload)
    # The test has teeth: unpickling the body does run code.
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(Payload(control)))
    assert control.exists()

    path = _entry(cache)
    blob = {"unsigned": _unsigned, "legacy": _legacy}.get(kind)
    path.write_bytes(blob(body) if blob else _other_key(payload, tmp_path))
    planted = path.read_bytes()
    magic = len(MAGIC)
    start = magic + 64 if kind == "legacy" else HEADER
    assert hashlib.sha256(planted[start:]).hexdigest().encode() == planted[magic:magic + 64]

    messages = []
    analysis, cached = _train(cache, messages)
    assert not marker.exists()
    assert cached is False and len(analysis.customers) == 300 and _trained(messages)
    refusal = [m for m in messages if str(path) in m and "removing it" in m]
    reason = {"legacy": "old unsigned format"}.get(kind, "not signed with this cache's key")
    assert refusal and reason in refusal[0], messages
    assert isinstance(ArtifactStore(cache).get(cache_key(SOURCE, FAST)), ChurnAnalysis)
    assert not marker.exists()


def test_a_planted_entry_on_an_empty_cache_never_runs(tmp_path):
    cache, marker = tmp_path / "cache", tmp_path / "pwned"
    path = _entry(cache)
    path.parent.mkdir(parents=True)
    path.write_bytes(_unsigned(pickle.dumps(Payload(marker))))
    messages = []
    analysis, cached = _train(cache, messages)
    assert not marker.exists() and cached is False and _trained(messages)


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty"])
def test_corrupt_and_truncated_entries_are_rebuilt_and_named(warm, damage):
    cache = warm
    path = _entry(cache)
    blob = path.read_bytes()
    if damage == "flip":
        blob = blob[:-100] + bytes([blob[-100] ^ 0xFF]) + blob[-99:]
    path.write_bytes({"flip": blob, "truncate": blob[:len(blob) // 3], "empty": b""}[damage])
    messages = []
    analysis, cached = _train(cache, messages)
    assert cached is False and len(analysis.customers) == 300 and _trained(messages)
    named = [m for m in messages if str(path) in m and "removing it and rebuilding" in m]
    assert named and ("checksum mismatch" in named[0] or "truncated" in named[0]), messages
    assert _train(cache)[1] is True


def test_an_entry_replaced_by_a_folder_recovers(warm):
    cache = warm
    path = _entry(cache)
    path.unlink()
    (path / "inside").mkdir(parents=True)
    (path / "inside" / "file").write_text("x")
    messages = []
    analysis, cached = _train(cache, messages)
    assert cached is False and len(analysis.customers) == 300 and _trained(messages)
    assert any(str(path) in m and "is a folder" in m for m in messages), messages
    assert path.is_file()
    assert _train(cache)[1] is True


# --- folders that cannot hold a cache -------------------------------------------------------

def test_a_cache_path_under_a_file_trains_without_caching(tmp_path):
    (tmp_path / "passwd").write_text("root:x:0:0\n")
    cache = tmp_path / "passwd" / "x"
    messages = []
    analysis, cached = _train(cache, messages)
    assert cached is False and len(analysis.customers) == 300 and _trained(messages)
    off = [m for m in messages if m.startswith("cache off")]
    assert off and str(cache / "artifacts") in off[0] and "Not a directory" in off[0]
    assert "results will not be cached" in off[0]
    assert not any(m.startswith("cached as") for m in messages)
    assert (tmp_path / "passwd").read_text() == "root:x:0:0\n"


def _drop_file_capabilities() -> None:
    """In the child, before exec: root loses the right to ignore file permissions."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


SCENARIOS = """
import json, sys
from analytics.pipeline import AnalysisSettings
from analytics.runner import DataSource, load_or_train
for name, cache in json.loads(sys.argv[1]).items():
    messages = []
    analysis, cached = load_or_train(DataSource(demo_size=300, seed=5),
                                     AnalysisSettings(n_splits=2, baselines=()),
                                     cache_dir=cache, progress=messages.append)
    print(json.dumps({"name": name, "cached": cached, "n": len(analysis.customers),
                      "messages": messages}), flush=True)
"""


def test_read_only_and_unwritable_caches_still_serve(warm, tmp_path, spawn):
    # `warm` is a complete cache, made read-only below (an image baked at build time).
    empty = tmp_path / "ro-empty"
    empty.mkdir()
    locked = tmp_path / "locked"
    locked.mkdir()
    folders = [warm, warm / "artifacts", empty, locked]
    for folder in folders:
        folder.chmod(0o555)
    for entry in (warm / "artifacts").iterdir():
        entry.chmod(0o444)
    caches = {"read-only": str(empty), "unwritable": str(locked / "cache"),
              "read-only warm": str(warm)}
    preexec = _drop_file_capabilities if os.geteuid() == 0 else None
    try:
        try:
            child = spawn(SCENARIOS, json.dumps(caches), preexec_fn=preexec)
        except subprocess.SubprocessError as exc:
            pytest.skip(f"cannot drop root's file capabilities here: {exc}")
        results = {r["name"]: r for r in map(json.loads, child.finish().splitlines())}
    finally:
        for folder in folders:
            folder.chmod(0o755)
    for name in ("read-only", "unwritable"):
        result = results[name]
        assert result["cached"] is False and result["n"] == 300
        assert _trained(result["messages"])
        off = [m for m in result["messages"] if m.startswith("cache off")]
        assert off and "Permission denied" in off[0], result
        assert "results will not be cached" in off[0]
    assert os.listdir(empty) == [] and os.listdir(locked) == []
    result = results["read-only warm"]
    assert result["cached"] is True and result["n"] == 300, result
    assert any("read-only" in m and "not saved" in m for m in result["messages"])
    assert not _trained(result["messages"])


# --- kill -9 --------------------------------------------------------------------------------

WRITE_BIG = """
import os, sys
from analytics.store import ArtifactStore
store = ArtifactStore(sys.argv[1]).open()
def hang(_fd):
    print("WRITTEN", flush=True)  # the data is in the temporary file, not yet renamed
    sys.stdin.read()
os.fsync = hang
store.put("big", os.urandom(20_000_000))
"""


def test_kill_during_a_cache_write_leaves_no_entry_and_the_temporary_is_swept(tmp_path,
                                                                              spawn):
    cache = tmp_path / "cache"
    child = spawn(WRITE_BIG, str(cache))
    child.wait_for("WRITTEN")
    child.kill()
    store = ArtifactStore(cache)
    assert not store.path("big").exists()
    (temp,) = store.folder.glob(".tmp-*.part")
    assert temp.stat().st_size > 20_000_000
    messages = []
    store = ArtifactStore(cache, log=messages.append).open()  # the next start
    assert not temp.exists() and list(store.folder.glob(".tmp-*")) == []
    assert any(str(temp) in m and "interrupted write" in m for m in messages)
    assert store.get("big") is None


def test_kill_at_a_training_stage_leaves_no_entry_and_the_next_start_caches(tmp_path, spawn):
    cache = tmp_path / "cache"
    child = spawn(TRAIN, str(cache), "cross-validation fold 2", str(tmp_path / "never"), "")
    child.wait_for("cross-validation fold 2")  # it holds the training lock now
    child.kill()
    assert not _entry(cache).exists()
    messages = []
    analysis, cached = _train(cache, messages)  # the dead holder's lock is gone with it
    assert cached is False and _trained(messages)
    assert not any("waiting" in m for m in messages)
    assert any(m.startswith("cached as") for m in messages)
    assert _train(cache)[1] is True


def test_two_processes_on_an_empty_cache_train_once(tmp_path, spawn):
    cache, go = tmp_path / "cache", tmp_path / "go"
    offers = str(ROOT / "data" / "offers.toml")
    first = spawn(TRAIN, str(cache), "cross-validation fold 1", str(go), offers)
    first.wait_for("cross-validation fold 1")  # the first one is training, holding the lock
    second = spawn(TRAIN, str(cache), "", "", offers)
    second.wait_for("another process is training this data; waiting")
    go.touch()
    outputs = [first.finish(), second.finish()]
    assert "RESULT cached=False n=300" in outputs[0]
    assert "RESULT cached=True n=300" in outputs[1]
    trained = ["cross-validation fold" in out for out in outputs]
    assert trained == [True, False], outputs
    assert outputs[0].count("cached as") >= 1
    waited = outputs[1].split("another process is training this data; waiting", 1)[1]
    assert "loaded model, scores and SHAP values from cache" in waited
    # The offers are ranked once too, by whichever process got there first.
    assert sum(out.count("best offer for") for out in outputs) == 1, outputs
