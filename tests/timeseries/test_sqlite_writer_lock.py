"""SQLite writers queue on a kernel file lock, across threads as across processes."""

import threading
import time

from fleetwatch.timeseries.backends.sqlite.writer_lock import WriterLock


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
