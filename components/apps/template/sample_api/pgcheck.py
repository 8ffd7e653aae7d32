"""Readiness check against PostgreSQL with the standard library only.

A TCP connect proves nothing inside the mesh: the Istio sidecar accepts every outbound connection
itself. So the check speaks the wire protocol (v3): startup, password authentication (SCRAM-SHA-256,
md5 or cleartext), `SELECT 1`, terminate. It fails on a wrong host, password or database.
"""
import base64
import hashlib
import hmac
import os
import socket
import struct

PROTOCOL_V3 = 196608


class CheckError(Exception):
    """The database is not usable; the message says why."""


def _message(kind, payload):
    return kind + struct.pack("!I", len(payload) + 4) + payload


def _cstr(value):
    return value.encode("utf-8") + b"\x00"


def _read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise CheckError("connection closed by the server")
        buf += chunk
    return buf


def _read_message(sock):
    header = _read_exact(sock, 5)
    kind, length = header[:1], struct.unpack("!I", header[1:])[0]
    if length < 4 or length > 1 << 20:
        raise CheckError("malformed message from the server")
    return kind, _read_exact(sock, length - 4)


def _error_text(payload):
    fields = {}
    for part in payload.split(b"\x00"):
        if part:
            fields[part[:1]] = part[1:].decode("utf-8", "replace")
    return "%s: %s" % (fields.get(b"C", "?"), fields.get(b"M", "unknown error"))


def scram_client_final(password, client_first_bare, server_first):
    """SCRAM-SHA-256 (RFC 5802/7677): returns (client-final-message, expected server signature)."""
    attrs = dict(part.split("=", 1) for part in server_first.split(","))
    client_nonce = dict(p.split("=", 1) for p in client_first_bare.split(","))["r"]
    if not attrs.get("r", "").startswith(client_nonce):
        raise CheckError("SCRAM: server nonce does not extend the client nonce")
    iterations = int(attrs["i"])
    if iterations < 1:
        raise CheckError("SCRAM: invalid iteration count")
    salted = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), base64.b64decode(attrs["s"]), iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    without_proof = "c=biws,r=" + attrs["r"]
    auth_message = ",".join([client_first_bare, server_first, without_proof]).encode("utf-8")
    signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    server_signature = hmac.new(server_key, auth_message, hashlib.sha256).digest()
    final = without_proof + ",p=" + base64.b64encode(proof).decode("ascii")
    return final, base64.b64encode(server_signature).decode("ascii")


def _authenticate(sock, user, password, payload, state):
    code = struct.unpack("!I", payload[:4])[0]
    if code == 0:  # AuthenticationOk
        return
    if code == 3:  # cleartext
        sock.sendall(_message(b"p", _cstr(password)))
    elif code == 5:  # md5
        inner = hashlib.md5((password + user).encode("utf-8")).hexdigest()
        outer = hashlib.md5(inner.encode("ascii") + payload[4:8]).hexdigest()
        sock.sendall(_message(b"p", _cstr("md5" + outer)))
    elif code == 10:  # SASL: the server lists its mechanisms
        mechanisms = [m.decode() for m in payload[4:].split(b"\x00") if m]
        if "SCRAM-SHA-256" not in mechanisms:
            raise CheckError("no supported SASL mechanism in %s" % mechanisms)
        nonce = base64.b64encode(os.urandom(18)).decode("ascii")
        state["bare"] = "n=,r=" + nonce  # PostgreSQL takes the user from the startup message
        first = ("n,," + state["bare"]).encode("utf-8")
        sock.sendall(_message(b"p", _cstr("SCRAM-SHA-256") + struct.pack("!I", len(first)) + first))
    elif code == 11:  # SASLContinue
        final, state["server_signature"] = scram_client_final(password, state["bare"], payload[4:].decode("utf-8"))
        sock.sendall(_message(b"p", final.encode("utf-8")))
    elif code == 12:  # SASLFinal
        attrs = dict(p.split("=", 1) for p in payload[4:].decode("utf-8").split(","))
        if not hmac.compare_digest(attrs.get("v", ""), state.get("server_signature", "")):
            raise CheckError("SCRAM: the server's signature does not match")
    else:
        raise CheckError("unsupported authentication method %d" % code)


def check(host, port, user, password, database, timeout=2.0):
    """Raises CheckError unless the server authenticates us and answers SELECT 1."""
    try:
        sock = socket.create_connection((host, int(port)), timeout=timeout)
    except OSError as exc:
        raise CheckError("cannot connect to %s:%s: %s" % (host, port, exc)) from exc
    try:
        sock.settimeout(timeout)
        params = b"".join(_cstr(x) for x in ("user", user, "database", database, "application_name", "sample-api-ready"))
        startup = struct.pack("!I", PROTOCOL_V3) + params + b"\x00"
        sock.sendall(struct.pack("!I", len(startup) + 4) + startup)
        state, queried = {}, False
        while True:
            kind, payload = _read_message(sock)
            if kind == b"E":
                raise CheckError(_error_text(payload))
            if kind == b"R":
                _authenticate(sock, user, password, payload, state)
            elif kind == b"Z":
                if queried:
                    sock.sendall(_message(b"X", b""))
                    return
                sock.sendall(_message(b"Q", _cstr("SELECT 1")))
                queried = True
            # S (parameter status), K (backend key), N (notice), T/D/C (query result): nothing to do.
    except socket.timeout as exc:
        raise CheckError("timed out talking to %s:%s" % (host, port)) from exc
    except OSError as exc:
        raise CheckError("connection to %s:%s failed: %s" % (host, port, exc)) from exc
    finally:
        sock.close()
