"""The applications the end-to-end tests serve, each module a small shop with the same routes.

The servers import these modules as top-level names (``shop_fastapi:app``): the tests put this
directory on ``PYTHONPATH``. Every app offers

* ``GET /items/{item_id}`` in its framework's syntax, answering 200;
* ``GET /boom``, which raises ``ValueError`` (the framework answers 500);
* ``GET /status/{code}``, which answers with that status (500 and 503 in the tests);
* ``GET /healthz``, which otelkit leaves unmeasured by default (the readiness probe);
* ``GET /stream`` where noted: three chunks, 100 ms apart.
"""
