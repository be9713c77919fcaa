"""One GET, the same way through each client library the tests cover."""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import httpx
import requests
import urllib3

LIBRARIES = ("httpx", "httpx-async", "requests", "urllib3", "aiohttp")

FAILURES = (
    httpx.HTTPError,
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
)
"""What the libraries raise when a call fails (the caller sees its library's own errors)."""

REFUSED = {
    "httpx": "httpx.ConnectError",
    "httpx-async": "httpx.ConnectError",
    "requests": "urllib3.exceptions.NewConnectionError",
    "urllib3": "urllib3.exceptions.NewConnectionError",
    "aiohttp": "aiohttp.client_exceptions.ClientConnectorError",
}
"""The ``error.type`` of a call to a port nobody listens on."""

TIMEOUT = {
    "httpx": "httpx.ReadTimeout",
    "httpx-async": "httpx.ReadTimeout",
    "requests": "urllib3.exceptions.ReadTimeoutError",
    "urllib3": "urllib3.exceptions.ReadTimeoutError",
    # asyncio's own TimeoutError until Python 3.11 made it the builtin
    "aiohttp": "TimeoutError" if sys.version_info >= (3, 11) else "asyncio.exceptions.TimeoutError",
}
"""The ``error.type`` of a call whose response does not come in time."""


def get(library: str, url: str, timeout: float = 5.0) -> int:
    """GET ``url`` with ``library``; the response's status (errors raise, as the library does)."""
    if library == "httpx":
        with httpx.Client(timeout=timeout) as client:
            return client.get(url).status_code
    if library == "httpx-async":
        return asyncio.run(_httpx_async(url, timeout))
    if library == "requests":
        with requests.Session() as session:
            return session.get(url, timeout=timeout).status_code
    if library == "urllib3":
        with urllib3.PoolManager(retries=False, timeout=timeout) as pool:
            return int(pool.request("GET", url).status)
    return asyncio.run(_aiohttp(url, timeout))


async def _httpx_async(url: str, timeout: float) -> int:
    async with httpx.AsyncClient(timeout=timeout) as client:
        return (await client.get(url)).status_code


async def _aiohttp(url: str, timeout: float) -> int:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
        session.get(url) as response,
    ):
        await response.read()
        return response.status
