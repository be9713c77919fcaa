"""gunicorn settings of the end-to-end servers; the command line adds the bind address and app.

No ``preload_app``: the app, and with it ``init_telemetry()``, is loaded in the worker after
the fork, which is where the metrics listener and the exporters must run.
"""

workers = 1
worker_class = "sync"
preload_app = False
accesslog = None
loglevel = "warning"
# gunicorn >= 25.1 opens a control socket at one fixed path per user, which servers running
# side by side would share; older versions ignore this unknown setting.
control_socket_disable = True
