"""Network probes of ``otelkit doctor``: does the OTLP endpoint answer, who holds a port.

Each probe returns a ``Probe`` (passed or not, and one sentence saying what was seen) and never
raises: a doctor that crashes on the problem it should describe helps nobody. Credentials go
with the request, as the exporter would send them, but never into the sentence.
"""

from __future__ import annotations

import base64
import errno
import os
import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["Probe", "port_holder", "probe_grpc", "probe_http", "probe_port"]

_GRPC_SERVICES = {
    "metrics": "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_H2_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # an empty SETTINGS frame


@dataclass(frozen=True)
class Probe:
    passed: bool
    detail: str
    kind: str = ""
    """Why it failed: ``down`` (nothing answers), ``auth``, ``path``, ``protocol``, ``tls``."""


def _tls_context(certificate: str | None, key: str | None, client_cert: str | None) -> Any:
    context = ssl.create_default_context(cafile=certificate)
    if client_cert and key:
        context.load_cert_chain(client_cert, key)
    return context


def probe_http(
    endpoint: str,
    headers: Mapping[str, str],
    timeout: float,
    certificate: str | None = None,
    client_key: str | None = None,
    client_certificate: str | None = None,
) -> Probe:
    """POST an empty export request (a valid, empty protobuf message) to ``endpoint``.

    Credentials in the URL (``user:password@``) become a Basic ``Authorization`` header, as
    the exporter's HTTP client sends them.
    """
    parts = urlsplit(endpoint)
    sent = {**headers, "Content-Type": "application/x-protobuf"}
    if "@" in parts.netloc:
        userinfo, _, host = parts.netloc.rpartition("@")
        user, _, password = userinfo.partition(":")
        pair = f"{unquote(user)}:{unquote(password)}".encode()
        sent.setdefault("Authorization", "Basic " + base64.b64encode(pair).decode("ascii"))
        endpoint = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    request = urllib.request.Request(endpoint, data=b"", method="POST", headers=sent)
    context = None
    if endpoint.startswith("https:"):
        try:
            context = _tls_context(certificate, client_key, client_certificate)
        except (OSError, ssl.SSLError) as exc:
            return Probe(False, f"the TLS files cannot be used ({exc})", "tls")
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return Probe(True, f"answered HTTP {response.status}")
    except urllib.error.HTTPError as exc:
        status = exc.code
        if status in (401, 403):
            return Probe(False, f"refused the credentials (HTTP {status})", "auth")
        if status in (404, 405):
            return Probe(False, f"answered HTTP {status}: no OTLP receiver at this path", "path")
        if status in (400, 415):
            return Probe(True, f"answered HTTP {status} to an empty request")
        return Probe(False, f"answered HTTP {status}", "protocol")
    except urllib.error.URLError as exc:
        return _network_failure(exc.reason, timeout)
    except (OSError, ValueError) as exc:
        return _network_failure(exc, timeout)


def _network_failure(reason: object, timeout: float) -> Probe:
    if isinstance(reason, ssl.SSLError):
        return Probe(False, f"the TLS handshake failed ({reason.reason or reason})", "tls")
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return Probe(False, f"no answer within {timeout:g} s", "down")
    if isinstance(reason, ConnectionRefusedError):
        return Probe(False, "nothing listens there (connection refused)", "down")
    if isinstance(reason, socket.gaierror):
        return Probe(False, f"the host name does not resolve ({reason.strerror})", "down")
    text = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
    return Probe(False, f"cannot connect ({text})", "down")


def probe_grpc(
    endpoint: str,
    signal: str,
    headers: Mapping[str, str],
    timeout: float,
    insecure: bool | None,
    certificate: str | None = None,
) -> Probe:
    """An empty OTLP ``Export`` call when grpcio is installed, else an HTTP/2 handshake."""
    parts = urlsplit(endpoint)
    plaintext = insecure if insecure is not None else parts.scheme == "http"
    target = parts.netloc.rpartition("@")[2] or parts.path
    try:
        import grpc
    except ImportError:
        return _h2_handshake(target, plaintext, timeout)
    if plaintext:
        channel = grpc.insecure_channel(target)
    else:
        root = None
        if certificate:
            with open(certificate, "rb") as handle:
                root = handle.read()
        channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=root))
    try:
        call = channel.unary_unary(
            _GRPC_SERVICES[signal],
            request_serializer=lambda raw: raw,
            response_deserializer=lambda raw: raw,
        )
        call(b"", timeout=timeout, metadata=tuple(headers.items()))
        return Probe(True, "answered the OTLP Export call")
    except grpc.RpcError as exc:
        code = exc.code() if hasattr(exc, "code") else None
        name = getattr(code, "name", "UNKNOWN")
        if name in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
            return Probe(False, f"refused the credentials (gRPC {name})", "auth")
        if name == "UNIMPLEMENTED":
            return Probe(False, f"answers gRPC but serves no OTLP {signal} service", "path")
        if name == "DEADLINE_EXCEEDED":
            return Probe(False, f"no answer within {timeout:g} s", "down")
        if name == "UNAVAILABLE":
            return Probe(False, "nothing answers gRPC there (unavailable)", "down")
        return Probe(False, f"answered gRPC {name}", "protocol")
    finally:
        channel.close()


def _h2_handshake(target: str, plaintext: bool, timeout: float) -> Probe:
    """TCP connect and the HTTP/2 connection preface; a gRPC server answers with SETTINGS."""
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as raw:
            sock: socket.socket = raw
            if not plaintext:
                context = ssl.create_default_context()
                context.set_alpn_protocols(["h2"])
                sock = context.wrap_socket(raw, server_hostname=host.strip("[]"))
            sock.sendall(_H2_PREFACE + _H2_SETTINGS)
            frame = sock.recv(9)
    except (OSError, ValueError) as exc:
        return _network_failure(exc, timeout)
    if len(frame) == 9 and frame[3] == 0x04:
        return Probe(True, "completed an HTTP/2 handshake (install grpcio for a full check)")
    return Probe(False, "answers, but not with HTTP/2 (is it the http/protobuf port?)", "protocol")


def probe_port(host: str, port: int) -> Probe:
    """Bind ``host:port`` as the listener would; a failure names who holds the port."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        return Probe(False, f"{host!r} does not resolve ({exc.strerror})", "host")
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        if os.name == "posix":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                holder = port_holder(port)
                return Probe(False, f"held by {holder}" if holder else "held by another process")
            return Probe(False, f"cannot listen there ({exc.strerror})", "host")
    return Probe(True, "free")


def port_holder(port: int) -> str | None:
    """``pid 1234 (python -m uvicorn app:app)``: the process listening on ``port``, if found."""
    pids = _pids_from_proc(port) or _pids_from_psutil(port)
    if not pids:
        return None
    return ", ".join(f"pid {pid} ({_command(pid)})" for pid in sorted(pids))


def _pids_from_proc(port: int) -> set[int]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as handle:
                lines = handle.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if (
                len(fields) > 9
                and fields[3] == "0A"
                and int(fields[1].rsplit(":", 1)[1], 16) == port
            ):
                inodes.add(f"socket:[{fields[9]}]")
    pids: set[int] = set()
    if not inodes:
        return pids
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            descriptors = os.listdir(f"/proc/{entry}/fd")
            if any(os.readlink(f"/proc/{entry}/fd/{fd}") in inodes for fd in descriptors):
                pids.add(int(entry))
        except OSError:
            continue
    return pids


def _pids_from_psutil(port: int) -> set[int]:
    try:
        import psutil
    except ImportError:
        return set()
    try:
        connections = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return set()
    return {
        c.pid
        for c in connections
        if c.pid and c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
    }


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            words = [w.decode(errors="replace") for w in handle.read().split(b"\0") if w]
        if words:
            words[0] = os.path.basename(words[0])
            return " ".join(" ".join(words).split())[:120]
    except OSError:
        pass
    try:
        import psutil

        return str(psutil.Process(pid).name())
    except Exception:
        return "unknown command"
