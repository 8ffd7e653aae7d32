"""A tiny fake PostgreSQL server for the readiness tests: cleartext or md5 auth, then SELECT 1."""
import hashlib
import socket
import struct
import threading


def _msg(kind, payload):
    return kind + struct.pack("!I", len(payload) + 4) + payload


def _recv_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf


class FakePostgres:
    def __init__(self, password, method="cleartext", user="app"):
        self.password, self.method, self.user = password, method, user
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.port = self.sock.getsockname()[1]
        self.queries = []
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self):
        self.sock.close()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    self._session(conn)
                except (ConnectionError, OSError):
                    pass

    def _read(self, conn):
        header = _recv_exact(conn, 5)
        return header[:1], _recv_exact(conn, struct.unpack("!I", header[1:])[0] - 4)

    def _session(self, conn):
        length = struct.unpack("!I", _recv_exact(conn, 4))[0]
        _recv_exact(conn, length - 4)
        salt = b"\x01\x02\x03\x04"
        if self.method == "md5":
            conn.sendall(_msg(b"R", struct.pack("!I", 5) + salt))
            inner = hashlib.md5((self.password + self.user).encode()).hexdigest()
            expected = "md5" + hashlib.md5(inner.encode() + salt).hexdigest()
        else:
            conn.sendall(_msg(b"R", struct.pack("!I", 3)))
            expected = self.password
        _, payload = self._read(conn)
        if payload.rstrip(b"\x00").decode() != expected:
            conn.sendall(_msg(b"E", b"SFATAL\x00C28P01\x00Mpassword authentication failed\x00\x00"))
            return
        conn.sendall(_msg(b"R", struct.pack("!I", 0)) + _msg(b"S", b"server_version\x0017\x00") + _msg(b"Z", b"I"))
        kind, payload = self._read(conn)
        if kind != b"Q":
            return
        self.queries.append(payload.rstrip(b"\x00").decode())
        conn.sendall(_msg(b"T", b"\x00\x00") + _msg(b"C", b"SELECT 1\x00") + _msg(b"Z", b"I"))
        self._read(conn)  # Terminate
