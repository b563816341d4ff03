"""This process's TCP sockets as the kernel sees them (``/proc/self/fd``), to check their options from outside
the code that made them: the server side of a connection in an in-process server, a client's own socket."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator

TCP_CORK = getattr(socket, "TCP_CORK", 3)  # linux/tcp.h


@contextlib.contextmanager
def tcp_sockets(wanted: Callable[[socket.socket], bool]) -> Iterator[list[socket.socket]]:
    """Duplicates of this process's connected TCP sockets for which ``wanted(sock)`` is true (closed after)."""
    found: list[socket.socket] = []
    for fd in map(int, os.listdir("/proc/self/fd")):
        try:
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue  # not a socket (or already closed)
        try:
            keep = (sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM
                    and wanted(sock))
        except OSError:
            keep = False  # not connected
        if keep:
            found.append(sock)
        else:
            sock.close()
    try:
        yield found
    finally:
        for sock in found:
            sock.close()


def option(sock: socket.socket, name: int) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, name)


def nodelay(sock: socket.socket) -> bool:
    return option(sock, socket.TCP_NODELAY) != 0
