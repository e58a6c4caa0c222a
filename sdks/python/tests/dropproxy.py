"""A tiny TCP proxy that, for its first ``drop`` requests, forwards the request to the upstream,
waits for the whole answer, and then closes the client's connection without sending it: the
server did the work, the client saw a dropped connection. Later connections are piped through."""

from __future__ import annotations

import socket
import threading
from typing import Optional


def _read_message(sock: socket.socket) -> bytes:
    """One HTTP/1.1 message with a Content-Length (or none) body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class DropProxy:
    def __init__(self, upstream_port: int, drop: int = 1) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.drop = drop
        self.dropped_requests: list[bytes] = []
        self.piped_connections = 0
        self._lock = threading.Lock()
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(16)
        self.port = self._server.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self._server.close()

    def __enter__(self) -> "DropProxy":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _take_drop(self) -> bool:
        with self._lock:
            if self.drop > 0:
                self.drop -= 1
                return True
            return False

    def _handle(self, conn: socket.socket) -> None:
        up: Optional[socket.socket] = None
        try:
            request = _read_message(conn)
            if not request:
                return
            up = socket.create_connection(self.upstream)
            up.sendall(request)
            if self._take_drop():
                self.dropped_requests.append(request)
                _read_message(up)  # the server answered: its work is done
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
                up.close()
                return
            with self._lock:
                self.piped_connections += 1
            threading.Thread(target=self._pipe, args=(up, conn), daemon=True).start()
            self._pipe(conn, up)
        except OSError:
            pass
        finally:
            if up is None:
                conn.close()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                chunk = src.recv(65536)
                if not chunk:
                    break
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
