"""A small on-disk store of analysis results: atomic, signed, checksummed, keyed by fingerprints.

An entry is `MAGIC + SHA-256(body) + HMAC-SHA256(key, MAGIC + name + SHA-256) + body`, the body
a pickle. The HMAC key is a file kept *outside* the cache folder (default `<cache_dir>.key`,
32 random bytes, mode 0600, made on first use), so someone who can write to the cache cannot
make an entry that is loaded: an entry whose signature does not verify is refused before it
is unpickled, logged, removed and rebuilt. A corrupt or truncated entry (checksum mismatch)
is logged, removed and rebuilt the same way.

Writes go to a `.tmp-*.part` file, locked with `flock` while it is written and renamed into
place only when complete, so an interrupted run leaves no entry; a temporary that no live
writer holds (left by a kill -9) is removed when the store opens. `lock(key)` is an advisory
lock per entry, so two processes on one cache compute an entry once.

Problems with the folder or the key never raise out of `open()`: they are logged and leave
the store unusable (`usable` False) or read-only (`writable` False).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import mmap
import os
import pickle
import re
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: no locks; stale temporaries are recognised by age
    fcntl = None

MAGIC = b"CHURNLENS2\n"
LEGACY_MAGIC = b"CHURNLENS1\n"  # unsigned entries of earlier versions: never loaded
DIGEST = 64  # hex characters of a SHA-256
HEADER = len(MAGIC) + 2 * DIGEST
KEY_BYTES = 32
STALE_AFTER = 600.0  # seconds; only used where flock is unavailable
WAITING = "another process is training this data; waiting"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


SPILL_ROWS = 250_000   # a SpillsOne value this long is cached in an entry of its own


class Spill:
    """A large value (an event table's frame, a SHAP matrix) the store keeps in an entry of its own,
    `<key>-<digest>`, loaded on first use (a `Deferred` in its place after `get`). Pickled
    anywhere else it is inline."""

    __slots__ = ("value", "meta")

    def __init__(self, value, meta: dict | None = None) -> None:
        self.value, self.meta = value, dict(meta or {})

    def __reduce__(self):
        return Spill, (self.value, self.meta)


class Deferred:
    """The handle of a spilled value: `load()` reads, verifies and unpickles its entry once
    (thread-safe); `meta` (rows, columns) is known without loading. Copied or pickled
    elsewhere it is the value itself, as a Spill."""

    def __init__(self, store: ArtifactStore, key: str, digest: str, meta: dict) -> None:
        self.store, self.key, self.digest, self.meta = store, key, digest, meta
        self._lock, self._value, self._loaded = threading.Lock(), None, False

    def load(self):
        with self._lock:
            if not self._loaded:
                value = self.store._get(self.key, self.digest.encode("ascii"))
                if value is None:
                    raise CacheUnavailable(f"cache entry {self.store.path(self.key)} is missing "
                                           "or was refused; restart to rebuild the cache")
                self._value, self._loaded = value, True
            return self._value

    def __reduce__(self):
        return Spill, (self.load(), self.meta)

    def __deepcopy__(self, _memo):
        return self


class SpillsOne:
    """A mixin for an object whose attribute `_lazy` may be large: from SPILL_ROWS rows it
    is cached as a Spill (with `_spill_meta(value)`, what is known without loading it), and
    after `get` it is read on first use (`lazy_loaded` tells whether it was)."""

    _lazy = ""

    def _spill_meta(self, value) -> dict:
        return {}

    @property
    def lazy_loaded(self) -> bool:
        return self._lazy in self.__dict__

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        deferred, value = state.pop("_deferred", None), state.get(self._lazy)
        if value is None and deferred is not None:
            state[self._lazy] = deferred
        elif value is not None and len(value) >= SPILL_ROWS:
            state[self._lazy] = Spill(value, self._spill_meta(value))
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        value = state.pop(self._lazy, None)
        self.__dict__.update(state)
        if isinstance(value, Deferred):
            self.__dict__["_deferred"] = value
        else:
            self.__dict__[self._lazy] = value.value if isinstance(value, Spill) else value

    def __getattr__(self, name: str):
        deferred = self.__dict__.get("_deferred")
        if name == self._lazy and deferred is not None:
            value = deferred.load()
            self.__dict__[name] = value
            return value
        raise AttributeError(name)


class _HashingFile:
    """Writes to `handle` and hashes what it wrote (the body of an entry)."""

    def __init__(self, handle) -> None:
        self.handle, self.sha = handle, hashlib.sha256()

    def write(self, data) -> int:
        self.sha.update(data)
        return self.handle.write(data)


def _spilled(key: str, digest: str, meta: dict):
    """Where a spilled part stands in an entry: only the store's own unpickler reads it
    (as a Deferred handle of that part); anywhere else it is refused."""
    raise pickle.UnpicklingError("a spilled cache part is only read through its store")


class _Pickler(pickle.Pickler):
    """Writes each Spill as an entry of its own named by the entry and its digest.

    Through `reducer_override`, which the C pickler does not call for strings, numbers,
    lists, tuples and dicts (a `persistent_id` is called for every object: 23M calls and
    ~5 s for the object columns of a 1M-customer analysis)."""

    def __init__(self, file, store: ArtifactStore, key: str) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.store, self.key = store, key

    def reducer_override(self, obj):
        if type(obj) is Deferred and obj.store.folder == self.store.folder:
            return _spilled, (obj.key, obj.digest, obj.meta)
        if type(obj) is Spill:
            side, digest = self.store._write(obj.value, lambda d: f"{self.key}-{d[:16]}",
                                             self.key)
            return _spilled, (side, digest, obj.meta)
        return NotImplemented


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, store: ArtifactStore) -> None:
        super().__init__(file)
        self.store = store

    def find_class(self, module: str, name: str):
        if module == __name__ and name == _spilled.__name__:
            return self._deferred
        return super().find_class(module, name)

    def _deferred(self, key: str, digest: str, meta: dict) -> Deferred:
        if not isinstance(key, str) or not _NAME.fullmatch(key):
            raise pickle.UnpicklingError(f"bad spilled part name {key!r}")
        return Deferred(self.store, key, digest, meta)


MAP_FROM = 1 << 20  # entries at least this large are mapped, not read


def _read(fd: int) -> bytes | mmap.mmap:
    """An entry's bytes: a large one mapped (its checksum and the unpickler then read the
    page cache directly: 0.2 s less for the 376 MB of a 1M-customer analysis than a copy),
    a small one read."""
    if os.fstat(fd).st_size >= MAP_FROM:
        return mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    with os.fdopen(fd, "rb", closefd=False) as handle:
        return handle.read()


def _close(view: memoryview, blob) -> None:
    """Unmap a mapped entry once loaded (the unpickler copied out what it keeps); a view
    still held somewhere leaves the unmapping to the garbage collector."""
    try:
        view.release()
        if isinstance(blob, mmap.mmap):
            blob.close()
    except BufferError:
        pass


class _Reader(io.RawIOBase):
    """A file over a memoryview, from `start` (the unpickler copies what it keeps)."""

    def __init__(self, view: memoryview, start: int) -> None:
        super().__init__()
        self.view, self.pos = view, start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = max(0, min(len(buffer), len(self.view) - self.pos))
        buffer[:n] = self.view[self.pos:self.pos + n]
        self.pos += n
        return n


def make_key(*parts) -> str:
    """A short stable key from JSON-able parts (data fingerprint, settings, version)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def default_key_path(root: str | Path) -> Path:
    """The signing key beside the cache folder: `<cache_dir>.key` (a sibling, not inside)."""
    root = Path(os.path.abspath(root))
    return root.parent / f"{root.name}.key"


class CacheUnavailable(OSError):
    """The cache cannot be used (the message says why)."""


def _reason(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _quiet(_message: str) -> None:
    pass


class ArtifactStore:
    """Signed pickles in `root/artifacts/<key>.pkl`; the key file lives outside `root`."""

    def __init__(self, root: str | Path, key_path: str | Path | None = None,
                 log: Callable[[str], None] = _quiet, stale_after: float = STALE_AFTER) -> None:
        self.root = Path(root)
        self.folder = self.root / "artifacts"
        self.key_path = Path(key_path) if key_path else default_key_path(self.root)
        self.log = log
        self.stale_after = stale_after
        self.usable = False
        self.writable = False
        self.problem: str | None = None
        self._secret: bytes | None = None
        self._opened = False

    # ----- opening ------------------------------------------------------------------------
    def open(self) -> ArtifactStore:
        """Make the folder, load (or make) the signing key, remove stale temporaries.

        Never raises for an unusable cache: the reason is logged and kept in `problem`."""
        if self._opened:
            return self
        self._opened = True
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            return self._disable(f"cannot create the cache folder {self.folder} "
                                 f"({_reason(exc)})")
        root, key = os.path.realpath(self.root), os.path.realpath(self.key_path)
        if os.path.commonpath([root, key]) == root:
            return self._disable(f"the signing key {self.key_path} is inside the cache folder; "
                                 "it must be kept outside it")
        self.writable = os.access(self.folder, os.W_OK | os.X_OK)
        try:
            self._secret = self._load_key()
        except OSError as exc:
            return self._disable(f"cannot use the cache signing key {self.key_path} "
                                 f"({_reason(exc)})")
        self.usable = True
        if self.writable:
            self._sweep()
        else:
            self.problem = f"the cache folder {self.folder} is read-only"
            self.log(f"{self.problem}: cached results are used, new results are not saved")
        return self

    def _disable(self, problem: str) -> ArtifactStore:
        self.usable = self.writable = False
        self.problem = problem
        self.log(f"cache off: {problem}; results will not be cached")
        return self

    def _ensure_open(self) -> None:
        if not self._opened:
            self.open()

    def _load_key(self) -> bytes:
        try:
            return self._read_key()
        except FileNotFoundError:
            pass
        secret = os.urandom(KEY_BYTES)
        folder = self.key_path.parent
        fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{self.key_path.name}.", suffix=".tmp")
        try:  # mkstemp makes the file 0600; link() publishes it whole or not at all
            with os.fdopen(fd, "wb") as handle:
                handle.write(secret)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(temp, self.key_path)
            except FileExistsError:  # another process made it first: use theirs
                return self._read_key()
            except OSError:  # no hard links on this file system
                fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    handle.write(secret)
        finally:
            try:
                os.unlink(temp)
            except OSError:
                pass
        self.log(f"created the cache signing key {self.key_path} (keep it private)")
        return secret

    def _read_key(self) -> bytes:
        with open(self.key_path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise CacheUnavailable("not a regular file")
            secret = handle.read(4096)
        if len(secret) < KEY_BYTES:
            raise CacheUnavailable(f"{len(secret)} bytes, at least {KEY_BYTES} random bytes "
                                   "are needed; delete it to make a new one")
        if info.st_mode & 0o077:
            self.log(f"warning: other users can access the cache signing key {self.key_path} "
                     "(chmod 600 it)")
        return secret

    def _sweep(self) -> None:
        """Remove `.tmp-*.part` files no live writer holds (left by an interrupted write)."""
        for path in self.folder.glob(".tmp-*.part"):
            try:
                fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
            except OSError:
                continue
            try:
                info = os.fstat(fd)
                if not stat.S_ISREG(info.st_mode):
                    continue
                if fcntl is not None:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except OSError:  # a live writer holds it
                        continue
                elif time.time() - info.st_mtime < self.stale_after:
                    continue
                if os.stat(path, follow_symlinks=False).st_ino != info.st_ino:
                    continue
                os.unlink(path)
                self.log(f"removed {path} ({info.st_size / 1e6:.1f} MB), a partial cache "
                         "entry left by an interrupted write")
            except OSError:
                continue
            finally:
                os.close(fd)

    # ----- entries ------------------------------------------------------------------------
    def path(self, key: str) -> Path:
        if not _NAME.fullmatch(key):
            raise ValueError(f"invalid cache key {key!r}")
        return self.folder / f"{key}.pkl"

    def get(self, key: str):
        """The stored object, or None when absent or refused: an entry that is truncated,
        corrupt, unsigned or signed with another key is logged, removed and never unpickled.
        Its spilled parts (`Spill`) come back as `Deferred` handles, read on first use."""
        return self._get(key)

    def _get(self, key: str, expect: bytes | None = None):
        path = self.path(key)
        self._ensure_open()
        if not self.usable:
            return None
        try:
            fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if os.path.islink(path):
                return self._refuse(path, "is a symbolic link, not a cache file")
            self.log(f"cache entry {path} cannot be read ({_reason(exc)}); rebuilding it")
            return None
        try:
            mode = os.fstat(fd).st_mode
            blob = _read(fd) if stat.S_ISREG(mode) else None
        except (OSError, ValueError) as exc:
            self.log(f"cache entry {path} cannot be read ({_reason(exc)}); rebuilding it")
            return None
        finally:
            os.close(fd)
        if blob is None:
            return self._refuse(path, "is a folder, not a cache file" if stat.S_ISDIR(mode)
                                else "is not a regular file")
        view = memoryview(blob)
        try:
            return self._verified_load(path, key, view, expect)
        finally:
            _close(view, blob)

    def _verified_load(self, path: Path, key: str, blob: memoryview, expect: bytes | None):
        """Unpickle `blob` (an entry's bytes) once its checksum and signature are right."""
        if blob[:len(LEGACY_MAGIC)] == LEGACY_MAGIC:
            return self._refuse(path, "is in the old unsigned format (not loaded)")
        if blob[:len(MAGIC)] != MAGIC or len(blob) < HEADER:
            return self._refuse(path, f"is truncated or not a cache file ({len(blob)} bytes)")
        digest = bytes(blob[len(MAGIC):len(MAGIC) + DIGEST])
        mac = bytes(blob[len(MAGIC) + DIGEST:HEADER])
        if not hmac.compare_digest(hashlib.sha256(blob[HEADER:]).hexdigest().encode(), digest):
            return self._refuse(path, "is corrupt or truncated (checksum mismatch)")
        if not hmac.compare_digest(self._sign(key, digest), mac):
            return self._refuse(path, "is not signed with this cache's key (planted, or "
                                      "written with another key); refused without loading it")
        if expect is not None and not hmac.compare_digest(digest, expect):
            return self._refuse(path, "is not the version its entry refers to")
        try:
            body = io.BufferedReader(_Reader(blob, HEADER), 1 << 20)
            return _Unpickler(body, self).load()
        except Exception as exc:  # signed by us, but by an incompatible version
            return self._refuse(path, f"could not be loaded ({type(exc).__name__}: {exc})")

    def put(self, key: str, value) -> Path:
        """Store `value` atomically under `key` (OSError when the cache cannot be written)."""
        target = self.path(key)   # (refuses a bad key before anything is written)
        self._ensure_open()
        if not self.usable:
            raise CacheUnavailable(self.problem)
        self._write(value, lambda _digest: key, key)
        return target

    def _write(self, value, name: Callable[[str], str], prefix: str) -> tuple[str, str]:
        """Pickle `value` into a temporary (streamed: no copy of the body in memory), then
        sign it as `name(digest)` and rename it into place: (that key, the digest)."""
        fd, temp = self._temp()
        try:
            with os.fdopen(fd, "wb") as handle:  # closing it releases the writer's lock
                handle.write(b"\0" * HEADER)
                body = _HashingFile(handle)
                _Pickler(body, self, prefix).dump(value)
                digest = body.sha.hexdigest()
                key = name(digest)
                target = self.path(key)
                handle.seek(0)
                handle.write(MAGIC + digest.encode("ascii") + self._sign(key, digest.encode()))
                handle.flush()
                os.fsync(handle.fileno())
                if target.is_dir() and not target.is_symlink():  # a folder in the way
                    self._remove(target)
                os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return key, digest

    def try_put(self, key: str, value) -> Path | None:
        """`put`, but a cache that cannot be written is logged (None), not raised."""
        self._ensure_open()
        if not (self.usable and self.writable):
            return None
        try:
            return self.put(key, value)
        except OSError as exc:
            self.log(f"could not save cache entry {self.path(key)} ({_reason(exc)}); "
                     "continuing without caching it")
            return None

    def delete(self, key: str) -> None:
        """Remove the entry, its spilled parts and its files."""
        self.path(key).unlink(missing_ok=True)
        for side in self.folder.glob(f"{key}-*.pkl"):
            side.unlink(missing_ok=True)
        shutil.rmtree(self.files(key, create=False), ignore_errors=True)

    def files(self, key: str, create: bool = True) -> Path:
        """The folder of the files an entry refers to (an analysis' event tables in Parquet,
        analytics/data/streamed.py), emptied when created: whoever builds the entry holds its
        lock."""
        path = self.folder / f"{self.path(key).stem}.files"
        if create:
            shutil.rmtree(path, ignore_errors=True)
            path.mkdir(parents=True)
        return path

    @contextmanager
    def lock(self, key: str, waiting: str = WAITING) -> Iterator[bool]:
        """Hold the advisory lock of `key` (logging `waiting` when another process has it).

        Yields False, without locking, when the cache cannot be written or has no locks. A
        crashed holder releases the lock with its last file descriptor (flock semantics)."""
        path = self.path(key).with_suffix(".lock")
        self._ensure_open()
        fd = None
        if fcntl is not None and self.usable and self.writable:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    self.log(waiting)
                    fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as exc:
                self.log(f"cache lock {path} unavailable ({_reason(exc)}); not coordinating "
                         "with other processes")
                if fd is not None:
                    os.close(fd)
                fd = None
        try:
            yield fd is not None
        finally:
            if fd is not None:
                os.close(fd)

    # ----- helpers ------------------------------------------------------------------------
    def _sign(self, key: str, digest: bytes) -> bytes:
        message = MAGIC + key.encode("ascii") + b"\n" + digest
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest().encode("ascii")

    def _temp(self) -> tuple[int, str]:
        """A new `.tmp-*.part` file, flock-ed so a sweep of another process leaves it alone."""
        for _ in range(8):
            fd, temp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".part")
            if fcntl is None:
                return fd, temp
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # a sweep is removing it this very moment
                os.close(fd)
                continue
            except OSError:  # no locks on this file system
                return fd, temp
            try:
                if os.stat(temp).st_ino == os.fstat(fd).st_ino:
                    return fd, temp
            except FileNotFoundError:  # a sweep removed it before we locked it
                pass
            os.close(fd)
        raise CacheUnavailable(f"could not create a temporary file in {self.folder}")

    def _refuse(self, path: Path, why: str) -> None:
        self.log(f"cache entry {path} {why}; removing it and rebuilding")
        self._remove(path)
        return None

    def _remove(self, path: Path) -> None:
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        except OSError as exc:
            self.log(f"could not remove {path} ({_reason(exc)})")
