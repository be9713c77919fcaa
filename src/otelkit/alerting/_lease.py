"""Which process of a pre-fork server evaluates the rules: the holder of a lock on one file.

Every process of the server shares a directory (the Prometheus exporter's multiprocess
directory, handed in by the runtime). Each evaluation, a process that does not hold the lease
tries to take it: a POSIX record lock (``fcntl.lockf``) on ``alerts.lease``, without waiting.
The kernel drops the lock when its holder ends, however it ends, so the next process to try
takes over; record locks are not inherited by ``fork()``, so a worker forked from the holder
never holds it by accident. The file holds the holder's pid, for people.
"""

from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["LEASE_FILE", "Lease"]

LEASE_FILE = "alerts.lease"


class Lease:
    """This process's claim on the evaluation of one directory's server."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / LEASE_FILE
        self._fd: int | None = None
        self._pid = os.getpid()

    @property
    def held(self) -> bool:
        return self._fd is not None and self._pid == os.getpid()

    def acquire(self) -> bool:
        """Hold the lease, taking it if it is free; False while another process holds it."""
        if self.held:
            return True
        import fcntl  # POSIX only, like the shared directory itself

        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return False
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        self._fd, self._pid = fd, os.getpid()
        return True

    def release(self) -> None:
        """Let another process take over (closing the file drops the lock)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def after_fork_in_child(self) -> None:
        """The child does not hold its parent's lock; close its copy of the descriptor."""
        self.release()  # record locks are per process: the parent keeps its lease
        self._pid = os.getpid()
