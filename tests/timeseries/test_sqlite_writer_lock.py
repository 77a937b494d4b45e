"""SQLite writers queue on a lock, across threads as across processes, for a bounded time."""

import subprocess
import sys
import threading
import time

import pytest

from fleetwatch.timeseries.backends.sqlite.writer_lock import LockTimeout, WriterLock


def test_a_second_writer_waits_until_the_first_releases(tmp_path):
    first, second = WriterLock(str(tmp_path / "db")), WriterLock(str(tmp_path / "db"))
    first.acquire()
    taken = threading.Event()

    def other():
        second.acquire()
        taken.set()

    thread = threading.Thread(target=other)
    thread.start()
    assert not taken.wait(0.2)  # blocked while the first holds the lock
    released_at = time.perf_counter()
    first.release()
    assert taken.wait(5)
    assert time.perf_counter() - released_at < 0.1  # woken at once, not after a polling sleep
    thread.join()
    second.release()
    first.close()
    second.close()


def test_release_without_acquire_and_in_memory_databases_are_harmless(tmp_path):
    lock = WriterLock(str(tmp_path / "db"))
    lock.release()
    memory = WriterLock(":memory:")
    memory.acquire()
    memory.acquire()  # no file, nothing to wait for
    memory.release()
    lock.close()


def test_waiting_is_bounded_when_another_thread_holds_the_lock(tmp_path):
    holder, waiter = WriterLock(str(tmp_path / "db")), WriterLock(str(tmp_path / "db"), timeout=0.3)
    holder.acquire()
    started = time.monotonic()
    with pytest.raises(LockTimeout, match=r"^another writer held the database for more than 0.3 s$"):
        waiter.acquire()
    assert 0.3 <= time.monotonic() - started < 2
    holder.release()
    waiter.acquire()  # free again: taken at once
    waiter.release()


def test_waiting_is_bounded_when_another_process_holds_the_lock_and_ends_when_it_releases(tmp_path):
    script = (
        "import sys; from fleetwatch.timeseries.backends.sqlite.writer_lock import WriterLock\n"
        "lock = WriterLock(sys.argv[1]); lock.acquire(); print('held', flush=True); sys.stdin.readline()"
    )
    other = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "db")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert other.stdout.readline().strip() == "held"
    waiter = WriterLock(str(tmp_path / "db"), timeout=0.3)
    with pytest.raises(LockTimeout, match=r"^another process held the database for more than 0.3 s$"):
        waiter.acquire()
    waiter.timeout = 10
    taken = threading.Event()
    thread = threading.Thread(target=lambda: (waiter.acquire(), taken.set()))
    thread.start()
    assert not taken.wait(0.2)
    other.communicate("\n", timeout=10)  # the process exits: the kernel releases its lock
    assert taken.wait(5)
    thread.join()
    waiter.close()


def test_a_lock_obtained_after_its_waiter_gave_up_is_given_back(tmp_path):
    """The keeper thread still waits in the kernel after the timeout; when it gets the lock with
    nobody left to hand it to, it releases it, so other processes are not locked out."""
    script = (
        "import sys; from fleetwatch.timeseries.backends.sqlite.writer_lock import WriterLock\n"
        "lock = WriterLock(sys.argv[1], timeout=float(sys.argv[2])); lock.acquire(); print('held', flush=True)"
        "; sys.stdin.readline()"
    )

    def holder(timeout):
        process = subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path / "db"), str(timeout)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        return process, process.stdout.readline().strip()

    first, said = holder(10)
    assert said == "held"
    waiter = WriterLock(str(tmp_path / "db"), timeout=0.2)
    with pytest.raises(LockTimeout):
        waiter.acquire()
    first.communicate("\n", timeout=10)  # released: this process's keeper gets it, then gives it back
    second, said = holder(5)
    assert said == "held"  # another process could take it
    second.communicate("\n", timeout=10)
    waiter.close()
