"""The directory a server's processes share: where it is, who made it, which server runs."""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from opentelemetry.sdk.resources import Resource
from opentelemetry.semconv._incubating.attributes.process_attributes import PROCESS_PID
from opentelemetry.semconv.attributes.service_attributes import SERVICE_INSTANCE_ID

GROUP_FILE = "group.id"


# -- the directory ---------------------------------------------------------------------------


def prepare(directory: Path) -> str:
    """Create ``directory`` if needed (mode 0700) and return the group id all processes share.

    Raises OSError when it cannot be created or written.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    group = directory / GROUP_FILE
    with contextlib.suppress(FileNotFoundError):
        return group.read_text().strip()
    candidate = directory / f"{GROUP_FILE}.{os.getpid()}.tmp"
    candidate.write_text(str(uuid.uuid4()))
    try:
        os.link(candidate, group)  # the first process to get here names the group
    except FileExistsError:
        pass
    finally:
        candidate.unlink()
    return group.read_text().strip()


def _start_ticks(pid: int) -> str:
    """When ``pid`` started (Linux clock ticks since boot): tells a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "0"
    return stat.rsplit(")", 1)[1].split()[19]


def automatic_directory(supervisor: int) -> Path:
    """The directory of the server whose processes descend from ``supervisor``.

    Under the temporary directory, one per user; directories of servers that have ended are
    removed when a new one is made.
    """
    base = Path(tempfile.gettempdir()) / f"otelkit-{os.getuid()}"
    base.mkdir(mode=0o700, exist_ok=True)
    info = base.lstat()
    if info.st_uid != os.getuid() or not base.is_dir() or base.is_symlink():
        raise OSError(errno.EPERM, f"{base} belongs to another user or is not a directory")
    name = f"{supervisor}-{_start_ticks(supervisor)}"
    directory = base / name
    if not directory.exists():
        _remove_ended(base, keep=name)
    return directory


def _remove_ended(base: Path, keep: str) -> None:
    for entry in base.iterdir():
        pid_text, _, ticks = entry.name.partition("-")
        if entry.name == keep or not pid_text.isdigit():
            continue
        if _running(int(pid_text), ticks):
            continue
        with contextlib.suppress(OSError):
            for child in entry.iterdir():
                child.unlink()
            entry.rmdir()


def _running(pid: int, ticks: str) -> bool:
    """Whether the server that made a directory still runs (without /proc: its pid exists)."""
    if ticks != "0":
        return _start_ticks(pid) == ticks
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def detect_supervisor() -> int | None:
    """The pid of the pre-fork server this process is a worker of, if it is one.

    gunicorn (any worker class), ``uvicorn --workers`` and Celery's prefork pool. A process
    that configured otelkit and then forks needs no detection: see ``otelkit.runtime._fork``.
    """
    if os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn/") and _in_gunicorn_worker():
        return os.getppid()
    if "uvicorn" in sys.modules and "multiprocessing" in sys.modules:
        import multiprocessing

        parent = multiprocessing.parent_process()
        if parent is not None and parent.pid is not None:
            return parent.pid
    if "billiard" in sys.modules:
        from billiard import process  # type: ignore[import-untyped]

        if process.current_process().name != "MainProcess":
            return os.getppid()
    return None


def _in_gunicorn_worker() -> bool:
    """gunicorn's master and workers share SERVER_SOFTWARE; only a worker runs worker code."""
    marker = f"{os.sep}gunicorn{os.sep}workers{os.sep}"
    frame: Any = sys._getframe(1)
    while frame is not None:
        if marker in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


def group_resource(resource: Resource, group: str) -> Resource:
    """The resource of the whole server: the group's instance id, no single process's pid."""
    attributes = dict(resource.attributes)
    attributes.pop(PROCESS_PID, None)
    attributes[SERVICE_INSTANCE_ID] = group
    return Resource(attributes, resource.schema_url)
