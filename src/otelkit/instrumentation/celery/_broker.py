"""How long Celery's queues are on a Redis broker: the lists kombu keeps, read in one round trip.

kombu's Redis transport keeps a queue as Redis lists: one named after the queue for priority 0,
and one per other priority step, named ``{queue}{sep}{step}`` (``sep`` is ``"\\x06\\x16"``
unless the ``sep`` transport option changes it; the steps are the ``priority_steps`` option,
0, 3, 6, 9 by default), every key prefixed by the ``global_keyprefix`` option. A queue's length
is the sum of its lists' ``LLEN``. Messages a worker has taken but not acknowledged sit in
kombu's ``unacked`` hash, not in these lists: they are the worker's reserved tasks.

Only Redis (``redis://``, ``rediss://``) is read; other brokers (RabbitMQ, SQS, sentinel) are
not covered. redis-py, which kombu's Redis transport needs anyway, is imported only here, when
a reader is made. The client never retries and waits at most ``timeout`` to connect and to
read, so a broker that is down or unreachable costs a collection one timeout, no more.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["DEFAULT_PRIORITY_STEPS", "DEFAULT_SEP", "RedisQueues", "queue_keys", "redis_queues"]

DEFAULT_SEP = "\x06\x16"
DEFAULT_PRIORITY_STEPS: tuple[int, ...] = (0, 3, 6, 9)
REDIS_TRANSPORTS = frozenset({"redis", "rediss"})


def queue_keys(
    queue: str,
    *,
    sep: str = DEFAULT_SEP,
    steps: Iterable[int] = DEFAULT_PRIORITY_STEPS,
    prefix: str = "",
) -> tuple[str, ...]:
    """The Redis keys of ``queue``'s lists, one per priority step, as kombu names them."""
    keys = (prefix + (f"{queue}{sep}{step}" if step else queue) for step in steps)
    return tuple(dict.fromkeys(keys))


class RedisQueues:
    """Reads the lengths of some queues from one Redis database (``lengths()``).

    ``client_options``: what redis-py's ``Redis`` is made with (host, port, db, credentials,
    TLS); the timeouts and the absence of retries are added here. The client is made on the
    first read and kept (redis-py reconnects by itself after an error).
    """

    def __init__(
        self,
        queues: Iterable[str],
        client_options: Mapping[str, Any],
        *,
        timeout: float,
        sep: str = DEFAULT_SEP,
        steps: Iterable[int] = DEFAULT_PRIORITY_STEPS,
        prefix: str = "",
    ) -> None:
        steps = tuple(steps)
        self.keys = {q: queue_keys(q, sep=sep, steps=steps, prefix=prefix) for q in queues}
        self.timeout = timeout
        self._options = dict(client_options)
        self._client: Any = None
        exceptions = importlib.import_module("redis.exceptions")
        self.errors: tuple[type[BaseException], ...] = (exceptions.RedisError, OSError)
        """What a read raises when the broker is down, slow or refuses (not a bug of ours)."""

    def _connect(self) -> Any:
        redis = importlib.import_module("redis")
        retry = importlib.import_module("redis.retry").Retry
        no_backoff = importlib.import_module("redis.backoff").NoBackoff
        return redis.Redis(
            **self._options,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            retry=retry(no_backoff(), 0),
        )

    def lengths(self) -> dict[str, int]:
        """Each queue's length (0 for one that does not exist); raises one of ``errors``."""
        if self._client is None:
            self._client = self._connect()
        pipeline = self._client.pipeline(transaction=False)
        for keys in self.keys.values():
            for key in keys:
                pipeline.llen(key)
        replies = iter(pipeline.execute())
        return {queue: sum(int(next(replies)) for _ in keys) for queue, keys in self.keys.items()}

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()


def redis_queues(connection: Any, queues: Iterable[str], *, timeout: float) -> RedisQueues | None:
    """A reader for ``queues`` on the broker of a kombu ``Connection``; None when the broker
    is not Redis or redis-py is missing (then nothing is read)."""
    transport = str(getattr(connection, "transport_cls", "") or "").lower()
    if transport not in REDIS_TRANSPORTS or importlib.util.find_spec("redis") is None:
        return None
    options: dict[str, Any] = {
        "host": connection.hostname or "localhost",
        "port": int(connection.port or 6379),
        "db": _database(connection.virtual_host),
        "username": connection.userid or None,
        "password": connection.password or None,
    }
    ssl = connection.ssl
    if transport == "rediss" or ssl:
        options["ssl"] = True
        if isinstance(ssl, dict):
            options.update({k: v for k, v in ssl.items() if str(k).startswith("ssl_")})
    transport_options = dict(connection.transport_options or {})
    return RedisQueues(
        queues,
        options,
        timeout=timeout,
        sep=str(transport_options.get("sep", DEFAULT_SEP)),
        steps=tuple(transport_options.get("priority_steps", DEFAULT_PRIORITY_STEPS)),
        prefix=str(transport_options.get("global_keyprefix", "")),
    )


def _database(virtual_host: object) -> int:
    """The database number of a kombu virtual host (``""``, ``"/"``, ``"3"``, ``"/3"``)."""
    text = str(virtual_host or "").strip("/")
    return int(text) if text else 0
