#!/usr/bin/env python3
"""Readiness probe for the local Kafka broker (stdlib only; used by scripts/kafka.sh).

Does a real Kafka round trip rather than a bare TCP connect: an ApiVersions request, then a
Metadata request, and checks that the answering broker belongs to the expected cluster and lists
the expected node as alive (KRaft only lists registered, unfenced brokers, so this means the
broker has caught up with the metadata log and accepts client requests).

    probe.py HOST PORT [--cluster-id ID] [--node-id N] [--timeout SECONDS]

Exit 0 when ready, 1 otherwise (reason on stderr).
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys

API_METADATA = 3
API_VERSIONS = 18
METADATA_VERSION = (
    4  # lowest version Kafka 4.x still accepts (KIP-896); non-flexible encoding
)
CLIENT_ID = b"boomerang-probe"


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> int:
        value = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(value[0])

    def string(self) -> str | None:
        length = self.take(">h")
        if length < 0:
            return None
        raw = self.data[self.pos : self.pos + length]
        self.pos += length
        return raw.decode()


def _request(
    sock: socket.socket, api_key: int, version: int, correlation_id: int, body: bytes
) -> Reader:
    # Request header v1: api_key, api_version, correlation_id, client_id (nullable string).
    header = (
        struct.pack(">hhih", api_key, version, correlation_id, len(CLIENT_ID))
        + CLIENT_ID
    )
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    size = struct.unpack(">i", _recv_exact(sock, 4))[0]
    reader = Reader(_recv_exact(sock, size))
    got = reader.take(">i")  # response header v0: correlation_id
    if got != correlation_id:
        raise RuntimeError(f"correlation id mismatch: sent {correlation_id}, got {got}")
    return reader


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by broker")
        buf += chunk
    return bytes(buf)


def probe(
    host: str, port: int, cluster_id: str | None, node_id: int | None, timeout: float
) -> str:
    """Return a one-line description of the broker; raise on anything short of ready."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)

        # ApiVersions v0 (always answered, even by brokers that dropped other old versions).
        r = _request(sock, API_VERSIONS, 0, 1, b"")
        error = r.take(">h")
        if error != 0:
            raise RuntimeError(f"ApiVersions error code {error}")
        ranges = {}
        for _ in range(r.take(">i")):
            key, lo, hi = r.take(">h"), r.take(">h"), r.take(">h")
            ranges[key] = (lo, hi)
        lo, hi = ranges.get(API_METADATA, (0, -1))
        if not lo <= METADATA_VERSION <= hi:
            raise RuntimeError(
                f"broker does not accept Metadata v{METADATA_VERSION} (range {lo}..{hi})"
            )

        # Metadata v4: topics = [] (none), allow_auto_topic_creation = false.
        r = _request(sock, API_METADATA, METADATA_VERSION, 2, struct.pack(">ib", 0, 0))
        r.take(">i")  # throttle_time_ms
        brokers = []
        for _ in range(r.take(">i")):
            nid = r.take(">i")
            bhost = r.string()
            bport = r.take(">i")
            r.string()  # rack
            brokers.append((nid, bhost, bport))
        got_cluster = r.string()
        controller = r.take(">i")

    if cluster_id is not None and got_cluster != cluster_id:
        raise RuntimeError(
            f"port {port} answers for cluster {got_cluster!r}, expected {cluster_id!r}"
        )
    if node_id is not None and node_id not in {b[0] for b in brokers}:
        raise RuntimeError(
            f"node {node_id} not yet registered/unfenced (alive brokers: {brokers})"
        )
    if not brokers:
        raise RuntimeError("no alive brokers in metadata yet")
    return f"cluster={got_cluster} brokers={brokers} controller={controller}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("--cluster-id")
    parser.add_argument("--node-id", type=int)
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args(argv)
    try:
        print(probe(args.host, args.port, args.cluster_id, args.node_id, args.timeout))
    except (OSError, RuntimeError, struct.error) as exc:
        print(f"not ready: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
