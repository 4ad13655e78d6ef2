"""The network layer of ``read_link``: connect only to an address that was checked, and finish the
whole fetch (connect, TLS, headers, body, every redirect hop) within one deadline.

httpx resolves and connects in httpcore's network backend; :class:`GuardedBackend` replaces it, so
the host is resolved once, every address it resolves to is checked, and the socket is opened to
that checked address (TLS still verifies the host name). DNS rebinding cannot switch the target
between the check and the connection, and no request is ever sent to an internal address. Each
socket operation gets the time left until the deadline, so a server that trickles its headers a
byte at a time cannot hold a worker past it.
"""

from __future__ import annotations

import time

import httpcore

from twin.core.web.safety import public_addresses


def pinned_address(host: str, port: int) -> str:
    """The address to connect to for ``host``: every address it resolves to must be public."""
    return public_addresses(host, port, refused=f"{host}: it")[0]


class GuardedBackend(httpcore.NetworkBackend):
    """httpcore's synchronous backend, pinned to checked addresses and bounded by ``deadline``
    (a ``time.monotonic()`` value)."""

    def __init__(self, *, deadline: float, allow_private: bool = False):
        self.deadline = deadline
        self.allow_private = allow_private
        self._inner = httpcore.SyncBackend()

    def bounded(self, timeout: float | None, error: type[Exception]) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise error("the deadline for this fetch has passed")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None, socket_options=None
    ) -> httpcore.NetworkStream:
        address = host if self.allow_private else pinned_address(host, port)
        stream = self._inner.connect_tcp(
            address, port, self.bounded(timeout, httpcore.ConnectTimeout), local_address, socket_options
        )
        return DeadlineStream(stream, self)

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options=None):
        raise httpcore.ConnectError("Unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(min(seconds, max(0.0, self.deadline - time.monotonic())))


class DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream, backend: GuardedBackend):
        self._stream = stream
        self._backend = backend

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._backend.bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._backend.bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        stream = self._stream.start_tls(
            ssl_context, server_hostname, self._backend.bounded(timeout, httpcore.ConnectTimeout)
        )
        return DeadlineStream(stream, self._backend)

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


def guarded_transport(*, deadline: float, allow_private: bool):
    """An ``httpx.HTTPTransport`` whose connections go through :class:`GuardedBackend`."""
    import httpx

    transport = httpx.HTTPTransport()
    # httpx has no public hook for the network backend; its connection pool reads this attribute
    # for every new connection
    transport._pool._network_backend = GuardedBackend(deadline=deadline, allow_private=allow_private)
    return transport
