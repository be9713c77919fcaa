"""gunicorn settings of the pre-fork tests; the command line adds the app, bind address, worker
class, ``--preload`` and ``--max-requests`` where a test wants them.

Four workers, and the ``info`` log level: the tests read gunicorn's "Booting worker with pid"
and "Worker exiting (pid: ...)" lines to know which workers ran.
"""

workers = 4
worker_class = "sync"
preload_app = False
accesslog = None
loglevel = "info"
graceful_timeout = 10
# gunicorn >= 25.1 opens a control socket at one fixed path per user, which servers running
# side by side would share; older versions ignore this unknown setting.
control_socket_disable = True
