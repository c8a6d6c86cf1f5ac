"""A small on-disk store of analysis results: atomic, checksummed, keyed by fingerprints.

Writes go to a temporary file that is renamed into place only when complete, so an
interrupted run leaves no entry; every read verifies a SHA-256 checksum, so a corrupt or
truncated entry is reported as missing (and removed) instead of being served.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from pathlib import Path

MAGIC = b"CHURNLENS1\n"


def make_key(*parts) -> str:
    """A short stable key from JSON-able parts (data fingerprint, settings, version)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class ArtifactStore:
    """Pickled objects in `root/artifacts/<key>.pkl`, each with a checksum header."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.folder = self.root / "artifacts"

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.pkl"

    def get(self, key: str):
        """The stored object, or None when absent, truncated or corrupt (then it is removed)."""
        path = self.path(key)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            return None
        head = len(MAGIC) + 64
        digest = blob[len(MAGIC):head].decode("ascii", "replace")
        body = blob[head:]
        if not blob.startswith(MAGIC) or hashlib.sha256(body).hexdigest() != digest:
            path.unlink(missing_ok=True)
            return None
        try:
            return pickle.loads(body)
        except Exception:  # an entry written by an incompatible version
            path.unlink(missing_ok=True)
            return None

    def put(self, key: str, value) -> Path:
        """Store `value` atomically under `key`."""
        self.folder.mkdir(parents=True, exist_ok=True)
        body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        digest = hashlib.sha256(body).hexdigest().encode("ascii")
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(MAGIC + digest + body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path(key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.path(key)

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)
