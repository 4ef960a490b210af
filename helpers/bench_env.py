"""Which Kafka a benchmark measured, asked of the broker itself (any ``--bootstrap``, embedded or not).

Kafka's protocol has no "what version are you" request, but ApiVersions v3 (KIP-584) carries the
broker's feature ranges: the newest ``metadata.version`` a KRaft broker *supports* is the latest
production level of its software, which names its release line (3.9-IV0 for 3.9.x, 4.1-IV1 for
4.1.x). Levels from Kafka's ``MetadataVersion`` enum (server-common, MetadataVersion.java).
A TLS listener is asked over TLS with the connection's CA (ApiVersions needs no SASL login).
"""
from __future__ import annotations

import socket
import struct

from . import broker, protocol
from .connection import ConnLike, as_connection

_RELEASES = {
    7: "3.3", 8: "3.4", 9: "3.5", 10: "3.5", 11: "3.5", 12: "3.6", 13: "3.6", 14: "3.6", 15: "3.7", 16: "3.7",
    17: "3.7", 18: "3.7", 19: "3.7", 20: "3.8", 21: "3.9", 22: "4.0", 23: "4.0", 24: "4.0", 25: "4.0", 26: "4.1",
    27: "4.1", 28: "4.2", 29: "4.2", 30: "4.3",
}


def _uvarint(data: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def _compact_string(data: bytes, pos: int) -> tuple[str, int]:
    n, pos = _uvarint(data, pos)
    return data[pos:pos + n - 1].decode(), pos + n - 1


def _skip_tags(data: bytes, pos: int) -> int:
    count, pos = _uvarint(data, pos)
    for _ in range(count):
        _tag, pos = _uvarint(data, pos)
        size, pos = _uvarint(data, pos)
        pos += size
    return pos


def features(conn: ConnLike, timeout: float = 5.0) -> dict[str, dict[str, tuple[int, int]]]:
    """``{"supported": {name: (min, max)}, "finalized": {name: (min, max)}}`` from ApiVersions v3, asked of the
    first address of ``conn`` (a Connection: over TLS when it says so; a ``host:port``: plaintext)."""
    c = as_connection(conn)
    host, port = protocol.split_address(c.addresses[0])
    client_id = b"kfp-bench"
    header = struct.pack(">hhih", 18, 3, 7, len(client_id)) + client_id + b"\x00"
    sw = b"kfp"
    body = bytes([len(sw) + 1]) + sw + bytes([2]) + b"1" + b"\x00"
    with socket.create_connection((host, port), timeout=timeout) as raw:
        sock = broker._tls_context(c).wrap_socket(raw, server_hostname=host) if c.tls else raw
        sock.settimeout(timeout)
        msg = header + body
        sock.sendall(struct.pack(">i", len(msg)) + msg)
        size = struct.unpack(">i", protocol._read_exact(sock, 4))[0]
        data = protocol._read_exact(sock, size)
    pos = 4  # correlation id (ApiVersions answers with header v0)
    (error,) = struct.unpack_from(">h", data, pos)
    if error:
        raise ConnectionError(f"ApiVersions v3 error code {error}")
    pos += 2
    n, pos = _uvarint(data, pos)
    for _ in range(n - 1):
        pos = _skip_tags(data, pos + 6)
    pos += 4  # throttle_time_ms
    out: dict[str, dict[str, tuple[int, int]]] = {"supported": {}, "finalized": {}}
    count, pos = _uvarint(data, pos)
    for _ in range(count):
        tag, pos = _uvarint(data, pos)
        size, pos = _uvarint(data, pos)
        end = pos + size
        if tag in (0, 2):
            k, p = _uvarint(data, pos)
            for _ in range(k - 1):
                name, p = _compact_string(data, p)
                a, b = struct.unpack_from(">hh", data, p)
                p = _skip_tags(data, p + 4)
                # supported: (min, max); finalized: (max_level, min_level) on the wire
                out["supported" if tag == 0 else "finalized"][name] = (a, b) if tag == 0 else (b, a)
        pos = end
    return out


def broker_version(conn: ConnLike) -> str:
    """The Kafka release the broker at ``conn`` runs, from the broker, e.g. ``"3.9 (metadata.version 21)"``.

    For the workbook's own broker the exact version it was started with is added (``"3.9.2"``).
    """
    c = as_connection(conn)
    bootstrap, address = c.bootstrap, c.addresses[0]
    try:
        level = features(c)["supported"].get("metadata.version", (0, 0))[1]
    except (OSError, ConnectionError, ValueError, struct.error, IndexError) as exc:
        return f"unknown (ApiVersions v3 failed: {exc})"
    release = _RELEASES.get(level, f"newer than 4.3" if level > 30 else "older than 3.3 or ZooKeeper mode")
    try:
        st = broker.status(int(address.rsplit(":", 1)[1]))
        exact = st.get("version") if st.get("running") and st.get("bootstrap") == bootstrap else None
    except (ValueError, IndexError):
        exact = None
    if exact and str(exact).startswith(release):
        return f"{exact} (broker reports metadata.version level {level}: {release})"
    return f"{release} (broker reports metadata.version level {level})"
