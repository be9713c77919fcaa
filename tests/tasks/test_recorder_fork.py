"""A forked child never waits for a recorder lock that a thread of its parent held at the fork.

Celery's prefork pool forks the worker; each pool process clears the instrumentation's recorder
(``process_init``) and builds its own on its first task, under the recorder's lock. SQLAlchemy's
instrumentation takes its lock to instrument an engine. If a thread of the parent held one of
those locks at the fork, that thread does not exist in the child: without a new lock there, the
child would hang on its first task or engine. Each test runs a program in its own interpreter
(as tests/integration/test_fork.py does): a thread holds the lock, the main thread forks, and
the child does what a pool process does, under a timeout; its exit code says what happened.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.integration

HUNG = 3
"""The child's exit code when its call did not return within the timeout."""

PROGRAM = """
import os, sys, threading
import otelkit

which = sys.argv[1]
if which == "celery":
    from otelkit.instrumentation.celery import _recorder, _worker

    held = _recorder.CURRENT._lock

    def in_child():  # a new pool process, then its first task
        _worker.process_init()
        recorder = _recorder.CURRENT.get()
        return recorder is not None and recorder.owner is telemetry
else:
    import sqlalchemy
    from otelkit.instrumentation.sqlalchemy import _engine

    held = _engine.LOCK

    def in_child():  # a pool process creates its engine
        engine = otelkit.instrument_sqlalchemy(sqlalchemy.create_engine("sqlite://"))
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
        recorder = _engine.CURRENT.get()
        return recorder is not None and recorder.owner is telemetry

telemetry = otelkit.init_telemetry("forker", exporters="memory", instrument="none")
holding, done = threading.Event(), threading.Event()

def hold():
    with held:
        holding.set()
        done.wait()

holder = threading.Thread(target=hold, daemon=True)
holder.start()
holding.wait()
child = os.fork()
if child == 0:
    result = []
    worker = threading.Thread(target=lambda: result.append(in_child()), daemon=True)
    worker.start()
    worker.join(10)
    os._exit(HUNG if worker.is_alive() else 0 if result == [True] else 1)
_, status = os.waitpid(child, 0)
done.set()
holder.join()
telemetry.shutdown()
print(os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
@pytest.mark.parametrize("instrumentation", ["celery", "sqlalchemy"])
def test_a_forked_child_takes_the_recorder_lock_a_parent_thread_held(
    tmp_path: Path, instrumentation: str
) -> None:
    (tmp_path / "program.py").write_text(f"HUNG = {HUNG}\n" + textwrap.dedent(PROGRAM))
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
    environ.update({"OTELKIT_SYSTEM_METRICS": "off", "OTELKIT_ALERTS": "off"})
    done = subprocess.run(
        [sys.executable, "program.py", instrumentation],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    exit_code = int(done.stdout.split()[-1])
    assert exit_code != HUNG, "the child waited for a lock its parent's thread held at the fork"
    assert exit_code == 0
