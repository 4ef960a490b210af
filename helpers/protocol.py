"""Just enough of the Kafka wire protocol to ask a broker "are you there, and what do you speak?".

Used for readiness checks and diagnostics, so that no client library (with its own
retries, threads and timeouts) sits between the learner and a clear answer. Two requests:

* ApiVersions v0 (api key 18): the (min, max) version of every request the broker accepts.
* Metadata v4 (api key 3): which brokers the cluster advertises (empty while a broker is fenced), and
  for one topic the leader this broker has on record for each partition.
"""
from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

API_NAMES = {
    0: "Produce", 1: "Fetch", 2: "ListOffsets", 3: "Metadata", 8: "OffsetCommit", 9: "OffsetFetch",
    10: "FindCoordinator", 11: "JoinGroup", 12: "Heartbeat", 13: "LeaveGroup", 14: "SyncGroup",
    18: "ApiVersions", 19: "CreateTopics", 20: "DeleteTopics", 22: "InitProducerId", 68: "ConsumerGroupHeartbeat",
}


@dataclass(frozen=True)
class BrokerInfo:
    """What a broker said about itself."""

    address: str
    api_versions: dict[int, tuple[int, int]]
    brokers: list[tuple[int, str, int]]
    cluster_id: str | None
    seconds: float
    leaders: dict[int, int] = field(default_factory=dict)  # partition -> leader id, for the topic asked about


def split_address(address: str) -> tuple[str, int]:
    """``'host:port'`` to ``(host, port)``; raises ValueError on a malformed address."""
    host, sep, port = address.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"{address!r} is not host:port")
    return host.strip("[]"), int(port)


def _request(sock: socket.socket, api_key: int, version: int, body: bytes, correlation_id: int) -> bytes:
    client_id = b"kfp-probe"
    header = struct.pack(">hhih", api_key, version, correlation_id, len(client_id)) + client_id
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    head = _read_exact(sock, 4)
    if head in (b"HTTP", b"<!DO", b"<htm", b"<HTM"):
        raise ConnectionError("an HTTP server answered, not Kafka (not a Kafka broker?)")
    if head.startswith(b"\x15\x03"):  # a TLS alert: the port speaks TLS
        raise ConnectionError("a TLS server answered: an SSL listener or another TLS service (not a plaintext Kafka broker?)")
    size = struct.unpack(">i", head)[0]
    data = _read_exact(sock, size)
    if struct.unpack(">i", data[:4])[0] != correlation_id:
        raise ConnectionError("answer does not match the request (not a Kafka broker?)")
    return data[4:]


def _read_exact(sock: socket.socket, n: int) -> bytes:
    if n < 0 or n > 64 * 1024 * 1024:
        raise ConnectionError("implausible frame size (not a Kafka broker?)")
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(n - got)
        if not chunk:
            raise ConnectionError("connection closed mid-answer")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _string(data: bytes, pos: int) -> tuple[str | None, int]:
    (length,) = struct.unpack_from(">h", data, pos)
    pos += 2
    if length < 0:
        return None, pos
    return data[pos:pos + length].decode(), pos + length


def _parse_api_versions(data: bytes) -> dict[int, tuple[int, int]]:
    error, count = struct.unpack_from(">hi", data, 0)
    if error:
        raise ConnectionError(f"ApiVersions error code {error}")
    out, pos = {}, 6
    for _ in range(count):
        key, lo, hi = struct.unpack_from(">hhh", data, pos)
        out[key] = (lo, hi)
        pos += 6
    return out


def metadata_body(topic: str | None = None) -> bytes:
    """A Metadata v4 request body: no topics (brokers only) or one topic; never auto-creates."""
    if topic is None:
        return struct.pack(">ib", 0, 0)
    name = topic.encode()
    return struct.pack(">ih", 1, len(name)) + name + struct.pack(">b", 0)


def _int32s(data: bytes, pos: int) -> tuple[list[int], int]:
    (n,) = struct.unpack_from(">i", data, pos)
    return list(struct.unpack_from(f">{max(n, 0)}i", data, pos + 4)), pos + 4 + 4 * max(n, 0)


def _parse_metadata_v4(data: bytes) -> tuple[list[tuple[int, str, int]], str | None, dict[int, int]]:
    """Brokers, cluster id, and ``{partition: leader}`` of the (first) topic in the answer."""
    _throttle, count = struct.unpack_from(">ii", data, 0)
    pos, brokers = 8, []
    for _ in range(count):
        (node,) = struct.unpack_from(">i", data, pos)
        host, pos = _string(data, pos + 4)
        (port,) = struct.unpack_from(">i", data, pos)
        _rack, pos = _string(data, pos + 4)
        brokers.append((node, host or "", port))
    cluster_id, pos = _string(data, pos)
    leaders: dict[int, int] = {}
    _controller, topics = struct.unpack_from(">ii", data, pos)
    pos += 8
    for t in range(topics):
        _err, = struct.unpack_from(">h", data, pos)
        _name, pos = _string(data, pos + 2)
        (parts,) = struct.unpack_from(">i", data, pos + 1)  # after is_internal
        pos += 5
        for _ in range(parts):
            _perr, partition, leader = struct.unpack_from(">hii", data, pos)
            _replicas, pos = _int32s(data, pos + 10)
            _isr, pos = _int32s(data, pos)
            if t == 0:
                leaders[partition] = leader
    return brokers, cluster_id, leaders


def probe(address: str, timeout: float = 3.0, ssl_context: "ssl.SSLContext | None" = None,
          metadata: bool = True, topic: str | None = None) -> BrokerInfo:
    """Ask the broker at ``host:port`` for its API versions and (``metadata``) its brokers, and with
    ``topic`` the leader this very broker records for each of its partitions.

    With ``ssl_context`` the probe speaks TLS (a listener with security.protocol SSL or SASL_SSL).
    Raises OSError/ConnectionError (or ValueError for a malformed address) when nothing
    answers the Kafka protocol there within ``timeout`` seconds.
    """
    host, port = split_address(address)
    t0 = time.monotonic()
    with socket.create_connection((host, port), timeout=timeout) as raw:
        sock = ssl_context.wrap_socket(raw, server_hostname=host) if ssl_context is not None else raw
        sock.settimeout(timeout)
        versions = _parse_api_versions(_request(sock, 18, 0, b"", 1))
        lo, hi = versions.get(3, (0, -1))
        brokers: list[tuple[int, str, int]] = []
        cluster_id = None
        leaders: dict[int, int] = {}
        if metadata and lo <= 4 <= hi:
            brokers, cluster_id, leaders = _parse_metadata_v4(_request(sock, 3, 4, metadata_body(topic), 2))
    return BrokerInfo(address, versions, brokers, cluster_id, time.monotonic() - t0, leaders)


def identify(address: str, timeout: float = 2.0) -> str | None:
    """When something at ``address`` did not answer as Kafka: is it a web server? A one-line finding, or None.

    Many HTTP servers wait for a request line and never answer Kafka's binary request (the
    probe then times out), so this asks in HTTP and looks for an HTTP status line.
    """
    try:
        host, port = split_address(address)
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(f"HEAD / HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            head = sock.recv(64)
    except (OSError, ValueError):
        return None
    if head.startswith(b"HTTP/"):
        status = head.split(b"\r\n", 1)[0].decode(errors="replace")
        return f"an HTTP server answered ({status}), not Kafka (not a Kafka broker?)"
    return None


def is_ready(address: str, timeout: float = 2.0) -> bool:
    """True when a Kafka broker at ``address`` answers and advertises at least one live broker."""
    try:
        return bool(probe(address, timeout).brokers)
    except (OSError, ValueError, struct.error):
        return False
