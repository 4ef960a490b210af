"""Just enough of the Kafka wire protocol to ask a broker "are you there, and what do you speak?".

Used for readiness checks and diagnostics, so that no client library (with its own
retries, threads and timeouts) sits between the learner and a clear answer. Two requests:

* ApiVersions v0 (api key 18): the (min, max) version of every request the broker accepts.
* Metadata v4 (api key 3): which brokers the cluster advertises; empty while a broker is fenced.
"""
from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass

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
    size = struct.unpack(">i", _read_exact(sock, 4))[0]
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


def _parse_metadata_v4(data: bytes) -> tuple[list[tuple[int, str, int]], str | None]:
    _throttle, count = struct.unpack_from(">ii", data, 0)
    pos, brokers = 8, []
    for _ in range(count):
        (node,) = struct.unpack_from(">i", data, pos)
        host, pos = _string(data, pos + 4)
        (port,) = struct.unpack_from(">i", data, pos)
        _rack, pos = _string(data, pos + 4)
        brokers.append((node, host or "", port))
    cluster_id, pos = _string(data, pos)
    return brokers, cluster_id


def probe(address: str, timeout: float = 3.0) -> BrokerInfo:
    """Ask the broker at ``host:port`` for its API versions and its brokers.

    Raises OSError/ConnectionError (or ValueError for a malformed address) when nothing
    answers the Kafka protocol there within ``timeout`` seconds.
    """
    host, port = split_address(address)
    t0 = time.monotonic()
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        versions = _parse_api_versions(_request(sock, 18, 0, b"", 1))
        lo, hi = versions.get(3, (0, -1))
        brokers: list[tuple[int, str, int]] = []
        cluster_id = None
        if lo <= 4 <= hi:
            # topics = empty array (no topic details), allow_auto_topic_creation = false
            body = struct.pack(">ib", 0, 0)
            brokers, cluster_id = _parse_metadata_v4(_request(sock, 3, 4, body, 2))
    return BrokerInfo(address, versions, brokers, cluster_id, time.monotonic() - t0)


def is_ready(address: str, timeout: float = 2.0) -> bool:
    """True when a Kafka broker at ``address`` answers and advertises at least one live broker."""
    try:
        return bool(probe(address, timeout).brokers)
    except (OSError, ValueError, struct.error):
        return False
