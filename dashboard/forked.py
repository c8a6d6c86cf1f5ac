"""Heavy pure-Python work (a whole-list export: 1M customers, ~25 s of one core) run in a
forked child process, so it does not hold the serving process' GIL: every other request of
that worker waited behind it (bench/load.py's export scenario). The child shares the
parent's memory copy-on-write (the analysis is not copied or pickled), runs at a lower
priority (nice 10: users' requests come first), writes its file and exits; the request's
thread waits for it without holding the GIL.

Only work that takes no lock another thread may hold is run this way (the export's rows
are chosen in the parent first; the child formats and writes them). Where fork is not
available, or CHURNLENS_NO_FORK is set, the work runs in the calling thread.
"""

from __future__ import annotations

import os
import signal
import traceback
from collections.abc import Callable

BAD_INPUT, FAILED = 3, 1   # the child's exit codes (0: done)
CHILD_NICE = 10
MESSAGE_BYTES = 4000


def run_forked(work: Callable[[], object]) -> None:
    """work() in a child process; its ValueError (bad input, e.g. too many rows for Excel)
    is raised here as a ValueError, anything else as a RuntimeError."""
    if not hasattr(os, "fork") or os.environ.get("CHURNLENS_NO_FORK"):
        work()
        return
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = FAILED
        try:
            os.close(read)
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT,
                        signal.SIGUSR1, signal.SIGUSR2, signal.SIGWINCH):
                signal.signal(sig, signal.SIG_DFL)   # gunicorn's worker handlers are not ours
            # Users' requests first: the export takes the CPU they leave. (In a process of
            # its own a low priority stalls nobody; a nice thread in a worker held its GIL.)
            os.nice(CHILD_NICE)
            work()
            code = 0
        except ValueError as exc:
            os.write(write, str(exc).encode("utf-8", "replace")[:MESSAGE_BYTES])
            code = BAD_INPUT
        except BaseException:  # noqa: BLE001 - reported to the parent, which raises
            os.write(write, traceback.format_exc().encode("utf-8", "replace")[-MESSAGE_BYTES:])
        finally:
            os._exit(code)
    os.close(write)
    chunks = []
    with os.fdopen(read, "rb") as pipe:
        while chunk := pipe.read(MESSAGE_BYTES):
            chunks.append(chunk)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    message = b"".join(chunks).decode("utf-8", "replace")
    if code == BAD_INPUT:
        raise ValueError(message)
    if code != 0:
        raise RuntimeError(f"the export process ended with {code}: {message[-600:]}")
