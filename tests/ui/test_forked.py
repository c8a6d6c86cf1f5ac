"""dashboard/forked.py: an export's writing runs in a forked child, off the serving
process' GIL; its errors come back as the parent's own."""

from __future__ import annotations

import os
import threading

import pytest

from dashboard.forked import run_forked


def test_the_work_runs_in_another_process_and_its_file_is_there(tmp_path):
    path = tmp_path / "out.txt"
    run_forked(lambda: path.write_text(str(os.getpid())))
    assert int(path.read_text()) != os.getpid()


def test_a_value_error_is_the_parents_value_error():
    def too_many():
        raise ValueError("1,048,577 rows do not fit in an Excel sheet")
    with pytest.raises(ValueError, match="1,048,577 rows do not fit"):
        run_forked(too_many)


def test_any_other_failure_is_a_runtime_error_with_its_traceback():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        run_forked(lambda: 1 / 0)


def test_other_threads_go_on_while_the_child_works(tmp_path):
    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.wait(0.01):
            ticks.append(1)
    thread = threading.Thread(target=tick)
    thread.start()
    try:
        run_forked(lambda: sum(i * i for i in range(3_000_000)))   # ~0.3 s of Python
    finally:
        stop.set()
        thread.join()
    assert len(ticks) >= 10


def test_without_fork_the_work_runs_here(monkeypatch, tmp_path):
    monkeypatch.setenv("CHURNLENS_NO_FORK", "1")
    path = tmp_path / "out.txt"
    run_forked(lambda: path.write_text(str(os.getpid())))
    assert int(path.read_text()) == os.getpid()


def test_the_child_runs_at_a_lower_priority(tmp_path):
    path = tmp_path / "nice.txt"
    run_forked(lambda: path.write_text(str(os.nice(0))))
    assert int(path.read_text()) == os.nice(0) + 10 or int(path.read_text()) == 19
