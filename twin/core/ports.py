"""Local TCP ports: pick free ones, check whether one is free or already answers."""

from __future__ import annotations

import socket

LOCAL_HOST = "127.0.0.1"


def port_free(port: int, host: str = LOCAL_HOST, *, reuse_address: bool = False) -> bool:
    """Whether ``port`` can be bound now (``reuse_address``: a port in TIME_WAIT counts as free, as it
    does for servers that set SO_REUSEADDR, such as Postgres)."""
    with socket.socket() as sock:
        if reuse_address:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free right now on 127.0.0.1 (all held open while picking)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind((LOCAL_HOST, 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def free_port() -> int:
    """One port free right now on 127.0.0.1."""
    return free_ports(1)[0]


def port_open(address: str, timeout: float = 1.0) -> bool:
    """Whether something accepts TCP connections at ``host:port``."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or LOCAL_HOST, int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False
